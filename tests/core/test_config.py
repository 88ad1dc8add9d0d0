"""Config: defaults, YAML + key=value overrides, every error reported at once, plugin params."""

from __future__ import annotations

import pytest
from dig_core.config import instantiate, load_config, to_yaml
from dig_core.errors import ConfigError
from omegaconf import OmegaConf


def test_defaults_validate_and_resolve():
    cfg = load_config()
    assert cfg.scene.width == 480 and cfg.scene.height == 320
    assert [s.name for s in cfg.curriculum.stages] == ["dig-1", "dig-2", "dig-mix"]
    assert cfg.renderer.name == "blender"
    assert "max_objects: 10" in to_yaml(cfg)


def test_yaml_then_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("seed: 3\nscene:\n  max_objects: 5\ncurriculum:\n  stages:\n    - {name: only, k_min: 1, k_max: 2, count_in_prompt: false, pairs: 7}\n")
    cfg = load_config(f, ["scene.max_objects=6", "perturbations.weights.move=0.5"])
    assert cfg.seed == 3
    assert cfg.scene.max_objects == 6
    assert cfg.perturbations.weights.move == 0.5
    assert len(cfg.curriculum.stages) == 1 and cfg.curriculum.stages[0].pairs == 7


def test_all_errors_reported_at_once(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("scene:\n  max_objects: lots\n  colour: red\nrenderer:\n  name: povray\n")
    with pytest.raises(ConfigError) as e:
        load_config(f, ["scene.min_objects=0", "nokey=1", "justtext"])
    msgs = e.value.errors
    text = str(e.value)
    assert e.value.exit_code == 2
    assert any(str(f) in m and "max_objects" in m and "lots" in m for m in msgs)
    assert any("unknown key 'scene.colour'" in m and "max_objects" in m for m in msgs)  # lists allowed keys
    assert any("unknown renderer 'povray'" in m and "blender" in m for m in msgs)  # lists available ones
    assert any("unknown key 'nokey'" in m for m in msgs)
    assert any("'justtext' is not key=value" in m for m in msgs)
    assert len(msgs) >= 5, text


def test_semantic_errors():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["scene.min_objects=6", "scene.max_objects=3", "perturbations.weights.teleport=1",
                           "curriculum.stages[0].k_max=0", "generate.executor=slurm", "validity.max_resamples=0"])
    text = str(e.value)
    for needle in ("scene.max_objects (3) must be >= scene.min_objects (6)", "unknown perturbation 'teleport'",
                   "k_min <= k_max", "unknown executor 'slurm'", "available: local, ray", "max_resamples"):
        assert needle in text


def test_bad_yaml_and_missing_file(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text("scene: {max_objects: 3\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_config(f)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    f.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(f)


def test_plugin_params_validated_by_plugin_config():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["renderer.params.no_such_setting=1"])
    assert "renderer.params" in str(e.value) and "no_such_setting" in str(e.value)


def test_instantiate_builds_the_named_plugin():
    cfg = load_config()
    rule = instantiate(cfg, "curriculum.advance", "advance_rule")
    assert type(rule).PLUGIN_NAME == "fixed"
    OmegaConf.update(cfg, "trainer.name", None)
    with pytest.raises(ConfigError, match="trainer.name is not set"):
        instantiate(cfg, "trainer", "trainer")


def test_shipped_presets_validate():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "configs"
    assert load_config(root / "demo.yaml") == load_config()  # demo.yaml is the defaults spelled out
    paper = load_config(root / "paper.yaml")
    assert [(s.name, s.pairs) for s in paper.curriculum.stages] == [("dig-1", 1600), ("dig-2", 1600), ("dig-mix", 1600)]
