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


# -- issue 19: bounds, non-finite numbers, duplicate keys, key names in errors -------------------------
def _problems(*overrides: str, path=None, pm=None, sections=()) -> str:
    with pytest.raises(ConfigError) as e:
        load_config(path, list(overrides), pm=pm, sections=sections)
    return str(e.value)


@pytest.mark.parametrize("override, needle", [
    ("scene.bounds=.nan", "scene.bounds must be a finite number, got nan"),
    ("scene.camera_jitter=-.inf", "scene.camera_jitter must be a finite number, got -inf"),
    ("validity.min_box_change=.nan", "validity.min_box_change must be a finite number, got nan"),
    ("perturbations.weights.color=.nan", "perturbations.weights.color must be a finite number, got nan"),
    ("curriculum.stages[0].max_contrast=.inf", "curriculum.stages[0].max_contrast must be a finite number"),
    ("scene.vocabulary.sizes.small=.nan", "scene.vocabulary.sizes.small must be a finite number"),
    ("generate.threads=-4", "generate.threads must be >= 0 (0 = auto), got -4"),
    ("scene.camera_jitter=-1", "scene.camera_jitter must be >= 0, got -1"),
    ("validity.min_box_change=-1", "validity.min_box_change must be >= 0"),
    ("perturbations.max_attempts=0", "perturbations.max_attempts must be >= 1"),
    ("scene.vocabulary.sizes.small=0", "scene.vocabulary.sizes.small must be a number > 0"),
])
def test_non_finite_numbers_and_negative_counts_name_the_key(override, needle):
    assert needle in _problems(override)


def test_non_finite_plugin_params_name_the_key():
    pm = PluginManager()
    pm.register(FixtureRendererPlugin(), "fixture-renderer")

    @dataclass
    class FloatConfig:
        gain: float = 1.0

    FixtureRenderer.Config, old = FloatConfig, FixtureRenderer.Config
    try:
        with pytest.raises(ConfigError, match=r"renderer.params.gain must be a finite number, got nan"):
            load_config(None, ["renderer.name=fixture-renderer", "renderer.params.gain=.nan"], pm=pm)
    finally:
        FixtureRenderer.Config = old


@pytest.mark.parametrize("overrides, needle", [
    (["scene.width=100000", "scene.height=100000"], "scene.width/height must be <= 8192"),
    (["scene.width=8192", "scene.height=8192"], "scene.width * scene.height must be <= 16777216"),
    (["curriculum.stages[0].pairs=1000000000"], "pairs must be <= 100000, got 1000000000"),
    (["curriculum.stages=[{name: a, pairs: 90000}, {name: b, pairs: 90000}, {name: c, pairs: 90000}, "
      "{name: d, pairs: 90000}, {name: e, pairs: 90000}, {name: f, pairs: 90000}, {name: g, pairs: 90000}, "
      "{name: h, pairs: 90000}, {name: i, pairs: 90000}, {name: j, pairs: 90000}, {name: k, pairs: 90000}, "
      "{name: l, pairs: 90000}]"], "1080000 pairs in all; at most 1000000"),
    (["curriculum.stages[0].k_min=1000000", "curriculum.stages[0].k_max=1000000"],
     "k_max=1000000 edits of distinct objects cannot be made: the floor holds at most"),
    (["curriculum.stages[0].k_max=11", "perturbations.weights.add=0"],
     "a scene has at most scene.max_objects=10 objects and no enabled perturbation adds one"),
    (["scene.max_objects=1000"], "scene.max_objects must be <= 100"),
    (["scene.max_objects=90", "scene.bounds=1"], "scene.max_objects=90: the floor holds at most"),
])
def test_upper_bounds(overrides, needle):
    assert needle in _problems(*overrides)


def test_a_billion_pairs_fail_fast(tmp_path):
    import time

    from tests.helpers import dig

    start = time.monotonic()
    r = dig("generate", "--out", str(tmp_path / "d"), "curriculum.stages[0].pairs=1000000000", "renderer.name=nope")
    assert r.returncode == 2 and "pairs must be <= 100000" in r.stderr and "Traceback" not in r.stderr
    assert time.monotonic() - start < 30  # the process start; planning a billion pairs took minutes
    assert not (tmp_path / "d").exists()


def test_duplicate_yaml_keys_name_file_key_and_both_lines(tmp_path):
    f = tmp_path / "dup.yaml"
    f.write_text("seed: 1\nscene:\n  width: 100\n  height: 80\n  width: 200\n")
    with pytest.raises(ConfigError, match=r"dup.yaml: line 5: duplicate key 'width' \(first on line 3\)"):
        load_config(f)
    with pytest.raises(ConfigError, match=r"duplicate key 'a'"):
        load_config(None, ["scene.vocabulary.colors={a: [1, 2, 3], a: [3, 2, 1]}"])


def test_yaml_alias_bomb_fails_fast(tmp_path):
    import time

    f = tmp_path / "bomb.yaml"
    f.write_text("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi")))
    start = time.monotonic()
    with pytest.raises(ConfigError, match="bomb.yaml: expands to more than 100000 values"):
        load_config(f)
    assert time.monotonic() - start < 2
    f.write_text("curriculum: {stages: [&s {name: a, pairs: 1}, {<<: *s, name: b}]}\n")  # a modest alias works
    assert [st.name for st in load_config(f, sections=()).curriculum.stages] == ["a", "b"]


def test_interpolations_and_bad_keys_are_config_errors():
    assert "seed: cannot resolve its ${...} interpolation: Interpolation key 'nope' not found" in _problems("seed=${nope}")
    assert "Recursive interpolation" in _problems("seed=${seed}")
    assert "Unsupported interpolation type nope" in _problems("seed=${nope:1}")
    assert "'curriculum.stages[x.pairs' is not a valid key" in _problems("curriculum.stages[x.pairs=1")


def test_wrong_type_inside_stages_names_the_key():
    text = _problems("curriculum.stages=[{name: a}, {name: b, pairs: x}]")
    assert "curriculum.stages[1].pairs='x'" in text and "{'name': 'a'}" not in text


def test_plugin_param_errors_name_the_config_file(tmp_path):
    pm = PluginManager()
    pm.register(FixtureRendererPlugin(), "fixture-renderer")
    f = tmp_path / "run.yaml"
    f.write_text("renderer: {name: fixture-renderer, params: {no_such_setting: 1}}\n")
    text = _problems(path=f, pm=pm, sections=("renderer",))
    assert f"{f}: renderer.params: unknown key 'no_such_setting'" in text
    text = _problems("renderer.params.other=2", path=f, pm=pm, sections=("renderer",))
    assert f"{f} + override: renderer.params:" in text
