"""Plugin registration and config validation (no rendering)."""

from __future__ import annotations

import pytest
from dig_core.config import plugin_params
from dig_core.errors import ConfigError
from dig_core.plugins import PluginManager
from dig_render_blender.renderer import BlenderConfig, BlenderRenderer


def test_discovered_through_entry_points():
    pm = PluginManager()  # loads the `dig` entry-point group like the CLI does
    assert pm.get("renderer", "blender") is BlenderRenderer
    info = pm.registries["renderer"]["blender"]
    assert info.package == "dig-render-blender"
    assert info.source == "blender"


def test_process_wide_manager_finds_it():
    from dig_core.plugins import get_plugin_manager

    assert get_plugin_manager().get("renderer", "blender") is BlenderRenderer


def test_zero_samples_is_a_config_error_naming_the_field():
    errors: list[str] = []
    plugin_params(BlenderRenderer, {"samples": 0}, "renderer.params", errors)
    assert errors == ["renderer.params: samples must be >= 1, got 0"]


def test_several_bad_params_are_all_reported():
    errors: list[str] = []
    bad = {"samples": -1, "threads": -2, "filter_width": 0, "denoise_prefilter": "BEST"}
    plugin_params(BlenderRenderer, bad, "renderer.params", errors)
    joined = "\n".join(errors)
    assert len(errors) == 4
    for field in bad:
        assert field in joined


def test_unknown_and_mistyped_params_are_rejected():
    errors: list[str] = []
    plugin_params(BlenderRenderer, {"sample": 8}, "renderer.params", errors)
    assert errors and "sample" in errors[0] and "samples" in errors[0]  # names what is allowed
    errors = []
    plugin_params(BlenderRenderer, {"samples": "many"}, "renderer.params", errors)
    assert errors and "samples" in errors[0]


def test_good_params_give_a_config_object():
    errors: list[str] = []
    cfg = plugin_params(BlenderRenderer, {"samples": 8, "denoise": False}, "renderer.params", errors)
    assert errors == []
    assert isinstance(cfg, BlenderConfig) and cfg.samples == 8 and cfg.denoise is False


def test_constructor_rejects_bad_config():
    with pytest.raises(ConfigError, match="samples"):
        BlenderRenderer(BlenderConfig(samples=0))
