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


def test_paper_preset_gives_a_thinking_backbone_a_thinking_budget():
    """configs/paper.yaml trains Qwen3-VL-*Thinking*: its new-token budget is the one the trl trainer
    warns below (dig_train_trl.trainer.THINKING_NEW_TOKENS), and the prompt keeps room in max_len."""
    from pathlib import Path

    import yaml
    from dig_train_trl.trainer import THINKING_NEW_TOKENS

    p = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "paper.yaml").read_text())["trainer"]["params"]
    assert "Thinking" in p["model"]
    assert p["max_new_tokens"] >= THINKING_NEW_TOKENS and p["max_len"] - p["max_new_tokens"] >= 2048
