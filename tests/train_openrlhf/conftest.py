"""Fixtures of the OpenRLHF trainer tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _datasets_cache(tmp_path, monkeypatch):
    try:
        import datasets.config
    except ImportError:
        return
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets-cache")
