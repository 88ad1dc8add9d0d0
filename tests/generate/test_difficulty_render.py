"""Difficulty controls with real Blender renders (tiny images): control pairs are the same spec
rendered twice (identical pixels), measures are recorded per difference and match a recomputation
from the renderer's instance maps, realised type counts per stage are in the manifest, and a
contrast knob moves the measured contrast. tests/core/test_difficulty.py covers the rest without bpy."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from dig_core.data.dataset import read_annotations

from tests.helpers import dig

pytestmark = pytest.mark.render

SMALL = ["scene.width=96", "scene.height=64", "scene.max_objects=4", "renderer.params.samples=2",
         "renderer.params.denoise=false", "validity.min_visible_pixels=12", "validity.min_box_change=6",
         "seed=5", "generate.progress=false", "generate.workers=1", "generate.threads=2"]


def _stage(pairs: int, k_min: int, k_max: int, *knobs: str) -> list[str]:
    return [f"curriculum.stages=[{{name: s, k_min: {k_min}, k_max: {k_max}, count_in_prompt: false, "
            f"pairs: {pairs}}}]", *(f"curriculum.stages[0].{k}" for k in knobs)]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("difficulty") / "mixed"
    r = dig("generate", "--out", str(out), *SMALL, *_stage(5, 0, 2))
    assert r.returncode == 0, r.stderr
    return out


def test_control_pairs_render_identically(mixed):
    from PIL import Image

    recs = list(read_annotations(mixed))
    k0 = [r for r in recs if not r["boxes"]]
    assert k0 and len(k0) < len(recs)
    for r in k0:
        a, b = (np.asarray(Image.open(mixed / r[k])) for k in ("image_a", "image_b"))
        assert r["scene_a"] == r["scene_b"] and np.array_equal(a, b)


def test_measures_match_the_instance_maps(mixed):
    from dig_core.config import plugin_params
    from dig_core.difficulty import measure_difference
    from dig_core.perturbations.base import Difference
    from dig_core.plugins import get_plugin_manager
    from dig_core.render import difference_mask
    from dig_core.spec import SceneSpec, Vocabulary

    cls = get_plugin_manager().get("renderer", "blender")
    renderer = cls(plugin_params(cls, {"samples": 2, "denoise": False}, "renderer.params", []))
    renderer.setup(Vocabulary.default(), 2)
    rec = max(read_annotations(mixed), key=lambda r: len(r["boxes"]))
    ra, rb = renderer.render_pair(SceneSpec.from_dict(rec["scene_a"]), SceneSpec.from_dict(rec["scene_b"]))
    renderer.close()
    for d, m in zip(rec["differences"], rec["measures"]):
        diff = Difference.from_dict(d)
        assert measure_difference(difference_mask(diff, ra, rb), diff.box, ra.image, rb.image) == m
        assert m["area"] >= 12 and m["contrast"] > 0


def test_manifest_has_realised_types_per_stage(mixed):
    manifest = json.loads((mixed / "dataset.json").read_text())
    want = Counter(d["type"] for r in read_annotations(mixed) for d in r["differences"])
    assert manifest["counts"]["by_stage_type"] == {"s": dict(want)}
    assert manifest["counts"]["by_k"].get("0", 0) == sum(not r["boxes"] for r in read_annotations(mixed))


def test_max_contrast_knob_on_renders(mixed, tmp_path):
    free = [m["contrast"] for r in read_annotations(mixed) for m in r["measures"]]
    cap = float(np.median(free))
    out = tmp_path / "subtle"
    # balance: feasible lets the sampler pick subtle edit types; with quota a pair's planned type is
    # kept, and an add/remove rarely stays under a median contrast cap (docs/difficulty.md)
    r = dig("generate", "--out", str(out), *SMALL, *_stage(3, 1, 1, f"max_contrast={cap}"),
            "validity.max_resamples=60", "perturbations.balance=feasible")
    assert r.returncode == 0, r.stderr
    got = [m["contrast"] for r in read_annotations(out) for m in r["measures"]]
    assert max(got) <= cap < max(free)


def test_histograms_and_occlusion_keys_on_renders(mixed):
    from PIL import Image

    with Image.open(mixed / "difficulty.png") as im:
        assert im.format == "PNG" and im.width > 400 and im.height >= 100
    # no stage sets an occlusion knob: not measured, but the key is on every difference
    assert all(m["occlusion"] is None for r in read_annotations(mixed) for m in r["measures"])
    assert all(r["rejected"]["occlusion"] == 0 for r in read_annotations(mixed))


def test_min_occlusion_knob_on_renders(tmp_path):
    crowded = ["scene.min_objects=6", "scene.max_objects=8", "validity.max_resamples=80"]
    runs = {}
    for name, knob in (("free", "max_occlusion=1.0"), ("hidden", "min_occlusion=0.1")):
        out = tmp_path / name
        r = dig("generate", "--out", str(out), *SMALL, *crowded, *_stage(4, 1, 1, knob))
        assert r.returncode == 0, r.stderr
        runs[name] = [m["occlusion"] for r in read_annotations(out) for m in r["measures"]]
    assert all(o is not None for o in runs["free"]) and np.median(runs["free"]) < 0.1
    assert min(runs["hidden"]) >= 0.1


@pytest.mark.parametrize("knobs", [(), ("min_area=0.01", "location=center", "max_occlusion=0.3", "min_contrast=20")],
                         ids=["no-knobs", "rejecting-knobs"])
def test_screening_on_or_off_gives_the_same_dataset(tmp_path, knobs):
    """generate.screen (instance maps first, full render only for a candidate passing the mask rules)
    writes the same metadata.jsonl bytes and images as rendering every candidate in full."""
    runs = {}
    for on in ("true", "false"):
        out = tmp_path / on
        r = dig("generate", "--out", str(out), *SMALL, *_stage(3, 1, 2, *knobs), "validity.max_resamples=80",
                f"generate.screen={on}")
        assert r.returncode == 0, r.stderr
        runs[on] = out
    assert (runs["true"] / "metadata.jsonl").read_bytes() == (runs["false"] / "metadata.jsonl").read_bytes()
    hashes = {json.loads((out / "dataset.json").read_text())["content_hash"] for out in runs.values()}
    assert len(hashes) == 1
    if knobs:
        rejected = json.loads((runs["true"] / "dataset.json").read_text())["counts"]["rejected"]
        assert rejected["area"] + rejected["location"] + rejected["occlusion"] > 0, rejected
