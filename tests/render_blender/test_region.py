"""``rerender: region``: the crops computed from two specs (hand-made scenes: an object at the image
border, a removed object whose shadow lies outside its box) and the composite against full renders."""

from __future__ import annotations

import numpy as np
import pytest
from dig_core.difficulty import delta_e
from dig_core.render import mask_box
from dig_core.spec import Light, SceneSpec
from dig_render_blender.region import crops, hull_mask, light_corners, mask_crops, project, rects_mask

from tests.render_blender.scenes import VOCAB, base_scene, obj

W, H = 96, 64


def _inside(box, rect) -> bool:
    return rect[0] <= box[0] and rect[1] <= box[1] and box[2] <= rect[2] and box[3] <= rect[3]


def test_hull_mask_fills_the_convex_hull_grown_by_the_margin():
    tri = np.array([[10.0, 10.0], [50.0, 10.0], [10.0, 40.0]])
    m0 = hull_mask(tri, 64, 48, 0)
    assert m0[12, 12] and m0[10, 48] and not m0[38, 48]  # inside, on the top edge, beyond the hypotenuse
    assert not m0[5, 5] and not m0[12, 5]
    m3 = hull_mask(tri, 64, 48, 3)
    assert m3[12, 7] and m3[7, 12] and not m3[12, 4] and (m3 & m0).sum() == m0.sum()
    assert hull_mask(np.array([[-20.0, -20.0], [-10.0, -5.0], [-15.0, -30.0]]), 64, 48, 2).sum() == 0  # off frame


def test_light_corners_span_the_square_facing_the_origin():
    light = Light("key", [6.0, -3.0, 4.0], 400.0, 1.0)
    c = light_corners(light)
    centre = np.asarray(light.location)
    to_origin = -centre / np.linalg.norm(centre)
    assert np.allclose(c.mean(axis=0), centre)
    assert np.allclose(np.linalg.norm(c - centre, axis=1), np.sqrt(0.5))  # half-diagonal of a 1 m square
    assert np.allclose((c - centre) @ to_origin, 0)  # in the plane facing the origin
    assert np.isclose(np.linalg.norm(c[0] - c[1]), 1.0)


def test_mask_crops_cover_the_mask_with_strips_not_a_bounding_box():
    m = np.zeros((128, 128), dtype=bool)
    for y in range(128):  # a long diagonal band, like a shadow
        m[y, max(0, y - 6):y + 6] = True
    rects = mask_crops(m, 4, pad=4)
    cover = rects_mask(rects, 128, 128)
    assert cover[m].all()  # every pixel of the mask is re-rendered
    assert 2 <= len(rects) <= 4 and cover.sum() < 0.5 * 128 * 128  # far less than the bounding box
    two = np.zeros((64, 128), dtype=bool)
    two[10:20, 5:15] = two[12:22, 100:110] = True  # same rows, far apart: two crops
    assert mask_crops(two, 1, pad=4) == [(5, 10, 15, 20), (100, 12, 110, 22)]
    assert mask_crops(np.zeros((32, 32), dtype=bool), 4, pad=4) == []


def test_same_scene_needs_no_crop_and_other_changes_need_a_full_render():
    a = base_scene(W, H)
    assert crops(a, a.copy(), VOCAB) == []
    lit = a.copy()
    lit.lights = [Light(lt.name, lt.location, lt.energy * 2, lt.size) for lt in a.lights]
    assert crops(a, lit, VOCAB) is None  # a light changed: everything may change
    other_seed = a.copy()
    other_seed.seed += 1
    assert crops(a, other_seed, VOCAB) is None
    low = a.copy()
    low.lights = [Light("low", [3.0, 0.0, 0.4], 100.0, 0.5)]  # not above the objects: unbounded shadow
    assert crops(low, low.without_object(0), VOCAB) is None


def test_color_edit_crop_is_smaller_than_a_move(renderer):
    a = base_scene(W, H)
    o = a.object(2)
    recolored = crops(a, a.with_object(o.replace(color="gray")), VOCAB)
    moved = crops(a, a.with_object(o.replace(position=[1.5, -2.2, o.position[2]])), VOCAB)
    area = [rects_mask(r, W, H).sum() for r in (recolored, moved)]
    assert 0 < area[0] < area[1]


def test_projection_holds_every_rendered_object(renderer):
    """Each object's rendered mask lies inside the projection of its box (the camera model is Blender's)."""
    from dig_render_blender.region import _box_corners

    s = base_scene(W, H)
    res = renderer.render(s)
    for o in s.objects:
        px = project(s.camera, W, H, _box_corners(o, VOCAB))
        box = mask_box(res.mask(o.id))
        assert box is not None
        assert px[:, 0].min() - 1 <= box[0] and box[2] <= px[:, 0].max() + 1
        assert px[:, 1].min() - 1 <= box[1] and box[3] <= px[:, 1].max() + 1
        # and not wildly larger: the box is at most ~3x the mask's extent
        assert px[:, 0].max() - px[:, 0].min() < 3 * (box[2] - box[0]) + 4


def _pair(renderer_cfg: dict, a: SceneSpec, b: SceneSpec):
    from dig_render_blender.renderer import BlenderConfig, BlenderRenderer

    r = BlenderRenderer(BlenderConfig(samples=4, **renderer_cfg))
    r.setup(VOCAB, 2)
    try:
        ra, rb = r.render_pair(a, b)
        return ra, rb, r.last_crops
    finally:
        r.close()


def _check_composite(a: SceneSpec, b: SceneSpec, max_bad: float = 0.002):
    """Region composite vs a full render of B: identical instance map, I_a outside the crops, dE small."""
    fa, fb, _ = _pair({"rerender": "full"}, a, b)
    ra, rb, rects = _pair({"rerender": "region"}, a, b)
    assert rects, "expected a region render"
    assert np.array_equal(ra.image, fa.image)
    assert np.array_equal(rb.instances, fb.instances)
    outside = ~rects_mask(rects, a.width, a.height)
    assert np.array_equal(rb.image[outside], ra.image[outside])  # exactly I_a's pixels
    de = delta_e(fb.image, rb.image)
    assert (de > 5).mean() <= max_bad, (de > 5).mean()
    return fa, fb, rects


@pytest.mark.render
def test_object_near_the_border(renderer):
    """An object cut by the right image edge: its crop is clipped to the frame and the composite is right."""
    a = base_scene(W, H)
    b = a.with_object(obj(6, "cube", "rubber", "red", "large", 3.2, 2.6))  # right edge of the view
    fa, fb, rects = _check_composite(a, b)
    box = mask_box(fb.mask(6))
    assert box is not None and box[2] == W  # really at the border
    assert any(r[2] == W and _inside(box, r) for r in rects)


@pytest.mark.render
def test_removed_object_whose_shadow_lies_outside_its_box(renderer):
    """One low key light throws a long shadow: the removal changes pixels far outside the object's
    box, and the crop covers them."""
    a = base_scene(W, H)
    a.lights = [Light("key", [6.0, 0.0, 2.2], 900.0, 0.5)]
    a.objects = [obj(0, "cylinder", "rubber", "gray", "small", 0.5, 0.5)]
    b = a.without_object(0)
    fa, fb, rects = _check_composite(a, b)
    box = mask_box(fa.mask(0))
    change = np.abs(fa.image.astype(int) - fb.image.astype(int)).mean(axis=2) > 20
    outside_box = change.copy()
    outside_box[box[1]:box[3], box[0]:box[2]] = False
    assert outside_box.sum() > 30  # the shadow really is outside the object's box
    assert rects_mask(rects, W, H)[outside_box].all()  # and inside the re-rendered region


@pytest.mark.render
def test_every_edit_type_matches_a_full_render(renderer):
    a = base_scene(W, H)
    o = a.object(4)
    edits = [
        a.without_object(1),
        a.with_object(o.replace(color="yellow")),
        a.with_object(o.replace(material="rubber")),
        a.with_object(o.replace(shape="sphere", position=[*o.position[:2], VOCAB.rest_height("sphere", o.size)])),
        a.with_object(o.replace(position=[-0.5, -2.4, o.position[2]])),
    ]
    for b in edits:
        _check_composite(a, b, max_bad=0.01)


@pytest.mark.render
def test_region_pairs_are_deterministic_and_b_equal_to_a_costs_nothing(renderer):
    a = base_scene(W, H)
    b = a.with_object(a.object(0).replace(color="blue"))
    first = _pair({"rerender": "region"}, a, b)
    second = _pair({"rerender": "region"}, a, b)
    assert np.array_equal(first[1].image, second[1].image) and first[2] == second[2]
    ra, rb, rects = _pair({"rerender": "region"}, a, a.copy())
    assert rects == [] and np.array_equal(ra.image, rb.image) and np.array_equal(ra.instances, rb.instances)


@pytest.mark.render
def test_crops_covering_most_of_the_frame_fall_back_to_a_full_render(renderer):
    a = base_scene(W, H)
    b = a.without_object(0)
    _, _, rects = _pair({"rerender": "region", "region_max_share": 0.01}, a, b)
    assert rects is None
