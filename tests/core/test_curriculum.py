"""Curriculum: the paper's stages (and configs/paper.yaml), fixed / plateau advance rules, state."""

from __future__ import annotations

from pathlib import Path

import pytest
from dig_core.config import StageConfig, instantiate, load_config
from dig_core.curriculum import (
    PAPER_STAGES,
    CurriculumState,
    FixedAdvance,
    FixedConfig,
    PlateauAdvance,
    PlateauConfig,
    register_advance_rules,
)
from dig_core.errors import ConfigError
from dig_core.plugins import get_plugin_manager

ROOT = Path(__file__).resolve().parents[2]
STAGE = StageConfig("s", 1, 1, True, 10)


def test_paper_stages():
    assert [(s.name, s.k_min, s.k_max, s.count_in_prompt, s.pairs) for s in PAPER_STAGES] == [
        ("dig-1", 1, 1, True, 1600), ("dig-2", 2, 2, True, 1600), ("dig-mix", 1, 4, False, 1600)]


def test_paper_yaml_sets_paper_stages():
    cfg = load_config(ROOT / "configs" / "paper.yaml", sections=("curriculum.advance",))
    assert [StageConfig(**dict(s)) for s in cfg.curriculum.stages] == list(PAPER_STAGES)
    assert cfg.curriculum.advance.name == "fixed"


def test_rules_registered_through_entry_point():
    assert register_advance_rules() == [FixedAdvance, PlateauAdvance]
    pm = get_plugin_manager()
    assert pm.get("advance_rule", "fixed") is FixedAdvance and pm.get("advance_rule", "plateau") is PlateauAdvance


def test_fixed_counts_presentations():
    rule = FixedAdvance(FixedConfig(epochs=1.5))
    assert not rule.should_advance(STAGE, [0.0] * 14)
    assert rule.should_advance(STAGE, [0.0] * 15)


def test_plateau_threshold():
    rule = PlateauAdvance(PlateauConfig(window=3, threshold=0.8, patience=5))
    assert not rule.should_advance(STAGE, [0.9, 0.9])  # no complete window yet
    assert not rule.should_advance(STAGE, [0.5, 0.9, 0.9])
    assert rule.should_advance(STAGE, [0.5, 0.9, 0.9, 0.8, 0.8, 0.8])


def test_plateau_stops_when_not_improving():
    rule = PlateauAdvance(PlateauConfig(window=2, min_delta=0.05, patience=2))
    rising = [0.1, 0.1, 0.3, 0.3, 0.5, 0.5, 0.7, 0.7]
    assert not rule.should_advance(STAGE, rising)
    flat = rising + [0.72, 0.72, 0.7, 0.74]  # two windows, neither beats 0.7 by 0.05
    assert not rule.should_advance(STAGE, flat[:-2])
    assert rule.should_advance(STAGE, flat)


def test_plateau_max_epochs_caps_the_stage():
    rule = PlateauAdvance(PlateauConfig(window=2, max_epochs=1.0))
    assert rule.should_advance(STAGE, [0.1 * i for i in range(10)])


def test_rule_params_validated_through_config():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["curriculum.advance.name=plateau", "curriculum.advance.params.window=0",
                           "curriculum.advance.params.threshold=1.5"],
                    sections=("curriculum.advance",))
    assert "window must be >= 1" in str(e.value) and "threshold must be in [0, 1]" in str(e.value)
    with pytest.raises(ConfigError, match="epochs must be > 0"):
        load_config(None, ["curriculum.advance.params.epochs=0"], sections=("curriculum.advance",))


def test_state_walks_the_stages():
    stages = [StageConfig("a", 1, 1, True, 3), StageConfig("empty", 1, 1, True, 0), StageConfig("b", 2, 2, True, 2)]
    state = CurriculumState(stages, FixedAdvance())
    assert state.stage.name == "a"
    assert not state.record([0.1, 0.2])
    assert state.record(0.3)  # third presentation ends "a"; "empty" is skipped at once
    assert state.stage.name == "b" and state.history == []
    saved = state.state_dict()
    assert state.record([1.0, 1.0, 1.0]) and state.finished and state.stage is None
    assert state.transitions == [3, 3, 5]
    state.load_state_dict(saved)
    assert state.stage.name == "b" and not state.finished


def test_state_from_config_with_plateau():
    cfg = load_config(None, ["curriculum.advance.name=plateau", "curriculum.advance.params.window=2",
                             "curriculum.advance.params.threshold=0.5"], sections=("curriculum.advance",))
    state = CurriculumState.from_config(cfg)
    assert isinstance(state.rule, PlateauAdvance) and state.stage.name == "dig-1"
    state.record([0.6, 0.6])
    assert state.stage.name == "dig-2"
    assert isinstance(instantiate(cfg, "curriculum.advance", "advance_rule"), PlateauAdvance)
