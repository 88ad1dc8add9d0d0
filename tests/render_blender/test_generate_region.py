"""`dig generate` with ``renderer.params.rerender: region``: the same dataset for 1 and 2 workers and after
a kill -9 and resume, the same labels as ``rerender: full``, I_b equal to I_a outside the crops (so
`dig audit` finds no change outside the boxes beyond their shadows), and device errors/labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dig_core.data.dataset import read_annotations
from dig_core.data.pairs import load_pair
from dig_core.spec import SceneSpec, Vocabulary

from tests.helpers import assert_same_dataset, check_resume_after_kill_9, dig, generated

pytestmark = pytest.mark.render

# 96x64, 2 samples + OIDN (the default's denoised crops), 2 pairs per stage
TINY = [
    "scene.width=96", "scene.height=64", "scene.max_objects=5",
    "renderer.params.samples=2", "renderer.params.rerender=region", "renderer.params.device=cpu",
    "validity.min_visible_pixels=20", "validity.min_box_change=6",
    "curriculum.stages[0].pairs=2", "curriculum.stages[1].pairs=2", "curriculum.stages[2].pairs=2",
    "seed=5", "generate.progress=false",
]


@pytest.fixture(scope="module")
def region(baseline) -> Path:
    """The module's TINY (``rerender: region``) by one worker."""
    return baseline


def test_manifest_records_device_and_rerender(region):
    info = json.loads((region / "dataset.json").read_text())["renderer"]
    assert info["rerender"] == "region" and info["backend"] == "CPU" and info["gpus"] == []
    assert info["settings"]["device"] == "cpu"


def test_two_workers_give_the_same_dataset(region, tmp_path):
    out = generated(tmp_path / "two", [*TINY, "generate.workers=2", "generate.threads=1"])
    assert_same_dataset(out, region, image_bytes=True)


def test_resume_after_kill_9(region, tmp_path):
    check_resume_after_kill_9(region, tmp_path, TINY, pairs=6, image_bytes=True)


def test_labels_equal_those_of_full_renders(region, tmp_path):
    out = tmp_path / "full"
    args = [a.replace("rerender=region", "rerender=full") for a in TINY]
    r = dig("generate", "--out", str(out), *args, "generate.workers=1", "generate.threads=2")
    assert r.returncode == 0, r.stderr
    full, reg = list(read_annotations(out)), list(read_annotations(region))
    same = [(f, g) for f, g in zip(full, reg) if f["scene_b"] == g["scene_b"]]
    assert len(same) >= 5  # the same draws (a validity verdict on near-identical pixels could differ)
    from dig_core.audit import audit_pair

    for f, g in same:
        assert f["boxes"] == g["boxes"] and f["differences"] == g["differences"]
        # audit: region data has about as little change outside its boxes as full renders (2 spp: noisy)
        assert audit_pair(region, g).inside_share >= audit_pair(out, f).inside_share - 0.05, g["id"]


def test_no_change_outside_the_crops_and_audit_is_clean(region, tmp_path):
    from dig_core.audit import audit_pair
    from dig_render_blender.region import crops, rects_mask, region_mask
    from dig_render_blender.renderer import BlenderConfig

    vocab = Vocabulary.default()
    for rec in read_annotations(region):
        a, b = SceneSpec.from_dict(rec["scene_a"]), SceneSpec.from_dict(rec["scene_b"])
        img_a, img_b = load_pair(region, rec)
        rects = crops(a, b, vocab, max_share=BlenderConfig.region_max_share)
        if rects is None:  # rendered in full (crops would cover too much of the frame)
            continue
        # no change at all outside the crops (the changed objects' grown shadow/mirror hulls): I_a's pixels
        assert not (img_a != img_b).any(axis=2)[~rects_mask(rects, a.width, a.height)].any(), rec["id"]
        hull = region_mask(a, b, vocab)
        assert rects_mask(rects, a.width, a.height)[hull].all()
        assert not audit_pair(region, rec, min_box_change=6).suspicious, rec["id"]
    r = dig("audit", str(region), "--json-out", str(tmp_path / "audit.jsonl"))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(min(x["box_change"]) >= 6 for x in rows)


def test_progress_line_names_the_device(tmp_path):
    args = [a for a in TINY if not a.startswith(("curriculum", "generate.progress"))]
    stages = ["curriculum.stages[0].pairs=1", "curriculum.stages[1].pairs=0", "curriculum.stages[2].pairs=0"]
    r = dig("generate", "--out", str(tmp_path / "one"), *args, *stages, "generate.progress=true",
            "generate.workers=1", "generate.threads=2")
    assert r.returncode == 0, r.stderr
    assert "dig generate (1x2, CPU)" in r.stderr


def test_absent_gpu_is_a_clear_error_before_anything_is_written(tmp_path):
    from dig_render_blender.cycles import import_bpy
    from dig_render_blender.devices import query_devices

    if any(query_devices(import_bpy()).found.values()):
        pytest.skip("this machine has a GPU")
    out = tmp_path / "ds"
    r = dig("generate", "--out", str(out), *TINY, "renderer.params.device=gpu")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "renderer.params.device: 'gpu' asks for a GPU" in r.stderr and "no GPU device" in r.stderr
    assert not out.exists()
