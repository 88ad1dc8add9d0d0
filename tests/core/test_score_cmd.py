"""``dig score``: per-sample components, aggregate table, id problems reported, clear errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from dig_core.cli import load_commands
from dig_core.data.dataset import ANNOTATIONS
from dig_core.data.predictions import read_predictions
from dig_core.errors import DigError
from dig_core.reward import COMPONENTS


def _ann(i: int, boxes: list[list[int]], types: list[str]) -> dict:
    return {"id": f"p-{i}", "stage": "s", "image_a": f"images/p-{i}_a.png", "image_b": f"images/p-{i}_b.png",
            "width": 100, "height": 100, "boxes": boxes,
            "differences": [{"type": t, "object_id": j, "before": {}, "after": {}, "box": b}
                            for j, (t, b) in enumerate(zip(types, boxes))],
            "scene_a": {}, "scene_b": {}, "seed": i}


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    anns = [_ann(0, [[10, 10, 20, 20]], ["color"]),
            _ann(1, [[10, 10, 20, 20], [50, 50, 70, 70]], ["color", "add"]),
            _ann(2, [[0, 0, 30, 30]], ["remove"])]
    (root / ANNOTATIONS).write_text("".join(json.dumps(a) + "\n" for a in anns))
    return root


def _preds(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _run(*args):
    return CliRunner().invoke(load_commands(), ["score", *map(str, args)])


def test_scores_and_table(dataset, tmp_path):
    preds = _preds(tmp_path / "preds.jsonl", [
        {"id": "p-0", "completion": "<think>easy</think>[[10, 10, 20, 20]]"},
        {"id": "p-1", "completion": "[[20, 20, 40, 40], [100, 100, 140, 140]]", "scale": 2},  # GT at 2x
        {"id": "p-2", "completion": "I cannot tell."},
    ])
    out = tmp_path / "sub" / "scored.jsonl"
    res = _run(preds, "--dataset", dataset, "--out", out)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["p-0", "p-1", "p-2"]
    assert all(set(r) == {"id", *COMPONENTS} for r in rows)
    assert [r["reward"] for r in rows] == [1.0, 1.0, 0.0]
    assert rows[1]["n_match"] == 2 and rows[2]["format"] == 0.0
    lines = {line.split()[0]: line.split() for line in res.output.splitlines()[1:]}
    assert lines["group"] == ["group", "n", "format", "precision", "recall", "f1", "miou", "reward", "accuracy", "found"]
    assert lines["all"][1] == "3" and lines["all"][-2] == "0.667" and lines["all"][-1] == "0.750"
    assert lines["k=2"][1] == "1" and lines["k=1"][1] == "2"
    assert lines["type=remove"][-1] == "0.000" and lines["type=color"][-1] == "1.000"
    assert not list(out.parent.glob(".*tmp"))


def test_config_and_overrides_choose_task_and_reward(dataset, tmp_path):
    preds = _preds(tmp_path / "p.jsonl", [{"id": "p-0", "completion": "[[100, 100, 200, 200]]"},
                                          {"id": "p-1", "completion": "[]"}, {"id": "p-2", "completion": "x"}])
    cfg = tmp_path / "c.yaml"
    cfg.write_text("task: {name: dig, params: {coords: rel1000}}\n")
    out = tmp_path / "o.jsonl"
    res = _run(preds, "-d", dataset, "-o", out, "--config", cfg, "reward.params.alpha=0.5")
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text().splitlines()[0])["reward"] == 1.0
    assert json.loads(out.read_text().splitlines()[1])["reward"] == 0.0


def test_unknown_duplicate_and_missing_ids_are_reported(dataset, tmp_path):
    preds = _preds(tmp_path / "p.jsonl", [{"id": "p-0", "completion": "[[10, 10, 20, 20]]"},
                                          {"id": "zz", "completion": "[]"},
                                          {"id": "p-0", "completion": "[]"}])
    res = _run(preds, "--dataset", dataset)
    assert res.exit_code == 0
    assert "1 prediction id(s) not in the dataset (not scored): 'zz'" in res.output
    assert "'p-0 (lines 1, 3)'" in res.output
    assert "2 dataset sample(s) without a prediction (not scored): 'p-1', 'p-2'" in res.output
    assert "scored 1 of 3 samples" in res.output
    strict = _run(preds, "--dataset", dataset, "--strict")
    assert strict.exit_code == 2 and "error:" in strict.output and "Traceback" not in strict.output


@pytest.mark.parametrize("content, message", [
    ('{"id": "p-0", "completion": "[]"}\n{"id": "p-1", "compl', ":2: corrupt line"),
    ('[1, 2]\n', ":1: expected a JSON object"),
    ('{"id": 3, "completion": "[]"}\n', ":1: 'id' must be a string"),
    ('{"id": "p-0"}\n', ":1: 'completion' must be a string"),
    ('{"id": "p-0", "completion": "[]", "scale": -1}\n', ":1: 'scale' must be a positive number"),
])
def test_bad_predictions_name_file_and_line(dataset, tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    res = _run(path, "--dataset", dataset)
    assert res.exit_code == 2 and f"{path}{message}" in res.output and "Traceback" not in res.output
    with pytest.raises(DigError):
        read_predictions(path)


def test_missing_files_and_corrupt_annotations(dataset, tmp_path):
    res = _run(tmp_path / "nope.jsonl", "--dataset", dataset)
    assert res.exit_code == 2 and "predictions file not found" in res.output
    preds = _preds(tmp_path / "p.jsonl", [{"id": "p-0", "completion": "[]"}])
    res = _run(preds, "--dataset", tmp_path / "nodir")
    assert res.exit_code == 2 and "dataset folder not found" in res.output
    with open(dataset / ANNOTATIONS, "a") as f:
        f.write('{"id": "broken"\n')
    res = _run(preds, "--dataset", dataset, "--out", tmp_path / "o.jsonl")
    assert res.exit_code == 2 and f"{dataset / ANNOTATIONS}:4:" in res.output
    assert not (tmp_path / "o.jsonl").exists()
