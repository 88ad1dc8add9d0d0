"""Config: defaults, YAML + key=value overrides, every error reported at once, plugin params."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from dig_core import hookimpl
from dig_core.config import ALL_SECTIONS, instantiate, load_config, to_yaml, uninstalled_plugins
from dig_core.errors import ConfigError
from dig_core.plugins import Plugin, PluginManager, get_plugin_manager
from omegaconf import OmegaConf

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
#: every plugin section but the renderer: what a command that does not render resolves
NO_RENDERER = tuple(s for s in ALL_SECTIONS if s != "renderer")


class FixtureRenderer(Plugin):
    PLUGIN_NAME = "fixture-renderer"

    @dataclass
    class Config:
        samples: int = 1


class FixtureRendererPlugin:
    @hookimpl
    def register_renderers(self):
        return [FixtureRenderer]


def test_defaults_validate_and_resolve():
    cfg = load_config(sections=NO_RENDERER)
    assert cfg.scene.width == 480 and cfg.scene.height == 320
    assert [s.name for s in cfg.curriculum.stages] == ["dig-1", "dig-2", "dig-mix"]
    assert cfg.renderer.name == "blender" and cfg.seed_namespace == ""
    assert "max_objects: 10" in to_yaml(cfg)


def test_yaml_then_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("seed: 3\nscene:\n  max_objects: 5\ncurriculum:\n  stages:\n    - {name: only, k_min: 1, k_max: 2, count_in_prompt: false, pairs: 7}\n")
    cfg = load_config(f, ["scene.max_objects=6", "perturbations.weights.move=0.5"], sections=())
    assert cfg.seed == 3
    assert cfg.scene.max_objects == 6
    assert cfg.perturbations.weights.move == 0.5
    assert len(cfg.curriculum.stages) == 1 and cfg.curriculum.stages[0].pairs == 7


def test_all_errors_reported_at_once(tmp_path):
    pm = PluginManager()
    pm.register(FixtureRendererPlugin(), "fixture-renderer")
    f = tmp_path / "bad.yaml"
    f.write_text("scene:\n  max_objects: lots\n  colour: red\nrenderer:\n  name: povray\n")
    with pytest.raises(ConfigError) as e:
        load_config(f, ["scene.min_objects=0", "nokey=1", "justtext"], pm=pm)
    msgs = e.value.errors
    text = str(e.value)
    assert e.value.exit_code == 2
    assert any(str(f) in m and "max_objects" in m and "lots" in m for m in msgs)
    assert any("unknown key 'scene.colour'" in m and "max_objects" in m for m in msgs)  # lists allowed keys
    assert any("unknown renderer 'povray'" in m and "fixture-renderer" in m for m in msgs)  # lists available ones
    assert any("unknown key 'nokey'" in m for m in msgs)
    assert any("'justtext' is not key=value" in m for m in msgs)
    assert len(msgs) >= 5, text


def test_semantic_errors():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["scene.min_objects=6", "scene.max_objects=3", "perturbations.weights.teleport=1",
                           "curriculum.stages[0].k_max=0", "generate.executor=slurm", "validity.max_resamples=0"],
                    sections=())
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
    pm = PluginManager()
    pm.register(FixtureRendererPlugin(), "fixture-renderer")
    with pytest.raises(ConfigError) as e:
        load_config(None, ["renderer.name=fixture-renderer", "renderer.params.no_such_setting=1",
                           "reward.params.no_such_weight=1"], pm=pm)
    text = str(e.value)
    assert "(2 problems)" in text
    assert "renderer.params: unknown key 'no_such_setting'; allowed here: ['samples']" in text
    assert "reward.params: unknown key 'no_such_weight'" in text
    cfg = load_config(None, ["renderer.name=fixture-renderer", "renderer.params.samples=4"], pm=pm)
    assert instantiate(cfg, "renderer", "renderer", pm).config.samples == 4


def test_sections_resolve_only_what_the_caller_names():
    pm = PluginManager()
    pm.register(FixtureRendererPlugin(), "fixture-renderer")
    bad = ["renderer.name=fixture-renderer", "renderer.params.samples=many", "task.params.coords=inches"]
    with pytest.raises(ConfigError, match=r"\(2 problems\)"):
        load_config(None, bad, pm=pm)
    with pytest.raises(ConfigError) as e:
        load_config(None, bad, pm=pm, sections=("task",))
    assert "coords" in str(e.value) and "renderer" not in str(e.value)
    assert load_config(None, bad, pm=pm, sections=("reward",)).renderer.params.samples == "many"
    with pytest.raises(ValueError, match="unknown config section"):
        load_config(None, [], pm=pm, sections=("renderers",))


def test_uninstalled_plugins_name_the_sections_of_known_packages():
    pm = PluginManager()
    pm.register(FixtureRendererPlugin(), "fixture-renderer")
    cfg = load_config(None, ["renderer.name=kubric", "trainer.name=openrlhf"], pm=pm, validate=False)
    found = uninstalled_plugins(cfg, pm)
    assert ("renderer", "renderer", "renderer", "kubric") in found
    if "openrlhf" not in pm.registries["trainer"]:
        assert ("trainer", "trainer", "trainer", "openrlhf") in found
    OmegaConf.update(cfg, "renderer.name", "fixture-renderer")
    assert [m for m in uninstalled_plugins(cfg, pm) if m[0] == "renderer"] == []
    OmegaConf.update(cfg, "renderer.name", "typo")  # not a DiG package's name: an error, not a note
    assert [m for m in uninstalled_plugins(cfg, pm) if m[0] == "renderer"] == []


def test_instantiate_builds_the_named_plugin():
    cfg = load_config(sections=("curriculum.advance", "trainer"))
    rule = instantiate(cfg, "curriculum.advance", "advance_rule")
    assert type(rule).PLUGIN_NAME == "fixed"
    OmegaConf.update(cfg, "trainer.name", None)
    with pytest.raises(ConfigError, match="trainer.name is not set"):
        instantiate(cfg, "trainer", "trainer")


def _installed_sections(path, pm):
    """The plugin sections of a preset whose plugin is installed here, and the packages missing."""
    missing = uninstalled_plugins(load_config(path, validate=False), pm)
    skip = {section for section, *_ in missing}
    return [s for s in ALL_SECTIONS if s not in skip], sorted({f"{kind} {name}" for *_, kind, name in missing})


@pytest.mark.parametrize("preset", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_shipped_presets_validate(preset):
    """As `dig config show` checks them: every section whose plugin is installed here (the
    renderer, trainer, ... of a DiG package that is absent are the only ones left out)."""
    pm = get_plugin_manager()
    sections, _ = _installed_sections(CONFIGS / preset, pm)
    assert set(ALL_SECTIONS) - set(sections) <= {"renderer", "trainer", "evaluator", "evaluators", "model"}
    cfg = load_config(CONFIGS / preset, pm=pm, sections=sections)
    assert cfg.renderer.name == "blender"


def test_demo_is_the_defaults_and_paper_has_the_paper_stages():
    assert load_config(CONFIGS / "demo.yaml", sections=NO_RENDERER) == load_config(sections=NO_RENDERER)
    paper = load_config(CONFIGS / "paper.yaml", validate=False)
    assert [(s.name, s.pairs) for s in paper.curriculum.stages] == [("dig-1", 1600), ("dig-2", 1600), ("dig-mix", 1600)]


@pytest.mark.parametrize("preset", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_shipped_presets_validate_with_all_their_plugins(preset):
    """Every section, the renderer's params included: runs where the packages a preset names are
    installed (CI's test environment)."""
    pm = get_plugin_manager()
    _, missing = _installed_sections(CONFIGS / preset, pm)
    if missing:
        pytest.skip(f"{preset} names plugins not installed here: {', '.join(missing)}")
    load_config(CONFIGS / preset, pm=pm)
