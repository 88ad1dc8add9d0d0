"""The geometric sketch of a scene's instance map (dig_core.sketch) and the steering of sampling it
drives in `dig generate`. tests/render_blender/test_sketch.py measures the sketch against Cycles."""

from __future__ import annotations

import numpy as np
import pytest
from dig_core.config import load_config, to_plain
from dig_core.generate import PairMaker, plan
from dig_core.render import Renderer, RenderResult
from dig_core.sketch import project, sketch_alone, sketch_instances
from dig_core.spec import Camera, Light, ObjectSpec, SceneSpec, Vocabulary

from tests.helpers import plugin_with, registered

VOCAB = Vocabulary.default()
CAM = Camera([7.48, -6.51, 5.34], [0.0, 0.0, 0.0], 35.0, 32.0)


def _scene(*objects: ObjectSpec) -> SceneSpec:
    return SceneSpec(120, 80, CAM, [Light("key", [6.0, -3.0, 6.0], 400.0)], list(objects), seed=1)


def _obj(i, shape, size, x, y):
    return ObjectSpec(i, shape, "rubber", "red", size, [x, y, VOCAB.rest_height(shape, size)], 0.0)


def test_the_look_at_point_projects_to_the_image_centre():
    px = project(CAM, 120, 80, np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    assert px[0] == pytest.approx([60.0, 40.0]) and px[1][1] < 40.0  # up is up
    assert project(CAM, 120, 80, np.array([[20.0, -20.0, 10.0]])) is None  # behind the camera


def test_a_near_object_hides_a_far_one_and_alone_masks_hold_the_visible_ones():
    near = _obj(0, "cube", "large", 1.15, -1.0)  # between the camera and `far`
    far = _obj(1, "sphere", "large", -0.6, 0.52)
    inst = sketch_instances(_scene(far, near), VOCAB)
    alone = sketch_alone(_scene(far, near), VOCAB, [0, 1])
    assert np.array_equal(inst == 1, alone[0])  # nothing in front of the near cube
    assert 0 < (inst == 2).sum() < alone[1].sum()  # the sphere is partly hidden
    assert not ((inst == 2) & ~alone[1]).any()
    big, small = (sketch_instances(_scene(_obj(0, "sphere", s, 0.0, 0.0)), VOCAB).sum() for s in ("large", "small"))
    assert big == pytest.approx(4 * small, rel=0.15)  # twice the radius, four times the area


class SketchRenderer(Renderer):
    """A pinhole renderer whose instance map is the sketch (so steering is exact); it counts renders."""

    PLUGIN_NAME = "sketch-test"
    PINHOLE = True

    def setup(self, vocab, threads):
        self.vocab, self.full = vocab, 0

    def render(self, scene):
        self.full += 1
        inst = sketch_instances(scene, self.vocab)
        colors = np.array([[40, 40, 40]] + [self.vocab.colors[o.color] for o in sorted(scene.objects, key=lambda o: o.id)])
        lut = np.zeros(inst.max() + 1, int)
        for i, o in enumerate(sorted(scene.objects, key=lambda o: o.id), start=1):
            lut[o.id + 1] = i
        return RenderResult(colors[lut[inst]].astype(np.uint8), inst)


@pytest.fixture(scope="module")
def sketch_renderer():
    with registered(plugin_with(register_renderers=[SketchRenderer])) as pm:
        yield pm


def test_steering_finds_small_central_edits_with_fewer_renders(sketch_renderer):
    """A stage whose every difference must be small and central: steered sampling renders only draws
    whose sketch meets the knobs; unsteered it renders (and rejects) many more."""
    cfg = load_config(None, [
        "scene.width=120", "scene.height=80", "validity.min_visible_pixels=4", "validity.max_resamples=200",
        "renderer.name=sketch-test", "generate.screen=false",
        "curriculum.stages=[{name: s, k_min: 1, k_max: 3, count_in_prompt: false, pairs: 3}]",
        "curriculum.stages[0].max_area=0.015", "curriculum.stages[0].location=center"], sections=("renderer",))
    renders = {}
    for steer in (True, False):
        cfg.generate.steer = steer
        maker = PairMaker(to_plain(cfg), 1)
        recs = [maker.make(item).record for item in plan(cfg)]
        renders[steer] = maker.renderer.full
        for r in recs:
            assert all(m["area_share"] <= 0.015 and m["center_dist"] <= 0.4 for m in r["measures"])
    assert renders[True] < renders[False] / 2, renders
