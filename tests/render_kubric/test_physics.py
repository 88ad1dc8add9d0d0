"""Physics-settled placement with Kubric's PyBullet simulator."""

from __future__ import annotations

import pytest
from dig_core.render import SceneRejected
from dig_core.spec import scene_problems

from tests.render_blender.scenes import VOCAB, base_scene, obj
from tests.render_kubric.conftest import needs_kubric

pytestmark = [needs_kubric]


@pytest.fixture(scope="module")
def physics():
    from dig_render_kubric.renderer import KubricConfig, KubricRenderer

    r = KubricRenderer(KubricConfig(samples=2, physics=True))
    r.setup(VOCAB, 2)
    yield r
    r.close()


def test_objects_come_to_rest_on_the_ground(physics):
    spec = base_scene(96, 64)
    settled = physics.settle(spec)
    for o in settled.scene.objects:
        rest = VOCAB.rest_height(o.shape, o.size)
        assert abs(settled.positions[o.id][2] - rest) < 0.005, (o, settled.positions[o.id])  # the simulator's z
        assert o.position[2] == rest  # written back exactly: the spec's resting convention
        before = spec.object(o.id)
        assert abs(o.position[0] - before.position[0]) < 0.05 and abs(o.position[1] - before.position[1]) < 0.05
        if o.shape != "sphere":
            assert abs((o.rotation - before.rotation + 180) % 360 - 180) < 2.0
    assert scene_problems(settled.scene, VOCAB) == []  # on the ground, in bounds, no overlaps
    assert physics.prepare_scene(spec) == settled.scene  # deterministic


def test_prepare_scene_is_a_no_op_without_physics():
    from dig_render_kubric.renderer import KubricRenderer

    spec = base_scene(96, 64)
    assert KubricRenderer().prepare_scene(spec) is spec and KubricRenderer().rejection_reasons() == ()


def test_touching_objects_are_rejected(physics):
    spec = base_scene(96, 64)
    a = spec.object(3)  # small sphere at (2.2, 1.2): put a small cube right beside it
    gap = 0.005
    x = a.position[0] - 0.35 - 0.35 - gap
    spec = spec.with_object(obj(7, "sphere", "rubber", "gray", "small", x, a.position[1]))
    with pytest.raises(SceneRejected) as e:
        physics.prepare_scene(spec)
    assert e.value.reason == "touching" and "objects 3 and 7" in str(e.value)


def test_object_outside_the_table_is_rejected(physics):
    spec = base_scene(96, 64)
    spec.bounds = 2.3  # object 5 sits at y = 2.4, the others inside
    with pytest.raises(SceneRejected) as e:
        physics.prepare_scene(spec)
    assert e.value.reason == "off_table" and "object 5" in str(e.value)


def test_object_still_falling_is_rejected():
    from dig_render_kubric.renderer import KubricConfig, KubricRenderer

    r = KubricRenderer(KubricConfig(physics=True, drop_height=1.0, settle_seconds=0.1))
    r.setup(VOCAB, 1)
    with pytest.raises(SceneRejected) as e:
        r.prepare_scene(base_scene(96, 64))
    assert e.value.reason == "not_upright" and "rests at" in str(e.value)
    r.close()


def test_bad_physics_params_are_config_errors():
    from dig_core.errors import ConfigError
    from dig_render_kubric.renderer import KubricConfig, KubricRenderer

    with pytest.raises(ConfigError, match="settle_seconds must be in"):
        KubricRenderer(KubricConfig(settle_seconds=0.0))
    with pytest.raises(ConfigError, match="drop_height must be in"):
        KubricRenderer(KubricConfig(drop_height=-1.0))
