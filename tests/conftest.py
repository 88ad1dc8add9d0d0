"""Shared test fixtures for every test package.

- ``tiny_qwen25_vl`` / ``tiny_qwen3_vl``: the folder of a tiny random Qwen2.5-VL / Qwen3-VL built
  locally once per session with :func:`dig_core.tiny_models.build_tiny_vlm` (no hub access; default
  min/max pixels of that function). Tests that use them are skipped where transformers or
  torchvision cannot be imported (the ``dig-core[hf]`` extra).
- The whole session runs with ``HF_HUB_OFFLINE=1``: no test may reach the Hugging Face hub.

Tiny DiG dataset folders (no Blender needed) come from :func:`tests.helpers.write_dig_dataset`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# before anything imports huggingface_hub (it reads the variable at import time)
os.environ["HF_HUB_OFFLINE"] = "1"


def _require_hf() -> None:
    pytest.importorskip("transformers", reason="transformers is not installed (pip install 'dig-core[hf]')")
    try:
        import torchvision  # noqa: F401
        from transformers import AutoProcessor  # noqa: F401
    except Exception as e:  # noqa: BLE001 - a torch/torchvision mismatch raises RuntimeError
        pytest.skip(f"torchvision / transformers' processors cannot be imported ({type(e).__name__}: {e})")


def _tiny(family: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_hf()
    from dig_core.tiny_models import build_tiny_vlm

    return build_tiny_vlm(family, tmp_path_factory.mktemp("tiny-models") / family, seed=0)


@pytest.fixture(scope="session")
def tiny_qwen25_vl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random Qwen2.5-VL (answers in pixels of its resized input; patch 14)."""
    return _tiny("qwen2_5_vl", tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_qwen3_vl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random Qwen3-VL (answers on 0-1000; patch 16)."""
    return _tiny("qwen3_vl", tmp_path_factory)
