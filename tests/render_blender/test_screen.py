"""``BlenderRenderer.render_preview``: the screening render of ``dig generate`` (1 sample, no
denoising) gives the very instance map of the full render, for A and for a region re-rendered B, a
contrast close to the full render's, and leaves the full render's settings (hence its pixels) as
they were."""

from __future__ import annotations

import numpy as np
from dig_render_blender.renderer import BlenderConfig, BlenderRenderer

from tests.render_blender.scenes import VOCAB, base_scene, obj

W, H = 120, 80


def _edits(a):
    """A color edit, an add behind the cube, a remove and a move (B of each)."""
    cube = a.objects[0]
    return [a.with_object(cube.replace(color="green")),
            a.with_object(obj(7, "sphere", "rubber", "gray", "small", -0.9, 0.9)),
            a.without_object(3),
            a.with_object(a.objects[2].replace(position=[0.9, -0.6, a.objects[2].position[2]]))]


def test_screening_instance_maps_equal_the_full_renders(renderer):
    a = base_scene(W, H)
    full_a = renderer.render(a)
    assert np.array_equal(renderer.render_preview(a).instances, full_a.instances)
    region = BlenderRenderer(BlenderConfig(samples=4, rerender="region"))
    region.setup(VOCAB, 2)
    try:
        for b in _edits(a):
            _, rb = region.render_pair(a, b)
            assert region.last_crops, "B was rendered in full: the region path is not covered"
            assert np.array_equal(renderer.render_preview(b).instances, rb.instances)
    finally:
        region.close()


def test_screening_leaves_the_full_render_as_it_was(renderer):
    a = base_scene(W, H, seed=5)
    before = renderer.render(a)
    c = renderer._scene.cycles
    settings = (c.samples, c.use_denoising, c.max_bounces)
    renderer.render_preview(_edits(a)[1])
    assert (c.samples, c.use_denoising, c.max_bounces) == settings
    after = renderer.render(a)
    assert np.array_equal(before.image, after.image) and np.array_equal(before.instances, after.instances)


def test_preview_contrast_is_within_the_slack_generate_screens_with(renderer):
    """A difference's contrast on the previews of A and B (1 sample, no denoising) lies within
    PREVIEW_CONTRAST_SLACK of the full renders' (what lets a preview reject only hopeless ones), for
    a difference of PREVIEW_MIN_AREA pixels or more (the preview judges no smaller one)."""
    from dig_core.difficulty import PREVIEW_CONTRAST_SLACK, PREVIEW_MIN_AREA, measure_difference

    below, above = PREVIEW_CONTRAST_SLACK
    a = base_scene(W, H, seed=9)
    ra, pa = renderer.render(a), renderer.render_preview(a)
    checked = 0
    for b in _edits(a):
        rb, pb = renderer.render(b), renderer.render_preview(b)
        oid = next(o.id for o in [*a.objects, *b.objects] if o not in a.objects or o not in b.objects)
        mask = ra.mask(oid) | rb.mask(oid)
        final = measure_difference(mask, None, ra.image, rb.image)["contrast"]
        rough = measure_difference(mask, None, pa.image, pb.image)["contrast"]
        if mask.sum() >= PREVIEW_MIN_AREA:
            checked += 1
            assert final - below < rough < final + above, (final, rough)
    assert checked >= 2
