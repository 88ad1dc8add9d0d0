"""Every benchmark evaluator end to end with the ``hf`` adapter and a tiny random Qwen2.5-VL and
Qwen3-VL built locally: the run completes, writes predictions, scores and metrics, and the metrics
are in range and follow from the per-sample records (random models answer garbage)."""

from __future__ import annotations

import json

import pytest
import yaml
from dig_core.plugins import get_plugin_manager

from tests.eval import test_benchmarks as tb
from tests.eval.util import dig_eval, metrics

COUNT_KEYS = ("n", "n_pairs", "n_question_groups", "n_figures")


def _write_all(root):
    """Every benchmark's tiny data; returns the evaluators section of a config."""
    entries = []
    for bench, writer in tb.CASES.items():
        data, _, _, extra = writer(root / bench)
        if bench == "refcocog":
            (data / "data/testA-00000-of-00001.parquet").rename(data / "data/test-00000-of-00001.parquet")
        params = {"path": str(data), "max_new_tokens": 12}
        if bench == "hallusionbench":
            params["splits"] = ["image", "non_image"]
        entries.append({"name": bench, "params": params})
    return entries


@pytest.mark.parametrize("family", ["tiny_qwen25_vl", "tiny_qwen3_vl"])
def test_every_benchmark_with_a_tiny_model(tmp_path, family, request):
    model_dir = request.getfixturevalue(family)
    evaluators = _write_all(tmp_path / "data")
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(yaml.safe_dump({
        "model": {"name": "hf", "params": {"path": str(model_dir), "device": "cpu", "batch_size": 4}},
        "evaluators": evaluators}))
    out = tmp_path / "run"
    res = dig_eval("--config", cfg, "--out", out, "--no-progress")
    assert res.exit_code == 0, res.output
    registry = get_plugin_manager().registries["evaluator"]
    for entry in evaluators:
        bench = entry["name"]
        result = metrics(out, bench)
        preds = (out / bench / "predictions.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in (out / bench / "scores.jsonl").read_text().splitlines()]
        assert result["counts"]["scored"] == result["counts"]["samples"] == len(preds) == len(records) > 0
        assert result["model"]["family"] in ("qwen2_5_vl", "qwen3_vl")
        m = result["metrics"]
        assert m, bench
        for key, value in m.items():
            if key.split("/")[-1] in COUNT_KEYS:
                assert value >= 1, (bench, key)
            else:
                assert 0.0 <= value <= 100.0, (bench, key, value)
        # the metrics follow from the stored per-sample records
        ev = registry[bench].cls(registry[bench].cls.Config(**entry["params"]))
        again = ev.metrics([{k: v for k, v in r.items() if k != "id"} for r in records])
        assert again == pytest.approx(m), bench
        if bench in ("refcoco", "refcoco+", "refcocog"):
            assert all(0.0 <= r["iou"] <= 1.0 for r in records)
            assert all(r["hit@0.5"] == (r["iou"] >= 0.5) for r in records)
        if bench == "pope":
            assert all(r["pred"] in ("yes", "no") for r in records)
