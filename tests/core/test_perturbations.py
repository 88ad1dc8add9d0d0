"""Built-in perturbations and the edit sampler that composes them into scene B."""

from __future__ import annotations

import dataclasses
import random

import pytest
from dig_core.config import SceneConfig, load_config
from dig_core.errors import ConfigError, SamplingError
from dig_core.perturbations import (
    AddObject,
    ColorChange,
    Difference,
    EditContext,
    MaterialChange,
    MoveObject,
    Perturbation,
    RemoveObject,
    ShapeChange,
    SizeChange,
)
from dig_core.plugins import PluginManager
from dig_core.sampling import build_perturbations, edit_context, sample_edits, sample_scene
from dig_core.spec import Camera, Light, ObjectSpec, SceneSpec, Vocabulary, scene_problems
from hypothesis import given, settings
from hypothesis import strategies as st

VOCAB = Vocabulary.default()
CTX = EditContext(VOCAB, min_dist=0.25, margin=0.4, max_attempts=50)
SCENE_CFG = SceneConfig(max_restarts=200)
DEFAULT_WEIGHTS = {"shape": 1.0, "color": 1.0, "size": 1.0, "material": 1.0, "add": 1.0, "remove": 1.0}
BUILTINS = {cls.PLUGIN_NAME: cls() for cls in
            (ShapeChange, ColorChange, SizeChange, MaterialChange, AddObject, RemoveObject, MoveObject)}


def obj(id, x, y, shape="sphere", size="small", **kw) -> ObjectSpec:
    d = dict(material="rubber", color="red", rotation=0.0)
    d.update(kw)
    return ObjectSpec(id=id, shape=shape, size=size, position=[x, y, VOCAB.rest_height(shape, size)], **d)


def scene(*objects: ObjectSpec) -> SceneSpec:
    return SceneSpec(480, 320, Camera([7.48, -6.51, 5.34]), [Light("key", [6.4, -2.9, 4.3], 1000.0)], list(objects))


# -- registration -------------------------------------------------------------------------------------
def test_builtins_are_registered_through_the_core_entry_point():
    pm = PluginManager()
    reg = pm.registries["perturbation"]
    assert set(BUILTINS) <= set(reg)
    for name, inst in BUILTINS.items():
        info = reg[name]
        assert info.cls is type(inst) and info.source == "core-perturbations" and info.package == "dig-core"
    assert AddObject.CREATES and not any(p.CREATES for n, p in BUILTINS.items() if n != "add")


# -- attribute changes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name, attr", [("shape", "shape"), ("color", "color"), ("size", "size"), ("material", "material")])
@pytest.mark.parametrize("seed", range(5))
def test_attribute_change_sets_another_value_and_keeps_the_object_on_the_ground(name, attr, seed):
    a = scene(obj(0, 2.0, 2.0, shape="cube", size="large"), obj(1, -2.0, -2.0))
    before = a.to_json()
    b, diff = BUILTINS[name].apply(a, a.object(0), random.Random(seed), CTX)
    assert a.to_json() == before  # the input scene is not modified
    new = b.object(0)
    assert getattr(new, attr) != getattr(a.object(0), attr)
    assert new.position[2] == VOCAB.rest_height(new.shape, new.size)
    assert new.position[:2] == [2.0, 2.0] and b.object(1) == a.object(1)
    unchanged = {"shape", "color", "size", "material", "rotation"} - {attr}
    assert all(getattr(new, k) == getattr(a.object(0), k) for k in unchanged)
    assert (diff.type, diff.object_id) == (name, 0)
    assert diff.before == a.object(0).attributes() and diff.after == new.attributes()
    assert scene_problems(b, VOCAB, CTX.min_dist) == []


def test_shape_change_to_cube_lowers_z():
    a = scene(obj(0, 0.0, 0.0, shape="sphere", size="large"))
    ctx = dataclasses.replace(CTX, vocab=dataclasses.replace(VOCAB, shapes={"sphere": 1.0, "cube": 0.70710678}))
    b, _ = ShapeChange().apply(a, a.object(0), random.Random(0), ctx)
    assert b.object(0).shape == "cube" and b.object(0).position[2] == pytest.approx(0.494975)


def test_growing_into_a_neighbour_is_rejected():
    a = scene(obj(0, 0.0, 0.0), obj(1, 1.3, 0.0))  # small+small: gap 0.6; large+small: gap 0.25
    assert SizeChange().apply(a, a.object(0), random.Random(0), dataclasses.replace(CTX, min_dist=0.3)) is None
    assert SizeChange().apply(a, a.object(0), random.Random(0), CTX) is not None


def test_attribute_with_a_single_value_does_not_apply():
    ctx = dataclasses.replace(CTX, vocab=dataclasses.replace(VOCAB, materials=["rubber"]))
    a = scene(obj(0, 0.0, 0.0))
    assert not MaterialChange().applies_to(a, a.object(0), ctx)
    assert MaterialChange().apply(a, a.object(0), random.Random(0), ctx) is None


# -- add / remove / move ---------------------------------------------------------------------------------
def test_add_places_a_new_object_with_the_next_id_at_a_free_spot():
    a = scene(obj(0, 2.0, 2.0), obj(4, -2.0, -2.0))
    for seed in range(10):
        b, diff = AddObject().apply(a, None, random.Random(seed), CTX)
        new = b.object(5)
        assert len(b.objects) == 3 and diff.object_id == 5 and diff.before == {} and diff.after == new.attributes()
        assert not diff.in_a and diff.in_b
        assert scene_problems(b, VOCAB, CTX.min_dist) == []


def test_add_keeps_clear_of_the_reference_scene_and_its_ids():
    full = scene(obj(0, 0.0, 0.0, size="large"), obj(7, 2.0, 2.0))
    emptied = full.without_object(7).without_object(0)  # both removed by earlier edits
    ctx = dataclasses.replace(CTX, reference=full)
    for seed in range(20):
        b, diff = AddObject().apply(emptied, None, random.Random(seed), ctx)
        assert diff.object_id == 8  # not 0: ids 0 and 7 belong to objects of scene A
        # the new object keeps clear of where A's objects stood
        assert scene_problems(dataclasses.replace(full, objects=full.objects + [b.object(8)]), VOCAB, CTX.min_dist) == []


def test_add_returns_none_when_the_floor_is_full():
    crowded = scene(*[obj(i, x, y, size="large") for i, (x, y) in enumerate([(-2, -2), (2, 2), (-2, 2), (2, -2), (0, 0)])])
    ctx = dataclasses.replace(CTX, margin=2.0, max_attempts=30)
    assert AddObject().apply(crowded, None, random.Random(0), ctx) is None


def test_remove_never_removes_the_last_object():
    two = scene(obj(0, 2.0, 2.0), obj(1, -2.0, -2.0))
    b, diff = RemoveObject().apply(two, two.object(1), random.Random(0), CTX)
    assert [o.id for o in b.objects] == [0]
    assert diff.before == two.object(1).attributes() and diff.after == {} and diff.in_a and not diff.in_b
    assert not RemoveObject().applies_to(b, b.object(0), CTX)
    assert RemoveObject().apply(b, b.object(0), random.Random(0), CTX) is None


def test_move_goes_to_a_free_spot_away_from_its_old_footprint():
    a = scene(obj(0, 0.0, 0.0), obj(1, 2.0, 2.0))
    ctx = dataclasses.replace(CTX, reference=a)
    for seed in range(10):
        b, diff = MoveObject().apply(a, a.object(0), random.Random(seed), ctx)
        moved = b.object(0)
        assert moved.position[:2] != [0.0, 0.0] and moved.position[2] == a.object(0).position[2]
        assert (diff.before["position"], diff.after["position"]) == (a.object(0).position, moved.position)
        assert scene_problems(dataclasses.replace(b, objects=b.objects + [obj(9, 0.0, 0.0)]), VOCAB, 0.25) == []


# -- the edit sampler ------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), k_min=st.integers(1, 4), extra=st.integers(0, 3))
def test_edits_touch_exactly_k_distinct_objects_and_stay_valid(seed, k_min, extra):
    a = sample_scene(SCENE_CFG, VOCAB, seed)
    before = a.to_json()
    b, diffs = sample_edits(a, k_min, k_min + extra, DEFAULT_WEIGHTS, BUILTINS, CTX, random.Random(seed), 200)
    assert a.to_json() == before
    assert k_min <= len(diffs) <= k_min + extra
    ids = [d.object_id for d in diffs]
    assert len(set(ids)) == len(ids)
    assert scene_problems(b, VOCAB, CTX.min_dist) == []
    assert len(b.objects) >= 1
    # the differences account for every change between A and B
    a_ids, b_ids = {o.id for o in a.objects}, {o.id for o in b.objects}
    for d in diffs:
        assert d.type in DEFAULT_WEIGHTS
        if d.type == "add":
            assert d.object_id not in a_ids and b.object(d.object_id).attributes() == d.after
        elif d.type == "remove":
            assert d.object_id not in b_ids and a.object(d.object_id).attributes() == d.before
        else:
            assert a.object(d.object_id).attributes() == d.before != d.after == b.object(d.object_id).attributes()
    for o in a.objects:
        if o.id not in ids:
            assert b.object(o.id) == o


def test_edits_are_deterministic_for_a_seed():
    a = sample_scene(SCENE_CFG, VOCAB, 3)
    runs = [sample_edits(a, 1, 4, DEFAULT_WEIGHTS, BUILTINS, CTX, random.Random(11), 100) for _ in range(2)]
    assert runs[0][0].to_json() == runs[1][0].to_json()
    assert [d.to_dict() for d in runs[0][1]] == [d.to_dict() for d in runs[1][1]]


def test_weights_select_the_types_and_zero_turns_a_type_off():
    seen = set()
    for seed in range(40):
        a = sample_scene(SCENE_CFG, VOCAB, seed)
        _, diffs = sample_edits(a, 1, 3, {"color": 1.0, "remove": 3.0, "move": 0.0}, BUILTINS, CTX, random.Random(seed))
        seen |= {d.type for d in diffs}
    assert seen == {"color", "remove"}


def test_weights_are_respected_roughly():
    counts = {"color": 0, "material": 0}
    a = sample_scene(SCENE_CFG, VOCAB, 0)
    for seed in range(300):
        _, diffs = sample_edits(a, 1, 1, {"color": 3.0, "material": 1.0}, BUILTINS, CTX, random.Random(seed))
        counts[diffs[0].type] += 1
    assert 0.65 < counts["color"] / 300 < 0.85


def test_k_max_is_capped_at_the_object_count_without_adds():
    a = scene(obj(0, 2.0, 2.0), obj(1, -2.0, -2.0))
    for seed in range(10):
        _, diffs = sample_edits(a, 1, 5, {"color": 1.0}, BUILTINS, CTX, random.Random(seed))
        assert 1 <= len(diffs) <= 2
    with pytest.raises(SamplingError, match="cannot make 3 edits of distinct objects in a scene of 2 objects"):
        sample_edits(a, 3, 5, {"color": 1.0}, BUILTINS, CTX, random.Random(0))


def test_adds_allow_more_edits_than_objects_and_added_objects_are_not_edited_again():
    a = scene(obj(0, 2.0, 2.0))
    b, diffs = sample_edits(a, 4, 4, {"add": 1.0, "color": 1.0, "remove": 1.0}, BUILTINS, CTX, random.Random(1), 200)
    assert len(diffs) == 4 and len({d.object_id for d in diffs}) == 4
    assert sum(d.type == "add" for d in diffs) >= 3
    added = {d.object_id for d in diffs if d.type == "add"}
    assert all(d.type == "add" for d in diffs if d.object_id in added)


def test_impossible_edits_raise_a_sampling_error_after_bounded_attempts():
    one = scene(obj(0, 0.0, 0.0))
    with pytest.raises(SamplingError) as e:
        sample_edits(one, 1, 1, {"remove": 1.0}, BUILTINS, CTX, random.Random(0), max_attempts=5)
    assert "K=1" in str(e.value) and "max_attempts=5" in str(e.value) and "'remove': 1.0" in str(e.value)


def test_weights_must_name_built_perturbations():
    a = scene(obj(0, 0.0, 0.0))
    with pytest.raises(SamplingError, match="no perturbation has a weight > 0"):
        sample_edits(a, 1, 1, {"color": 0.0}, BUILTINS, CTX, random.Random(0))
    with pytest.raises(SamplingError, match=r"\['twist'\] have a weight but were not built"):
        sample_edits(a, 1, 1, {"twist": 1.0}, BUILTINS, CTX, random.Random(0))


class BrokenOverlap(Perturbation):
    """Violates the contract: returns an overlapping scene."""

    PLUGIN_NAME = "broken"

    def apply(self, scene, obj, rng, ctx):
        clash = obj.replace(id=obj.id + 100)
        return scene.with_object(clash), Difference("broken", obj.id, {}, {"x": 1})


def test_a_plugin_returning_an_invalid_scene_is_named():
    a = scene(obj(0, 0.0, 0.0))
    with pytest.raises(RuntimeError, match="perturbation 'broken' returned an invalid scene"):
        sample_edits(a, 1, 1, {"broken": 1.0}, {"broken": BrokenOverlap()}, CTX, random.Random(0))


# -- building from config --------------------------------------------------------------------------------
def test_build_perturbations_from_config():
    pm = PluginManager()
    cfg = load_config(None, ["perturbations.weights.move=2", "perturbations.weights.add=0"], pm=pm, sections=())
    perts = build_perturbations(cfg, pm)
    assert sorted(perts) == ["color", "material", "move", "remove", "shape", "size"]
    assert isinstance(perts["move"], MoveObject)
    assert build_perturbations(cfg.perturbations, pm).keys() == perts.keys()
    ctx = edit_context(cfg.scene, VOCAB)
    assert (ctx.min_dist, ctx.margin, ctx.max_attempts) == (0.25, 0.4, 50)


def test_build_perturbations_reports_unknown_names_with_the_available_ones():
    pm = PluginManager()
    cfg = load_config(None, [], pm=pm, validate=False)
    cfg.perturbations.weights["twist"] = 1.0
    with pytest.raises(ConfigError) as e:
        build_perturbations(cfg, pm)
    assert "unknown perturbation 'twist'; available: add, color," in str(e.value)
