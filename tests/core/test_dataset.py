"""Dataset folder: atomic writes, resume repair, corrupt lines named, datasets.load_dataset."""

from __future__ import annotations

import json

import pytest
from dig_core.dataset import (
    ANNOTATIONS,
    DatasetWriter,
    atomic_write_text,
    image_names,
    read_annotations,
    read_manifest,
)
from dig_core.errors import DatasetError


def _record(i: int) -> dict:
    a, b = image_names(f"p-{i}")
    return {"id": f"p-{i}", "stage": "s", "image_a": a, "image_b": b, "width": 4, "height": 3,
            "boxes": [[0, 0, 2, 2]], "differences": [{"type": "color", "object_id": 0, "before": {"color": "red"},
                                                      "after": {"color": "blue"}, "box": [0, 0, 2, 2]}],
            "scene_a": {}, "scene_b": {}, "seed": i}


def _write(root, n, manifest=None):
    w = DatasetWriter(root).open(manifest or {"config": {"seed": 0}})
    with w:
        for i in range(n):
            rec = _record(i)
            w.write_pair(rec, {rec["image_a"]: b"A", rec["image_b"]: b"B"})
    return w


def test_write_and_read_back(tmp_path):
    _write(tmp_path, 3)
    recs = list(read_annotations(tmp_path))
    assert [r["id"] for r in recs] == ["p-0", "p-1", "p-2"]
    assert (tmp_path / "images" / "p-2_b.png").read_bytes() == b"B"
    assert read_manifest(tmp_path)["config"] == {"seed": 0}


def test_resume_repairs_truncated_line_orphans_and_temp_files(tmp_path):
    _write(tmp_path, 2)
    ann = tmp_path / ANNOTATIONS
    ann.write_bytes(ann.read_bytes() + b'{"id": "p-2", "stage": "s", "ima')  # killed mid-line
    (tmp_path / "images" / "p-2_a.png").write_bytes(b"orphan")  # image without a line
    (tmp_path / "images" / ".p-3_a.png.123.tmp").write_bytes(b"half")
    w = DatasetWriter(tmp_path).open({"config": {"seed": 0}})
    w.close()
    assert w.done == ["p-0", "p-1"]
    assert ann.read_bytes().endswith(b"\n")
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == ["p-0_a.png", "p-0_b.png", "p-1_a.png", "p-1_b.png"]


def test_resume_with_other_config_is_refused(tmp_path):
    _write(tmp_path, 1)
    with pytest.raises(DatasetError, match="different config"):
        DatasetWriter(tmp_path).open({"config": {"seed": 1}})


def test_corrupt_line_is_named(tmp_path):
    _write(tmp_path, 2)
    ann = tmp_path / ANNOTATIONS
    lines = ann.read_text().splitlines()
    lines.insert(1, "{not json")
    ann.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"annotations.jsonl:2: corrupt line"):
        list(read_annotations(tmp_path))
    lines[1] = json.dumps({"id": "x"})
    ann.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r":2: annotation 'x' lacks key"):
        list(read_annotations(tmp_path))


def test_missing_dataset(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        list(read_annotations(tmp_path / "nope"))
    with pytest.raises(DatasetError, match="annotations.jsonl: not found"):
        list(read_annotations(tmp_path))


def test_unwritable_out_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DatasetError, match="cannot write to output folder"):
        DatasetWriter(blocker / "sub").open({"config": {}})


def test_atomic_write_leaves_no_temp(tmp_path):
    atomic_write_text(tmp_path / "f.json", "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_loadable_with_hf_datasets(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    _write(tmp_path / "d", 3)
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "d" / ANNOTATIONS), split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == 3 and ds[0]["boxes"] == [[0, 0, 2, 2]]
