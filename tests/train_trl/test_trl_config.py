"""dig_train_trl.config: the checks `dig train` runs before anything loads (a bad value names its key,
what is allowed and why)."""

from __future__ import annotations

import pytest

pytest.importorskip("dig_train_trl")

from dig_train_trl.config import TRLConfig, validate  # noqa: E402


def test_temperature_must_be_positive_because_grpo_samples_groups():
    errors = validate(TRLConfig(temperature=0.0))
    assert len(errors) == 1 and errors[0].startswith("temperature must be > 0 (GRPO compares a group of sampled"), errors
    assert "got 0.0" in errors[0]
    errors = validate(TRLConfig(stages={"dig-2": {"temperature": 0}}))
    assert len(errors) == 1 and errors[0].startswith("stages.dig-2: temperature must be > 0 (GRPO"), errors
    assert validate(TRLConfig(temperature=0.7, stages={"dig-2": {"temperature": 1.2}})) == []
