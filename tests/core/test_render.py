"""Core's labelling of renderer output: instance masks -> boxes, validity; renderer registration."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from dig_core import hookimpl
from dig_core.config import instantiate, load_config
from dig_core.errors import ConfigError
from dig_core.perturbations.base import Difference
from dig_core.plugins import get_plugin_manager
from dig_core.render import Renderer, RenderResult, Validity, label_pair, mask_box, visible_objects


def _result(h=20, w=30, objects=(), color=100):
    """objects: (object_id, y0, y1, x0, x1) rectangles painted into image and instance map."""
    img = np.zeros((h, w, 3), np.uint8)
    inst = np.zeros((h, w), np.int32)
    for oid, y0, y1, x0, x1 in objects:
        img[y0:y1, x0:x1] = color + 10 * oid
        inst[y0:y1, x0:x1] = oid + 1
    return RenderResult(img, inst)


def test_mask_box_is_tight_and_exclusive():
    m = np.zeros((10, 12), bool)
    m[2:5, 3:9] = True
    assert mask_box(m) == [3, 2, 9, 5]
    assert mask_box(np.zeros((4, 4), bool)) is None
    m = np.zeros((4, 4), bool)
    m[3, 3] = True
    assert mask_box(m) == [3, 3, 4, 4]


def test_visible_objects_are_every_object_of_the_instance_map_with_its_box_and_pixels():
    # object 2 is painted over part of object 0; object 1 is not in the render at all
    res = _result(objects=((0, 2, 10, 3, 12), (2, 5, 12, 8, 20)))
    assert visible_objects(res) == [{"id": 0, "box": [3, 2, 12, 10], "pixels": 8 * 9 - 5 * 4},
                                    {"id": 2, "box": [8, 5, 20, 12], "pixels": 7 * 12}]
    assert visible_objects(_result()) == []


def test_boxes_union_both_sides_for_attribute_edits():
    a = _result(objects=[(0, 2, 6, 2, 6), (1, 10, 14, 10, 14)])
    b = _result(objects=[(0, 2, 6, 2, 6), (1, 9, 16, 10, 18)], color=180)  # object 1 grew and changed
    diffs, reason = label_pair([Difference("size", 1, {"size": "small"}, {"size": "large"})], a, b, Validity(4, 5.0))
    assert reason is None and diffs[0].box == [10, 9, 18, 16]


def test_remove_uses_a_only_and_add_uses_b_only():
    a = _result(objects=[(0, 2, 6, 2, 6), (1, 10, 14, 10, 14)])
    b = _result(objects=[(1, 10, 14, 10, 14), (2, 15, 19, 20, 28)])
    diffs, reason = label_pair([Difference("remove", 0, {"shape": "cube"}, {}),
                                Difference("add", 2, {}, {"shape": "cube"})], a, b, Validity(4, 5.0))
    assert reason is None
    assert [d.box for d in diffs] == [[2, 2, 6, 6], [20, 15, 28, 19]]


def test_invisible_and_unchanged_edits_are_rejected():
    a = _result(objects=[(0, 2, 4, 2, 4)])
    b = _result(objects=[(0, 2, 4, 2, 4)], color=180)
    _, reason = label_pair([Difference("color", 0, {"color": "red"}, {"color": "blue"})], a, b, Validity(10, 5.0))
    assert reason == "not_visible"  # 4 pixels < 10
    same = _result(objects=[(0, 2, 8, 2, 8)])
    _, reason = label_pair([Difference("color", 0, {"color": "red"}, {"color": "red"})], same, same, Validity(4, 5.0))
    assert reason == "no_change"
    hidden = _result(objects=[(1, 2, 8, 2, 8)])  # object 0 fully occluded in both
    _, reason = label_pair([Difference("color", 0, {"c": 1}, {"c": 2})], hidden, hidden, Validity(1, 0.0))
    assert reason == "not_visible"


class FlatRenderer(Renderer):
    """A renderer registered from a test fixture: draws each object's footprint as a flat square."""

    PLUGIN_NAME = "flat-test"

    @dataclass
    class Config:
        scale: int = 4

    def render(self, scene):
        h, w = scene.height, scene.width
        img = np.zeros((h, w, 3), np.uint8)
        inst = np.zeros((h, w), np.int32)
        for o in scene.objects:
            cx = int((o.position[0] + scene.bounds) / (2 * scene.bounds) * (w - 1))
            cy = int((o.position[1] + scene.bounds) / (2 * scene.bounds) * (h - 1))
            s = self.config.scale
            img[max(cy - s, 0):cy + s, max(cx - s, 0):cx + s] = 200
            inst[max(cy - s, 0):cy + s, max(cx - s, 0):cx + s] = o.id + 1
        return RenderResult(img, inst)


class FlatPlugin:
    @hookimpl
    def register_renderers(self):
        return [FlatRenderer]


@pytest.fixture
def flat():
    pm = get_plugin_manager()
    pm.register(FlatPlugin(), "flat-test-plugin")
    yield
    pm.unregister("flat-test-plugin")


def test_a_registered_renderer_is_selected_and_configured_by_name(flat):
    cfg = load_config(None, ["renderer.name=flat-test", "renderer.params.scale=2"], sections=("renderer",))
    r = instantiate(cfg, "renderer", "renderer")
    assert isinstance(r, FlatRenderer) and r.config.scale == 2
    with pytest.raises(ConfigError, match="renderer.params.*scale"):
        load_config(None, ["renderer.name=flat-test", "renderer.params.scale=big"], sections=("renderer",))
