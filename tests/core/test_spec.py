"""Scene specs: JSON round trip, validation messages, the shipped and overridden vocabulary."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from dig_core.config import SceneConfig, load_config
from dig_core.errors import ConfigError, SpecError
from dig_core.sampling import sample_scene, vocabulary_from_config
from dig_core.spec import Camera, Light, ObjectSpec, SceneSpec, Vocabulary, scene_problems, validate_scene
from hypothesis import given, settings
from hypothesis import strategies as st

VOCAB = Vocabulary.default()


def obj(id, x, y, shape="sphere", size="large", **kw) -> ObjectSpec:
    z = VOCAB.rest_height(shape, size)
    defaults = dict(material="rubber", color="red")
    defaults.update(kw)
    return ObjectSpec(id=id, shape=shape, size=size, position=[x, y, z], **defaults)


def scene(*objects: ObjectSpec) -> SceneSpec:
    return SceneSpec(
        width=480, height=320, camera=Camera([7.48, -6.51, 5.34]),
        lights=[Light("key", [6.4, -2.9, 4.3], 1000.0)], objects=list(objects),
    )


# -- JSON ---------------------------------------------------------------------------------------------
def test_json_round_trip_is_byte_identical_with_stable_key_order():
    s = scene(obj(0, 1.0, 1.0), obj(1, -1.5, 0.5, shape="cube", size="small", rotation=33.5))
    text = s.to_json(indent=2)
    back = SceneSpec.from_json(text)
    assert back == s
    assert back.to_json(indent=2) == text
    d = json.loads(text)
    assert list(d) == ["width", "height", "camera", "lights", "objects", "seed", "bounds", "version"]
    assert list(d["objects"][0]) == ["id", "shape", "material", "color", "size", "position", "rotation"]
    assert list(d["camera"]) == ["location", "look_at", "lens_mm", "sensor_width_mm"]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**63 - 1))
def test_sampled_scenes_round_trip(seed):
    s = sample_scene(SceneConfig(max_restarts=200), VOCAB, seed)
    assert SceneSpec.from_json(s.to_json()).to_json() == s.to_json()


@pytest.mark.parametrize(
    "text, message",
    [
        ("[1, 2]", "must be a JSON object"),
        ("{not json", "not valid JSON"),
        ('{"width": 1}', "malformed"),
    ],
)
def test_from_json_rejects_malformed_text(text, message):
    with pytest.raises(SpecError, match=message):
        SceneSpec.from_json(text)


def test_from_json_names_unknown_keys_and_where():
    d = scene(obj(0, 0.0, 0.0)).to_dict()
    d["objects"][0]["colour"] = "red"
    with pytest.raises(SpecError) as e:
        SceneSpec.from_dict(d)
    assert "objects[0]" in str(e.value) and "'colour'" in str(e.value) and "allowed" in str(e.value)


# -- validation -----------------------------------------------------------------------------------------
def test_a_valid_scene_has_no_problems():
    s = scene(obj(0, 2.0, 2.0), obj(1, -2.0, -2.0, shape="cube"), obj(2, 2.0, -2.0, shape="cylinder", size="small"))
    assert scene_problems(s, VOCAB, min_dist=0.25) == []
    validate_scene(s, VOCAB, 0.25)


def test_unknown_value_names_object_attribute_and_allowed_values():
    problems = scene_problems(scene(obj(3, 0.0, 0.0, color="pink")), VOCAB)
    assert len(problems) == 1
    assert "object 3: unknown color 'pink'" in problems[0]
    assert "'red'" in problems[0] and "'yellow'" in problems[0]


def test_overlapping_objects_are_reported_with_their_ids():
    problems = scene_problems(scene(obj(0, 0.0, 0.0), obj(1, 1.0, 0.0)), VOCAB)  # radii 0.7 + 0.7 > 1.0
    assert problems == ["objects 0 and 1 overlap (gap -0.400)"]


def test_min_dist_is_separate_from_overlap():
    s = scene(obj(0, 0.0, 0.0), obj(1, 1.5, 0.0))  # gap 0.1
    assert scene_problems(s, VOCAB, min_dist=0.0) == []
    assert "closer than min_dist=0.25" in scene_problems(s, VOCAB, min_dist=0.25)[0]


def test_object_off_the_ground_plane():
    o = obj(0, 0.0, 0.0, shape="cube")
    o.position[2] = 0.7  # a large cube rests at 0.7/sqrt(2)
    problems = scene_problems(scene(o), VOCAB)
    assert problems == ["object 0: off the ground plane (z=0.7000, a large cube rests at z=0.4950)"]


def test_object_out_of_bounds():
    problems = scene_problems(scene(obj(0, 3.5, 0.0)), VOCAB)
    assert len(problems) == 1 and "object 0: out of bounds at (3.500, 0.000)" in problems[0]


def test_duplicate_ids():
    assert "object 0: duplicate id" in scene_problems(scene(obj(0, 2.0, 2.0), obj(0, -2.0, -2.0)), VOCAB)


def test_validate_scene_lists_every_problem():
    huge = ObjectSpec(1, "sphere", "rubber", "red", "huge", [0.0, 0.0, 1.0])
    bad = scene(obj(0, 3.5, 0.0, material="wood"), huge)
    with pytest.raises(SpecError) as e:
        validate_scene(bad, VOCAB)
    text = str(e.value)
    assert "unknown material 'wood'" in text and "unknown size 'huge'" in text and "out of bounds" in text


# -- vocabulary -----------------------------------------------------------------------------------------
def test_vocabulary_ships_as_package_data_with_clevr_values():
    raw = json.loads(resources.files("dig_core").joinpath("data/vocabulary.json").read_text())
    assert Vocabulary.from_dict(raw) == VOCAB
    assert set(VOCAB.shapes) == {"cube", "sphere", "cylinder"}
    assert VOCAB.materials == ["rubber", "metal"]
    assert VOCAB.sizes == {"large": 0.7, "small": 0.35}
    assert VOCAB.colors["yellow"] == [255, 238, 51] and len(VOCAB.colors) == 8
    assert VOCAB.rest_height("sphere", "small") == 0.35
    assert VOCAB.rest_height("cube", "large") == pytest.approx(0.7 / 2**0.5, abs=1e-6)


def test_vocabulary_is_overridable_from_config():
    cfg = load_config(None, ["scene.vocabulary.colors.pink=[255,105,180]", "scene.vocabulary.sizes={medium: 0.5}"],
                      sections=())
    vocab = vocabulary_from_config(cfg.scene)
    assert vocab.colors["pink"] == [255, 105, 180]
    assert "red" in vocab.colors  # merged, not replaced
    assert vocab.sizes == {"large": 0.7, "small": 0.35, "medium": 0.5}
    s = sample_scene(cfg.scene, vocab, 0)
    assert scene_problems(s, vocab, cfg.scene.min_dist) == []


def test_bad_vocabulary_override_is_a_config_error():
    with pytest.raises(ConfigError, match=r"scene.vocabulary.colors.pink: expected 3 ints in 0-255"):
        load_config(None, ["scene.vocabulary.colors.pink=[300,0,0]"], sections=())


@pytest.mark.parametrize("position", [[0.0, 0.0], ["a", 0.0, 0.35], [float("nan"), 0.0, 0.35], [True, 0.0, 0.35]])
def test_malformed_positions_are_reported_not_raised(position):
    o = ObjectSpec(4, "sphere", "rubber", "red", "small", position)
    problems = scene_problems(scene(o), VOCAB)
    assert problems == [f"object 4: position must be three finite numbers, got {position!r}"]
