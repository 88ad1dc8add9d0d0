"""``BlenderRenderer.render_alone`` (the pixels an object covers with every other object hidden) and
the occlusion measured from it, on hand-built scenes: a small sphere right behind a large cube (seen
from CLEVR's camera) is hidden, an object in the open is not; rendering alone leaves the scene's
settings and later renders as they were."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from dig_core.difficulty import occlusion_share
from dig_core.perturbations.base import Difference
from dig_core.render import difference_occlusion

from tests.render_blender.scenes import base_scene, obj

W, H = 96, 64


def _scene(*extra):
    """The base scene's cube 0 (large, at the origin) and green cylinder 2 (in the open), plus ``extra``."""
    s = base_scene(W, H)
    return dataclasses.replace(s, objects=[s.objects[0], s.objects[2], *extra])


def test_an_object_behind_a_cube_is_occluded_and_one_in_the_open_is_not(renderer):
    # the camera looks from (7.48, -6.51) at the origin: (-0.75, 0.55) is just behind the cube
    behind = obj(6, "sphere", "rubber", "gray", "small", -0.75, 0.55)
    scene = _scene(behind)
    full = renderer.render(scene)
    alone = renderer.render_alone(scene, [6, 2, 0])
    assert set(alone) == {6, 2, 0} and all(m.dtype == bool and m.shape == (H, W) for m in alone.values())
    assert alone[6].sum() >= 20 and full.mask(6).sum() <= 2  # covers pixels alone, hidden in the scene
    assert occlusion_share(full.mask(6), alone[6]) > 0.9
    assert occlusion_share(full.mask(2), alone[2]) < 0.05
    assert occlusion_share(full.mask(0), alone[0]) < 0.05
    # the visible pixels lie inside the alone mask (same camera, resolution and first sample)
    assert (full.mask(2) & ~alone[2]).sum() <= 2


def test_difference_occlusion_of_an_add_behind_the_cube(renderer):
    a = _scene()
    b = _scene(obj(6, "sphere", "rubber", "gray", "small", -0.75, 0.55))
    moved = _scene(obj(6, "sphere", "rubber", "gray", "small", -2.2, -1.0))  # in the open, left of the cube
    ra, rb, rm = renderer.render(a), renderer.render(b), renderer.render(moved)
    add = Difference("add", 6, {}, {"shape": "sphere"})
    assert difference_occlusion([add], a, b, ra, rb, renderer)[0] > 0.9
    assert difference_occlusion([add], a, moved, ra, rm, renderer)[0] < 0.05


def test_render_alone_restores_the_scene(renderer):
    scene = _scene(obj(6, "sphere", "rubber", "gray", "small", -0.75, 0.55))
    before = renderer.render(scene)
    c = renderer._scene.cycles
    settings = (c.samples, c.use_denoising, c.max_bounces)
    renderer.render_alone(scene, [6])
    assert (c.samples, c.use_denoising, c.max_bounces) == settings
    assert not any(o.hide_render for o, _ in renderer._objects.values())
    after = renderer.render(scene)
    assert np.array_equal(before.image, after.image) and np.array_equal(before.instances, after.instances)


def test_render_alone_shows_every_object_again_after_an_error(renderer, monkeypatch):
    scene = _scene(obj(6, "sphere", "rubber", "gray", "small", -0.75, 0.55),
                   obj(7, "cube", "metal", "red", "large", 0.8, -0.5))
    with pytest.raises(ValueError, match=r"objects \[9\] are not in the scene"):
        renderer.render_alone(scene, [6, 9])
    assert not any(o.hide_render for o, _ in renderer._objects.values())

    def fails(*args, **kwargs):
        raise RuntimeError("the render failed")

    monkeypatch.setattr(renderer, "_render_cheap", fails)
    with pytest.raises(RuntimeError, match="the render failed"):
        renderer.render_alone(scene, [6, 7])
    assert not any(o.hide_render for o, _ in renderer._objects.values())
