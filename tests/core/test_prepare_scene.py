"""Core's `Renderer.prepare_scene` hook in `dig generate` (used by the kubric renderer's physics):
the prepared scene A is what edits start from and what the record holds, and `SceneRejected`
resamples with its reason counted on every line. Uses the swatch renderer of test_generate_core."""

from __future__ import annotations

import pytest
from dig_core.config import load_config
from dig_core.data.dataset import read_annotations, read_manifest
from dig_core.generate import REJECTION_REASONS, generate
from dig_core.render import SceneRejected
from dig_core.sampling import sample_scene, vocabulary_from_config

from tests.core.test_generate_core import TINY, SwatchRenderer
from tests.helpers import plugin_with, registered

SHIFT = 0.125


class PreparingRenderer(SwatchRenderer):
    """Rejects scenes with fewer than 4 objects; moves every object of the others by SHIFT in x."""

    PLUGIN_NAME = "prepare-test"

    def rejection_reasons(self):
        return ("too_few",)

    def prepare_scene(self, scene):
        if len(scene.objects) < 4:
            raise SceneRejected("too_few", f"{len(scene.objects)} objects")
        new = scene.copy()
        for o in new.objects:
            o.position[0] = round(o.position[0] + SHIFT, 4)
        return new


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    with registered(plugin_with(register_renderers=[PreparingRenderer])):
        out = tmp_path_factory.mktemp("gen") / "prepared"
        cfg = load_config(None, [*TINY, "renderer.name=prepare-test", "scene.min_objects=3"], sections=("renderer",))
        generate(cfg, out)
        yield out, cfg


def test_records_hold_the_prepared_scene_and_b_is_edited_from_it(dataset):
    out, cfg = dataset
    vocab = vocabulary_from_config(cfg.scene)
    for rec in read_annotations(out):
        a, b = rec["scene_a"], rec["scene_b"]
        sampled = sample_scene(cfg.scene, vocab, rec["seed"])  # A as drawn, before prepare_scene
        assert len(a["objects"]) == len(sampled.objects) >= 4
        for oa, os_ in zip(a["objects"], sampled.objects):
            assert oa["position"][0] == round(os_.position[0] + SHIFT, 4)
        edited = {d["object_id"] for d in rec["differences"]}
        for ob in b["objects"]:
            oa = next((o for o in a["objects"] if o["id"] == ob["id"]), None)
            if oa is not None and ob["id"] not in edited:
                assert ob == oa  # untouched objects of B carry A's prepared pose


def test_rejections_are_counted_on_every_line(dataset):
    out, _ = dataset
    recs = list(read_annotations(out))
    for r in recs:
        assert list(r["rejected"]) == sorted({*REJECTION_REASONS, "too_few"})
    assert sum(r["rejected"]["too_few"] for r in recs) > 0
    assert read_manifest(out)["counts"]["rejected"]["too_few"] == sum(r["rejected"]["too_few"] for r in recs)


def test_default_prepare_scene_returns_the_scene_unchanged():
    from tests.render_blender.scenes import base_scene

    s = base_scene()
    assert SwatchRenderer().prepare_scene(s) is s and SwatchRenderer().rejection_reasons() == ()
