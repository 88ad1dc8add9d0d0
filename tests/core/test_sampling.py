"""The base-scene sampler: CLEVR-style placement, jitter, determinism, bounded retries."""

from __future__ import annotations

import dataclasses
import math
import random
import time

import pytest
from dig_core.config import SceneConfig, load_config
from dig_core.errors import SamplingError
from dig_core.sampling import ground_directions, sample_scene, spot_is_free, vocabulary_from_config
from dig_core.sampling.scenes import BASE_CAMERA, BASE_LIGHTS
from dig_core.spec import Camera, ObjectSpec, SceneSpec, Vocabulary, scene_problems
from hypothesis import given, settings
from hypothesis import strategies as st

VOCAB = Vocabulary.default()
#: CLEVR's defaults; 10 objects with a margin can need many restarts (CLEVR restarts without limit)
CFG = SceneConfig(max_restarts=200)


def test_ground_directions_are_the_cameras_right_and_forward():
    right, forward = ground_directions(Camera(location=[0.0, -10.0, 5.0]))  # looking north
    assert forward == pytest.approx((0.0, 1.0)) and right == pytest.approx((1.0, 0.0))
    right, forward = ground_directions(Camera(location=list(BASE_CAMERA)))
    assert forward == pytest.approx((-7.48 / math.hypot(7.48, 6.51), 6.51 / math.hypot(7.48, 6.51)))
    assert right[0] * forward[0] + right[1] * forward[1] == pytest.approx(0.0)
    assert right[0] * forward[1] - right[1] * forward[0] == pytest.approx(1.0)  # right-handed, z up


def test_spot_is_free_applies_min_dist_and_margin_along_camera_axes():
    cam = Camera(location=[0.0, -10.0, 5.0])  # axes = world x, y
    dirs = ground_directions(cam)
    other = [ObjectSpec(0, "sphere", "rubber", "red", "small", [0.0, 0.0, 0.35])]
    assert spot_is_free(2.0, 2.0, 0.35, other, VOCAB, 0.25, 0.4, dirs)
    # (0.6, 0.6): footprint gap 0.149, both axis offsets 0.6 >= margin
    assert not spot_is_free(0.6, 0.6, 0.35, other, VOCAB, 0.25, 0.4, dirs)
    assert spot_is_free(0.6, 0.6, 0.35, other, VOCAB, 0.1, 0.4, dirs)
    assert not spot_is_free(0.6, 0.6, 0.35, other, VOCAB, 0.1, 0.7, dirs)
    assert not spot_is_free(2.0, 0.3, 0.35, other, VOCAB, 0.25, 0.4, dirs)  # same depth band
    assert not spot_is_free(0.3, 2.0, 0.35, other, VOCAB, 0.25, 0.4, dirs)  # same left/right band


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**63 - 1))
def test_sampled_scenes_are_valid_and_clevr_like(seed):
    s = sample_scene(CFG, VOCAB, seed)
    assert CFG.min_objects <= len(s.objects) <= CFG.max_objects
    assert [o.id for o in s.objects] == list(range(len(s.objects)))
    assert scene_problems(s, VOCAB, CFG.min_dist) == []
    right, forward = ground_directions(s.camera)
    for i, a in enumerate(s.objects):
        assert all(round(c, 4) == c for c in a.position[:2])
        for b in s.objects[i + 1:]:
            dx, dy = a.position[0] - b.position[0], a.position[1] - b.position[1]
            assert abs(dx * right[0] + dy * right[1]) >= CFG.margin
            assert abs(dx * forward[0] + dy * forward[1]) >= CFG.margin
    for c, base in zip(s.camera.location, BASE_CAMERA):
        assert abs(c - base) <= CFG.camera_jitter + 1e-9
    assert s.camera.look_at == [0.0, 0.0, 0.0]
    assert [light.name for light in s.lights] == ["key", "fill", "back"]
    for light, (_, base, energy, _) in zip(s.lights, BASE_LIGHTS):
        assert light.energy == energy > 0
        assert all(abs(c - b) <= CFG.light_jitter + 1e-9 for c, b in zip(light.location, base))
    assert (s.width, s.height, s.bounds, s.seed) == (CFG.width, CFG.height, CFG.bounds, seed)


def test_same_seed_same_scene_and_global_random_state_is_neither_used_nor_changed():
    random.seed(1)
    state = random.getstate()
    a = sample_scene(CFG, VOCAB, 42).to_json()
    assert random.getstate() == state
    random.seed(2)
    assert sample_scene(CFG, VOCAB, 42).to_json() == a
    assert sample_scene(CFG, VOCAB, 43).to_json() != a


def test_object_count_covers_the_configured_range():
    cfg = dataclasses.replace(CFG, min_objects=3, max_objects=5)
    counts = {len(sample_scene(cfg, VOCAB, seed).objects) for seed in range(60)}
    assert counts == {3, 4, 5}


def test_attributes_come_from_the_vocabulary_and_vary():
    scenes = [sample_scene(CFG, VOCAB, seed) for seed in range(30)]
    objs = [o for s in scenes for o in s.objects]
    assert {o.shape for o in objs} == set(VOCAB.shapes)
    assert {o.color for o in objs} == set(VOCAB.colors)
    assert {o.size for o in objs} == set(VOCAB.sizes)
    assert {o.material for o in objs} == set(VOCAB.materials)


def test_no_jitter_gives_the_base_camera_and_lights():
    s = sample_scene(dataclasses.replace(CFG, camera_jitter=0.0, light_jitter=0.0), VOCAB, 5)
    assert s.camera.location == list(BASE_CAMERA)
    assert [light.location for light in s.lights] == [list(pos) for _, pos, _, _ in BASE_LIGHTS]


def test_works_with_the_loaded_config_section():
    cfg = load_config(None, ["scene.max_objects=4", "scene.bounds=2.5"], sections=())
    s = sample_scene(cfg.scene, vocabulary_from_config(cfg.scene), 9)
    assert 3 <= len(s.objects) <= 4 and s.bounds == 2.5
    assert SceneSpec.from_json(s.to_json()) == s


def test_too_many_large_objects_on_a_small_floor_fails_fast_naming_the_config():
    cfg = dataclasses.replace(CFG, min_objects=40, max_objects=40, bounds=2.0)
    vocab = dataclasses.replace(VOCAB, sizes={"large": 0.7})
    t0 = time.perf_counter()
    with pytest.raises(SamplingError) as e:
        sample_scene(cfg, vocab, 0)
    assert time.perf_counter() - t0 < 1.0
    text = str(e.value)
    for part in ("40 objects", "scene.max_objects=40", "scene.bounds=2.0", "large=0.7", "scene.min_dist=0.25"):
        assert part in text


def test_unsatisfiable_placement_gives_up_after_bounded_restarts():
    # fits by area, but a margin of 2 along both camera axes leaves room for few objects
    cfg = dataclasses.replace(CFG, min_objects=8, max_objects=8, margin=2.0, max_attempts=20, max_restarts=3)
    with pytest.raises(SamplingError) as e:
        sample_scene(cfg, VOCAB, 0)
    text = str(e.value)
    assert "scene.max_attempts=20" in text and "scene.max_restarts=3" in text and "scene.margin=2.0" in text
