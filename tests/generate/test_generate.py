"""`dig generate` end to end with real Blender renders (tiny, low-sample images)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dig_core.data.dataset import METADATA, content_hash, read_annotations
from PIL import Image

from tests.helpers import assert_same_dataset, check_resume_after_kill_9, check_show_and_audit, dig, generated

pytestmark = pytest.mark.render

# small but real: 128x96 images, 2 samples, 2 pairs per stage (6 pairs)
TINY = [
    "scene.width=128", "scene.height=96", "scene.max_objects=5",
    "renderer.params.samples=2", "renderer.params.denoise=false",
    "validity.min_visible_pixels=20", "validity.min_box_change=6",
    "curriculum.stages[0].pairs=2", "curriculum.stages[1].pairs=2", "curriculum.stages[2].pairs=2",
    "seed=11", "generate.progress=false",
]


def test_dataset_layout_and_manifest(baseline):
    recs = list(read_annotations(baseline))
    assert [r["id"] for r in recs] == [f"{s}-{i:05d}" for s in ("dig-1", "dig-2", "dig-mix") for i in range(2)]
    manifest = json.loads((baseline / "dataset.json").read_text())
    assert manifest["status"] == "complete" and manifest["counts"]["pairs"] == 6
    assert manifest["config"]["seed"] == 11 and "generate" not in manifest["config"]
    assert manifest["versions"]["dig-core"] and manifest["renderer"]["name"] == "blender"
    assert manifest["format_version"] == 2 and manifest["content_hash"] == content_hash(baseline)
    assert dig("verify", str(baseline), "--no-progress").returncode == 0
    files = sorted(p.name for p in (baseline / "images").iterdir())
    assert files == sorted(f"{r['id']}_{s}.png" for r in recs for s in "ab")


def test_k_matches_stage_and_boxes_are_sane(baseline):
    for r in read_annotations(baseline):
        k = len(r["boxes"])
        assert k == len(r["differences"]) == len({d["object_id"] for d in r["differences"]})
        assert k == {"dig-1": 1, "dig-2": 2}.get(r["stage"], k) and 1 <= k <= 4
        for d, box in zip(r["differences"], r["boxes"]):
            x0, y0, x1, y1 = box
            assert d["box"] == box and 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 96


def test_boxes_equal_instance_map_boxes(baseline):
    """Re-render a pair's scene specs and derive boxes from the renderer's instance maps."""
    from dig_core.perturbations.base import Difference
    from dig_core.plugins import get_plugin_manager
    from dig_core.render import Validity, label_pair, visible_objects
    from dig_core.spec import SceneSpec, Vocabulary

    renderer = get_plugin_manager().get("renderer", "blender")(None)
    from dig_core.config import plugin_params

    errors: list[str] = []
    renderer = type(renderer)(plugin_params(type(renderer), {"samples": 2, "denoise": False}, "renderer.params", errors))
    renderer.setup(Vocabulary.default(), 2)
    rec = list(read_annotations(baseline))[-1]  # a dig-mix pair
    a, b = SceneSpec.from_dict(rec["scene_a"]), SceneSpec.from_dict(rec["scene_b"])
    ra, rb = renderer.render_pair(a, b)
    diffs, reason = label_pair([Difference.from_dict({**d, "box": None}) for d in rec["differences"]], ra, rb,
                               Validity(20, 6))
    assert reason is None
    assert [d.box for d in diffs] == rec["boxes"]
    # every object's visible box and pixel count, as the record keeps them, from the same instance maps
    assert rec["visible_a"] == visible_objects(ra) and rec["visible_b"] == visible_objects(rb)
    assert {o["id"] for o in rec["visible_a"]} <= {o["id"] for o in rec["scene_a"]["objects"]}
    for d in rec["differences"]:
        if d["type"] == "remove":  # the removed object's difference box is its box in I_a
            assert d["box"] == next(o["box"] for o in rec["visible_a"] if o["id"] == d["object_id"])
    img_a = np.asarray(Image.open(baseline / rec["image_a"]))
    assert img_a.shape == (96, 128, 3)
    renderer.close()


def test_same_dataset_with_two_workers(baseline, tmp_path):
    out = generated(tmp_path / "two-workers", [*TINY, "generate.workers=2", "generate.threads=1"])
    assert_same_dataset(out, baseline)


@pytest.mark.ray
def test_ray_executor_gives_the_same_dataset(baseline, tmp_path):
    out = generated(tmp_path / "ray", [*TINY, "generate.executor=ray", "generate.workers=2", "generate.threads=1"])
    assert_same_dataset(out, baseline)


def test_resume_after_kill_9(baseline, tmp_path):
    check_resume_after_kill_9(baseline, tmp_path, TINY, pairs=6)


def test_rerun_of_complete_dataset_is_a_no_op(baseline):
    before = (baseline / METADATA).read_bytes()
    r = dig("generate", "--out", str(baseline), *TINY, "generate.workers=1")
    assert r.returncode == 0, r.stderr
    assert (baseline / METADATA).read_bytes() == before


def test_resume_with_other_config_is_refused(baseline):
    r = dig("generate", "--out", str(baseline), *TINY, "seed=12")
    assert r.returncode == 2 and "different config" in r.stderr and "Traceback" not in r.stderr


def test_show_draws_a_sheet_and_audit_reports_change_inside_boxes(baseline, tmp_path):
    rows = check_show_and_audit(baseline, tmp_path, (128, 96), pairs=6)
    r = dig("show", str(baseline), "--ids", "dig-2-00001,nope", "--out", str(tmp_path / "sheet.png"))
    assert r.returncode == 1 and "nope" in r.stderr
    assert np.median([x["inside_share"] for x in rows]) > 0.5


def test_audit_flags_a_wrong_box(baseline, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(baseline, bad)
    recs = list(read_annotations(bad))
    recs[0]["boxes"] = [[0, 0, 4, 4]]  # a corner where nothing changed
    (bad / METADATA).write_text("".join(json.dumps(r) + "\n" for r in recs))
    r = dig("audit", str(bad))
    assert r.returncode == 0 and f"{recs[0]['id']}: box 0 changed only" in r.stdout


def test_unwritable_out_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = dig("generate", "--out", str(blocker / "ds"), *TINY)
    assert r.returncode == 2 and "cannot write to output folder" in r.stderr and "Traceback" not in r.stderr


def test_impossible_scene_config_is_a_clear_error(tmp_path):
    r = dig("generate", "--out", str(tmp_path / "ds"), *TINY, "scene.min_objects=40", "scene.max_objects=40",
            "scene.bounds=1.5", "scene.max_restarts=2", "scene.max_attempts=5")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "40" in r.stderr
