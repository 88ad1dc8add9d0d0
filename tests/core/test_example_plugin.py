"""The example third-party plugin (examples/dig-perturb-rotate), installed for real and found through
its entry point; plus plugin registration rules: fixtures, duplicates, misspelt hooks, env lists."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import random
import site
import subprocess
import sys
from pathlib import Path

import pytest
from dig_core import hookimpl
from dig_core.config import SceneConfig, load_config
from dig_core.errors import ConfigError, PluginError, SamplingError
from dig_core.perturbations import ColorChange, Difference, EditContext, Perturbation
from dig_core.plugins import PluginManager, reset_plugin_manager
from dig_core.sampling import build_perturbations, edit_context, sample_edits, sample_scene, vocabulary_from_config
from dig_core.spec import Vocabulary

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dig-perturb-rotate"
BUILTIN_NAMES = ["add", "color", "material", "move", "remove", "shape", "size"]


def _installed() -> bool:
    try:
        md.distribution("dig-perturb-rotate")
        importlib.import_module("dig_perturb_rotate")
    except (md.PackageNotFoundError, ImportError):
        return False
    return True


@pytest.fixture(scope="session")
def rotate_installed():
    """Install the example package into the venv under test (editable, like a user would)."""
    if not _installed():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", str(EXAMPLE)],
            check=True,
        )
        for path in site.getsitepackages():  # pick up the editable install's .pth in this process
            site.addsitedir(path)
        importlib.invalidate_caches()
        assert _installed()
    reset_plugin_manager()
    yield
    reset_plugin_manager()


# -- the example package -------------------------------------------------------------------------------
def test_rotate_is_discovered_through_its_entry_point(rotate_installed):
    pm = PluginManager()
    info = pm.registries["perturbation"]["rotate"]
    assert (info.source, info.package, info.version) == ("rotate", "dig-perturb-rotate", "0.1.0")
    assert info.cls.__module__ == "dig_perturb_rotate.rotate"
    assert pm.available("perturbation") == sorted(BUILTIN_NAMES + ["rotate"])


def test_rotate_config_is_validated(rotate_installed):
    pm = PluginManager()
    cfg = load_config(None, ["perturbations.weights.rotate=1", "perturbations.params.rotate.min_degrees=30"], pm=pm,
                      sections=())
    assert build_perturbations(cfg, pm)["rotate"].config.min_degrees == 30
    with pytest.raises(ConfigError) as e:
        load_config(None, ["perturbations.weights.rotate=1", "perturbations.params.rotate.min_degrees=90"], pm=pm,
                    sections=())
    assert "perturbations.params.rotate: min_degrees must be in (0, 45], got 90" in str(e.value)
    with pytest.raises(ConfigError, match="unknown key 'min_degree'"):
        load_config(None, ["perturbations.params.rotate.min_degree=30"], pm=pm, sections=())


def test_rotate_only_turns_cubes_by_a_visible_angle_end_to_end(rotate_installed):
    pm = PluginManager()
    off = [f"perturbations.weights.{n}=0" for n in BUILTIN_NAMES]
    cfg = load_config(None, off + ["perturbations.weights.rotate=1", "perturbations.params.rotate.min_degrees=25"], pm=pm,
                      sections=())
    perts = build_perturbations(cfg, pm)
    assert list(perts) == ["rotate"]
    vocab = vocabulary_from_config(cfg.scene)
    ctx = edit_context(cfg.scene, vocab)
    weights = dict(cfg.perturbations.weights)
    made = 0
    for seed in range(20):
        a = sample_scene(SceneConfig(max_restarts=200), vocab, seed)
        cubes = [o for o in a.objects if o.shape == "cube"]
        if not cubes:
            with pytest.raises(SamplingError, match="could not make K=1 edits"):
                sample_edits(a, 1, 1, weights, perts, ctx, random.Random(seed), 20)
            continue
        b, diffs = sample_edits(a, 1, len(cubes), weights, perts, ctx, random.Random(seed), 50)
        made += len(diffs)
        for d in diffs:
            assert d.type == "rotate" and d.before["shape"] == "cube"
            turn = (d.after["rotation"] - d.before["rotation"]) % 90.0
            assert 25 - 1e-3 <= turn <= 65 + 1e-3
            assert {k: v for k, v in d.after.items() if k != "rotation"} == {
                k: v for k, v in d.before.items() if k != "rotation"
            }
            assert b.object(d.object_id).rotation == d.after["rotation"]
    assert made >= 10


def test_rotate_does_not_apply_to_symmetric_shapes(rotate_installed):
    from dig_perturb_rotate import RotateCube

    a = sample_scene(SceneConfig(min_objects=10, max_objects=10, max_restarts=200), Vocabulary.default(), 1)
    ctx = EditContext(Vocabulary.default())
    rot = RotateCube()
    assert {o.shape for o in a.objects} == {"cube", "sphere", "cylinder"}
    for o in a.objects:
        assert rot.applies_to(a, o, ctx) == (o.shape == "cube")
    assert RotateCube.validate_config(RotateCube.Config(min_degrees=0)) != []
    assert RotateCube.validate_config(RotateCube.Config(min_degrees=45)) == []


# -- registration rules (plugins registered from fixtures) ----------------------------------------------
class Twist(Perturbation):
    PLUGIN_NAME = "twist"

    def apply(self, scene, obj, rng, ctx: EditContext):
        new = obj.replace(rotation=(obj.rotation + 45.0) % 360.0)
        return self.checked(scene.with_object(new), Difference("twist", obj.id, obj.attributes(), new.attributes()), ctx)


class TwistPlugin:
    @hookimpl
    def register_perturbations(self):
        return [Twist]


class ShadowsColor:
    class FakeColor(ColorChange):
        pass  # same PLUGIN_NAME "color" as the built-in

    @hookimpl
    def register_perturbations(self):
        return [self.FakeColor]


class Misspelt:
    @hookimpl
    def register_perturbation(self):  # missing "s": matches no hook
        return [Twist]


@pytest.fixture
def pm():
    return PluginManager()


@pytest.fixture
def twist(pm):
    pm.register(TwistPlugin(), "twist-plugin")
    yield pm
    pm.unregister("twist-plugin")


def test_a_registered_plugin_is_usable_and_unregistering_removes_it(twist):
    assert twist.get("perturbation", "twist") is Twist
    assert twist.registries["perturbation"]["twist"].package == "<local>"
    twist.unregister("twist-plugin")
    assert "twist" not in twist.available("perturbation")
    twist.register(TwistPlugin(), "twist-plugin")  # the fixture's teardown unregisters it again


def test_a_registered_plugin_can_be_selected_through_config(twist):
    cfg = load_config(None, ["perturbations.weights.twist=2"], pm=twist, sections=())
    assert isinstance(build_perturbations(cfg, twist)["twist"], Twist)


def test_duplicate_perturbation_names_are_errors(pm):
    pm.register(ShadowsColor(), "shadow")
    with pytest.raises(PluginError) as e:
        pm.registries  # noqa: B018
    text = str(e.value)
    assert "duplicate perturbation name 'color'" in text and "ColorChange" in text and "FakeColor" in text


def test_registering_the_same_plugin_name_twice_is_an_error(twist):
    with pytest.raises(ValueError):
        twist.register(TwistPlugin(), "twist-plugin")


def test_a_misspelt_hook_fails_loudly(pm):
    pm.register(Misspelt(), "misspelt")
    with pytest.raises(PluginError, match="plugin 'misspelt' implements an unknown hook"):
        pm.check()


def test_unknown_names_list_the_available_ones(pm):
    with pytest.raises(PluginError) as e:
        pm.get("perturbation", "twirl")
    assert str(e.value) == "unknown perturbation 'twirl'; available: " + ", ".join(pm.available("perturbation"))
    with pytest.raises(ConfigError, match="unknown perturbation 'twirl'; available: add, color"):
        load_config(None, ["perturbations.weights.twirl=1"], pm=pm, sections=())


def test_disable_list_skips_an_entry_point(rotate_installed, monkeypatch):
    monkeypatch.setenv("DIG_DISABLE_PLUGINS", "rotate")
    assert "rotate" not in PluginManager().available("perturbation")
    monkeypatch.setenv("DIG_DISABLE_PLUGINS", "core-perturbations")
    assert PluginManager().available("perturbation") == ["rotate"]


def test_allow_list_loads_only_the_named_entry_points(rotate_installed, monkeypatch):
    monkeypatch.setenv("DIG_PLUGINS", "core-perturbations")
    pm = PluginManager()
    assert pm.available("perturbation") == BUILTIN_NAMES
    assert pm.pm.get_plugin("core-commands") is None
    monkeypatch.setenv("DIG_PLUGINS", " rotate , core-perturbations ")
    assert PluginManager().available("perturbation") == sorted(BUILTIN_NAMES + ["rotate"])
