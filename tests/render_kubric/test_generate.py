"""`dig generate renderer.name=kubric` end to end, with physics: deterministic, resumable, auditable."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dig_core.data.dataset import content_hash, read_annotations
from PIL import Image

from tests.helpers import assert_same_dataset, check_resume_after_kill_9, check_show_and_audit, dig, generated
from tests.render_kubric.conftest import needs_kubric

pytestmark = [pytest.mark.render, needs_kubric]

N = 3  # pairs per stage
# small but real: 128x96 images, 4 samples, physics on (min_gap 0.6 so some scenes are rejected as touching)
TINY = [
    "renderer.name=kubric", "renderer.params.physics=true", "renderer.params.min_gap=0.6",
    "scene.width=128", "scene.height=96", "scene.max_objects=5",
    "renderer.params.samples=4", "renderer.params.denoise=false",
    "validity.min_visible_pixels=20", "validity.min_box_change=6",
    f"curriculum.stages[0].pairs={N}", f"curriculum.stages[1].pairs={N}", f"curriculum.stages[2].pairs={N}",
    "seed=11", "generate.progress=false",
]


def test_manifest_records_renderer_and_versions(baseline):
    import bpy

    manifest = json.loads((baseline / "dataset.json").read_text())
    assert manifest["status"] == "complete" and manifest["counts"]["pairs"] == 3 * N
    info = manifest["renderer"]
    assert info["name"] == "kubric" and info["kubric"] == "2023.12.27" and info["blender"] == bpy.app.version_string
    assert info["pybullet"] and info["settings"]["physics"] is True and "pybullet" in info["physics"]
    assert manifest["versions"]["dig-render-kubric"] and bpy.app.version_string.startswith(manifest["versions"]["bpy"])
    assert manifest["content_hash"] == content_hash(baseline)
    assert dig("verify", str(baseline), "--no-progress").returncode == 0


def test_physics_rejections_are_counted(baseline):
    recs = list(read_annotations(baseline))
    for r in recs:  # every line carries the physics reasons (0 when none)
        assert {"off_table", "not_upright", "touching"} <= set(r["rejected"])
    assert sum(r["rejected"]["touching"] for r in recs) > 0
    manifest = json.loads((baseline / "dataset.json").read_text())
    assert manifest["counts"]["rejected"]["touching"] == sum(r["rejected"]["touching"] for r in recs)


def test_annotations_hold_the_settled_poses_that_were_rendered(baseline):
    """scene_a is physics-settled (objects at rest height, apart); re-rendering the recorded specs
    with Kubric gives the recorded boxes."""
    from dig_core.config import plugin_params
    from dig_core.perturbations.base import Difference
    from dig_core.render import Validity, label_pair
    from dig_core.spec import SceneSpec, Vocabulary, footprint_distance, scene_problems
    from dig_render_kubric.renderer import KubricRenderer

    vocab = Vocabulary.default()
    recs = list(read_annotations(baseline))
    for rec in recs:
        a = SceneSpec.from_dict(rec["scene_a"])
        assert scene_problems(a, vocab) == []
        gaps = [footprint_distance(p, q, vocab) for i, p in enumerate(a.objects) for q in a.objects[i + 1:]]
        assert min(gaps, default=1.0) >= 0.6
    errors: list[str] = []
    renderer = KubricRenderer(plugin_params(KubricRenderer, {"samples": 4, "denoise": False}, "renderer.params", errors))
    renderer.setup(vocab, 2)
    rec = recs[-1]
    a, b = SceneSpec.from_dict(rec["scene_a"]), SceneSpec.from_dict(rec["scene_b"])
    ra, rb = renderer.render_pair(a, b)
    diffs, reason = label_pair([Difference.from_dict({**d, "box": None}) for d in rec["differences"]], ra, rb,
                               Validity(20, 6))
    assert reason is None and [d.box for d in diffs] == rec["boxes"]
    assert np.array_equal(np.asarray(Image.open(baseline / rec["image_a"])), ra.image)
    renderer.close()


def test_same_dataset_with_two_workers(baseline, tmp_path):
    out = generated(tmp_path / "two-workers", [*TINY, "generate.workers=2", "generate.threads=1"])
    assert_same_dataset(out, baseline)


def test_resume_after_kill_9(baseline, tmp_path):
    check_resume_after_kill_9(baseline, tmp_path, TINY, pairs=3 * N, poll=0.01)


def test_progress_bar_shows_the_physics_rejections(tmp_path):
    out = tmp_path / "bar"
    args = [a for a in TINY if a != "generate.progress=false"]
    r = dig("generate", "--out", str(out), *args, "generate.progress=true", "generate.workers=1")
    assert r.returncode == 0, r.stderr
    assert "rejected touching=" in r.stderr


def test_show_draws_a_sheet_and_audit_reports_change_inside_boxes(baseline, tmp_path):
    rows = check_show_and_audit(baseline, tmp_path, (128, 96), pairs=3 * N)
    assert np.median([x["inside_share"] for x in rows]) > 0.5
