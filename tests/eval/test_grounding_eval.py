"""The ``grounding`` evaluator: RefCOCO's scoring on the single-object samples of a DiG dataset
(dig_core.grounding), through the real ``dig eval`` CLI and the ``predictions`` adapter."""

from __future__ import annotations

import pytest
from dig_core.data.dataset import read_annotations
from dig_core.grounding import GROUNDING_PROMPT, grounding_samples

from tests.eval.util import dig_eval, metrics, write_jsonl
from tests.helpers import write_dig_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dig_dataset(tmp_path_factory.mktemp("g") / "ds", size=(100, 50), seed=3,
                             stages=[("dig-1", 1, 1, True, 24), ("dig-2", 2, 2, True, 3)])


def test_scores_like_refcoco_on_the_datasets_objects(tmp_path, dataset):
    everything = grounding_samples(read_annotations(dataset))
    assert {s.stage for s in everything} == {"dig-1", "dig-2"}
    samples = [s for s in everything if s.stage == "dig-1"]
    assert len(samples) >= 6
    # exact boxes (rel1000 of the 100x50 images) for the first half, a far-off box for the rest
    half = len(samples) // 2
    lines = []
    for i, s in enumerate(samples):
        x0, y0, x1, y1 = s.box
        box = [x0 * 10, y0 * 20, x1 * 10, y1 * 20] if i < half else [990, 990, 1000, 1000]
        lines.append({"benchmark": "grounding", "id": f"dig-1/{s.id}/0",
                      "completion": "[" + ", ".join(f"{v:g}" for v in box) + "]"})
    preds = write_jsonl(tmp_path / "p.jsonl", lines)
    out = tmp_path / "run"
    res = dig_eval("model.name=predictions", f"model.params.path={preds}", "model.params.coords=rel1000",
                   "evaluator.name=grounding", f"evaluator.params.path={dataset}", "--out", out, "--no-progress")
    assert res.exit_code == 0, res.output
    m = metrics(out, "grounding")["metrics"]
    assert m["dig-1/n"] == len(samples)
    assert m["dig-1/acc@0.5"] == pytest.approx(100 * half / len(samples), abs=1e-3)
    assert m["dig-1/acc@0.95"] == m["dig-1/acc@0.5"]
    assert m["dig-1/parsed"] == 100.0


def test_prompt_is_refcocos_and_errors_name_the_key(tmp_path, dataset):
    from dig_eval.evaluators.refcoco import PROMPT

    assert PROMPT == GROUNDING_PROMPT  # what the base-model stage trains on is what refcoco asks
    res = dig_eval("model.name=predictions", f"model.params.path={tmp_path / 'none.jsonl'}",
                   "evaluator.name=grounding", "--out", tmp_path / "r", "--no-progress")
    assert res.exit_code == 2 and "path: set the DiG dataset folder" in res.output
    preds = write_jsonl(tmp_path / "p.jsonl", [])
    res = dig_eval("model.name=predictions", f"model.params.path={preds}",
                   "model.params.coords=rel1000", "evaluator.name=grounding", f"evaluator.params.path={dataset}",
                   "evaluator.params.splits=[dig-9]", "--out", tmp_path / "r2", "--no-progress")
    assert res.exit_code != 0 and "no grounding samples in stage(s) ['dig-9']" in res.output


def test_the_configs_grounding_template_is_the_prompt_unless_prompt_is_set(tmp_path, dataset):
    from dig_core.config import load_config
    from dig_eval.adapters.predictions import PredictionsAdapter, PredictionsConfig
    from dig_eval.evaluators.grounding import GroundingConfig, GroundingEvaluator

    preds = write_jsonl(tmp_path / "p.jsonl", [])
    model = PredictionsAdapter(PredictionsConfig(path=str(preds), coords="rel1000"))
    cfg = load_config(None, ["task.params.grounding_template=Box the {expression}."], sections=("task",))
    ev = GroundingEvaluator(GroundingConfig(path=str(dataset)))
    ev.bind(cfg)
    assert {s.request.prompt.split(" the ", 1)[0] for s in ev.samples(model)} == {"Box"}
    explicit = GroundingEvaluator(GroundingConfig(path=str(dataset), prompt="Where is {expression}?"))
    explicit.bind(cfg)
    assert explicit.samples(model)[0].request.prompt.startswith("Where is ")
    default = GroundingEvaluator(GroundingConfig(path=str(dataset)))
    default.bind(load_config(None, [], sections=("task",)))
    assert default.samples(model)[0].request.prompt.startswith("Locate the object described by")
