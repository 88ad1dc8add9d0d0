"""The runner: run folder layout, resume after an interruption (finished predictions reused, generate
called only for the rest), refusing to mix models or changed data, config errors."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from dig_core import hookimpl
from dig_core.config import load_config
from dig_core.errors import ConfigError, DigError
from dig_core.plugins.manager import PluginManager
from dig_eval.adapters.hf import HFAdapter
from dig_eval.run import SECTIONS, run_eval

from tests.eval.util import ann, dig_eval, metrics, write_annotations, write_jsonl
from tests.helpers import write_dig_dataset


class InterruptedHF(HFAdapter):
    """The real hf adapter, interrupted (like Ctrl-C) once ``stop_after`` batches are done."""

    PLUGIN_NAME: ClassVar[str] = "hf-interrupted"
    stop_after: ClassVar[int | None] = None
    batches: ClassVar[list[list[str]]] = []

    def generate(self, requests):
        if InterruptedHF.stop_after is not None and len(InterruptedHF.batches) >= InterruptedHF.stop_after:
            raise KeyboardInterrupt
        InterruptedHF.batches.append([r.id for r in requests])
        return super().generate(requests)


class _Plugin:
    @hookimpl
    def register_model_adapters(self):
        return [InterruptedHF]


@pytest.fixture
def pm():
    manager = PluginManager()
    manager.register(_Plugin(), "test-interrupted")
    return manager


def _cfg(pm, model_path, dataset, *extra):
    return load_config(None, ["model.name=hf-interrupted", f"model.params.path={model_path}",
                              "model.params.batch_size=1", "model.params.max_new_tokens=6",
                              "model.params.do_sample=true", "evaluator.name=dig",
                              f"evaluator.params.dataset={dataset}", *extra], pm=pm, sections=SECTIONS)


def test_resume_reuses_finished_predictions(tmp_path, tiny_qwen3_vl, pm):
    ds = write_dig_dataset(tmp_path / "ds", n=4, size=(64, 48))
    out = tmp_path / "run"
    InterruptedHF.batches.clear()
    InterruptedHF.stop_after = 2
    with pytest.raises(KeyboardInterrupt):
        run_eval(_cfg(pm, tiny_qwen3_vl, ds), out, progress=False, pm=pm)
    lines = (out / "dig" / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 2 and not (out / "dig" / "metrics.json").exists()
    with open(out / "dig" / "predictions.jsonl", "a") as f:  # a line cut off by the kill
        f.write('{"benchmark": "dig", "id": "dig-1-0000')

    InterruptedHF.batches.clear()
    InterruptedHF.stop_after = None
    res = run_eval(_cfg(pm, tiny_qwen3_vl, ds), out, progress=False, pm=pm)
    assert InterruptedHF.batches == [["dig-1-00002"], ["dig-1-00003"]]
    counts = res["dig"]["counts"]
    assert counts == {"samples": 4, "scored": 4, "missing": 0, "reused": 2, "generated": 2}
    resumed = (out / "dig" / "predictions.jsonl").read_text().splitlines()
    assert resumed[:2] == lines and len(resumed) == 4

    # a fresh uninterrupted run with the same seed gives the same answers (per-batch seeds)
    InterruptedHF.batches.clear()
    run_eval(_cfg(pm, tiny_qwen3_vl, ds), tmp_path / "fresh", progress=False, pm=pm)
    fresh = (tmp_path / "fresh" / "dig" / "predictions.jsonl").read_text().splitlines()
    assert [json.loads(x)["completion"] for x in fresh] == [json.loads(x)["completion"] for x in resumed]

    # nothing left to do: no generate call, everything reused and rescored
    InterruptedHF.batches.clear()
    again = run_eval(_cfg(pm, tiny_qwen3_vl, ds), out, progress=False, pm=pm)
    assert InterruptedHF.batches == [] and again["dig"]["counts"]["reused"] == 4
    assert again["dig"]["metrics"] == res["dig"]["metrics"]

    # another model in the same folder is refused; so are changed data
    with pytest.raises(DigError, match="another model"):
        run_eval(_cfg(pm, tiny_qwen3_vl, ds, "model.params.seed=1"), out, progress=False, pm=pm)
    changed = write_dig_dataset(tmp_path / "ds2", n=4, size=(64, 48), seed=5)
    with pytest.raises(DigError, match="different sample"):
        run_eval(_cfg(pm, tiny_qwen3_vl, changed), out, progress=False, pm=pm)


def test_several_evaluators_and_results(tmp_path):
    a = write_annotations(tmp_path / "a", [ann("x", [[0, 0, 10, 10]], ["add"])])
    b = write_annotations(tmp_path / "b", [ann("x", [[0, 0, 50, 50]], ["remove"])])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"benchmark": "dig-a", "id": "x", "completion": "[[0, 0, 10, 10]]"},
                                               {"benchmark": "dig-b", "id": "x", "completion": "[[0, 0, 10, 10]]"}])
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(f"""
model: {{name: predictions, params: {{path: {preds}, coords: pixels}}}}
evaluators:
  - {{name: dig, params: {{dataset: {a}, name: dig-a}}}}
  - {{name: dig, params: {{dataset: {b}, name: dig-b}}}}
""")
    res = dig_eval("--config", cfg, "--out", tmp_path / "run", "--no-progress")
    assert res.exit_code == 0, res.output
    assert metrics(tmp_path / "run", "dig-a")["metrics"]["f1"] == 100.0
    assert metrics(tmp_path / "run", "dig-b")["metrics"]["f1"] == 0.0
    md = (tmp_path / "run" / "results.md").read_text()
    assert md.index("## dig-a") < md.index("## dig-b")
    assert json.loads((tmp_path / "run" / "eval.json").read_text())["benchmarks"] == ["dig-a", "dig-b"]
    # same benchmark name twice is an error naming the fix
    cfg.write_text(cfg.read_text().replace("name: dig-b", "name: dig-a"))
    res = dig_eval("--config", cfg, "--out", tmp_path / "run2", "--no-progress")
    assert res.exit_code == 2 and "dig-a" in res.output and "params.name" in res.output


def test_an_eval_folder_of_an_earlier_version_keeps_its_run_json(tmp_path):
    """An eval run's info file is eval.json; earlier versions named it run.json, the name of a
    training run's manifest. Such a folder still refuses another model, resumes (keeping its
    run.json), is read by compare and found by the report; a training run's run.json is no eval info."""
    import shutil

    from dig_eval.report import read_run
    from dig_eval.run_report.discover import eval_model, is_eval_run

    ds = write_annotations(tmp_path / "ds", [ann("x", [[0, 0, 10, 10]], ["add"])])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"benchmark": "dig", "id": "x", "completion": "[[0, 0, 10, 10]]"}])
    other = write_jsonl(tmp_path / "q.jsonl", [{"benchmark": "dig", "id": "x", "completion": "[]"}])
    args = ["model.name=predictions", "model.params.coords=pixels", "evaluator.name=dig",
            f"evaluator.params.dataset={ds}", "--no-progress"]
    res = dig_eval(*args, f"model.params.path={preds}", "--out", tmp_path / "new")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "new" / "eval.json").is_file() and not (tmp_path / "new" / "run.json").exists()

    old = tmp_path / "old"
    shutil.copytree(tmp_path / "new", old)
    (old / "eval.json").rename(old / "run.json")
    assert is_eval_run(old) and eval_model(old) == str(preds) and list(read_run(old)) == ["dig"]
    res = dig_eval(*args, f"model.params.path={other}", "--out", old)
    assert res.exit_code == 1 and "another model" in res.output
    res = dig_eval(*args, f"model.params.path={preds}", "--out", old)
    assert res.exit_code == 0, res.output
    assert not (old / "eval.json").exists() and json.loads((old / "run.json").read_text())["benchmarks"] == ["dig"]

    train = tmp_path / "train"
    shutil.copytree(tmp_path / "new", train)
    (train / "eval.json").unlink()
    (train / "run.json").write_text(json.dumps({"trainer": "trl", "stages": ["dig-1"]}))
    assert not is_eval_run(train) and eval_model(train) is None

def test_config_errors(tmp_path):
    ds = write_annotations(tmp_path / "ds", [ann("x", [[0, 0, 10, 10]], ["add"])])
    preds = write_jsonl(tmp_path / "p.jsonl", [{"benchmark": "dig", "id": "x", "completion": "[]"}])
    base = ["evaluator.name=dig", f"evaluator.params.dataset={ds}", "--out", tmp_path / "r", "--no-progress"]
    # a failed start leaves no run behind (so the fixed command is not refused as "another model")

    res = dig_eval("model.name=nope", *base)
    assert res.exit_code == 2 and "nope" in res.output
    assert all(n in res.output for n in ("hf", "predictions", "vllm")) and "Traceback" not in res.output

    res = dig_eval("model.name=predictions", f"model.params.path={preds}", "model.params.coords=pixels",
                   "evaluator.name=dig", f"evaluator.params.dataset={tmp_path / 'nowhere'}", "--out", tmp_path / "r")
    assert res.exit_code == 2 and str(tmp_path / "nowhere") in res.output and "dataset" in res.output

    res = dig_eval("model.name=predictions", f"model.params.path={preds}", *base)
    assert res.exit_code == 2 and "model.params.coords" in res.output  # boxes need a convention
    assert not (tmp_path / "r").exists()

    res = dig_eval("model.name=predictions", f"model.params.path={tmp_path / 'none.jsonl'}", *base)
    assert res.exit_code == 2 and "none.jsonl" in res.output

    res = dig_eval("model.name=hf", f"model.params.path={tmp_path / 'no-model'}", *base)
    assert res.exit_code == 1 and "no-model" in res.output

    res = dig_eval("model.name=hf", "model.params.device=tpu", "model.params.top_p=0", *base)
    assert res.exit_code == 2
    assert "device" in res.output and "top_p" in res.output and "path" in res.output  # every problem at once

    res = dig_eval("model.name=predictions", f"model.params.path={preds}", "--out", tmp_path / "r")
    assert res.exit_code == 2 and "no evaluator configured" in res.output and "dig" in res.output

    res = dig_eval("model.name=predictions", f"model.params.path={preds}", "evaluator.name=dig",
                   "evaluator.params.limit=0", "evaluator.params.thresholds=[0.5,2]", "--out", tmp_path / "r")
    assert res.exit_code == 2 and "limit" in res.output and "thresholds" in res.output and "dataset" in res.output

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"benchmark": "dig", "id": "x", "completion": 3}\n')
    res = dig_eval("model.name=predictions", f"model.params.path={bad}", *base)
    assert res.exit_code == 2 and "bad.jsonl:1" in res.output and "completion" in res.output


def test_a_file_given_as_dataset_is_named_as_such(tmp_path):
    ds = write_dig_dataset(tmp_path / "ds", n=1)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"benchmark": "dig", "id": "x", "completion": "[]"}])
    res = dig_eval("model.name=predictions", f"model.params.path={preds}", "model.params.coords=pixels",
                   "evaluator.name=dig", f"evaluator.params.dataset={ds / 'metadata.jsonl'}", "--out", tmp_path / "r")
    assert res.exit_code == 2 and "metadata.jsonl is a file, not a folder" in res.output
    assert "(dataset.json, metadata.jsonl, images/)" in res.output and "annotations.jsonl" not in res.output


def test_predictions_without_benchmark_need_the_param(tmp_path):
    from dig_eval.adapters.predictions import PredictionsAdapter, PredictionsConfig

    p = write_jsonl(tmp_path / "p.jsonl", [{"id": "x", "completion": "a"}, {"id": "x", "completion": "b"}])
    with pytest.raises(DigError, match="benchmark"):
        PredictionsAdapter(PredictionsConfig(path=str(p)))
    ad = PredictionsAdapter(PredictionsConfig(path=str(p), benchmark="dig"))
    assert ad.info()["duplicates"] == 1 and ad.answers[("dig", "x")][0] == "a"  # first line wins, like dig score
    with pytest.raises(ConfigError, match="coords"):
        ad.coords()
