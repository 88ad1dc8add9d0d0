"""The lmms-eval bridge: lmms-eval 0.7's own ``pope`` task (its YAML, prompts, process_results and
aggregations) on a tiny local POPE parquet, answered through DiG's adapters, both as evaluator
``lmms-eval`` in ``dig eval`` and as lmms-eval model ``dig`` in ``simple_evaluate``; its numbers
match dig's ``pope`` evaluator on the same answers. GPT-judged tasks are refused."""

from __future__ import annotations

import json
import textwrap

import pytest

pytest.importorskip("lmms_eval", reason="lmms-eval is not installed (pip install 'dig-eval[lmms]')")

from tests.eval import bench_files as bf  # noqa: E402
from tests.eval.util import dig_eval, metrics, write_jsonl  # noqa: E402

# category, question_id, ground truth, answer (clean yes/no: lmms-eval's pope compares exactly)
ROWS = [("adversarial", "1", "yes", "Yes"), ("adversarial", "2", "no", "no"), ("adversarial", "3", "no", "yes"),
        ("popular", "1", "yes", "no"), ("popular", "2", "no", "No"), ("random", "1", "yes", "yes"),
        ("random", "2", "no", "YES"), ("random", "3", "yes", "yes")]


@pytest.fixture
def pope_data(tmp_path):
    root = tmp_path / "POPE"
    bf.write_parquet(root / "data/test-00000-of-00001.parquet",
                     [{"id": str(i), "question_id": q, "question": f"Is there a thing {q}?", "answer": a,
                       "image_source": "coco", "image": bf.image_cell(), "category": c}
                      for i, (c, q, a, _) in enumerate(ROWS)], bf.POPE_SCHEMA)
    lines = [{"benchmark": "lmms-eval", "id": f"pope/{i}", "completion": r[3]} for i, r in enumerate(ROWS)]
    lines += [{"benchmark": "pope", "id": f"{c}/{q}", "completion": comp} for c, q, _, comp in ROWS]
    return root, write_jsonl(tmp_path / "answers.jsonl", lines)


def _run(tmp_path, name, *args):
    res = dig_eval(*args, "--out", tmp_path / name, "--no-progress")
    return res, tmp_path / name


def test_bridge_matches_dig_pope_and_simple_evaluate(tmp_path, pope_data):
    root, answers = pope_data
    res, out = _run(tmp_path, "run", "model.name=predictions", f"model.params.path={answers}",
                    "evaluator.name=lmms-eval", "evaluator.params.tasks=[pope]", f"evaluator.params.data.pope={root}",
                    "evaluators=[{name: pope, params: {path: " + str(root) + "}}]")
    assert res.exit_code == 0, res.output
    bridge = metrics(out, "lmms-eval")["metrics"]
    ours = metrics(out, "pope")["metrics"]
    assert bridge["pope/n"] == ours["n"] == len(ROWS)
    # TP 3, FP 2, FN 1, TN 2
    assert ours["accuracy"] == pytest.approx(62.5)
    for lm, mine in (("pope_accuracy", "accuracy"), ("pope_precision", "precision"), ("pope_recall", "recall"),
                     ("pope_f1_score", "f1")):
        assert 100 * bridge[f"pope/{lm}"] == pytest.approx(ours[mine]), lm
    # lmms-eval's pope_yes_ratio is the share of yes in the ground truth; POPE's (ours) counts answers
    assert bridge["pope/pope_yes_ratio"] == pytest.approx(4 / 8)
    assert ours["yes_ratio"] == pytest.approx(100 * 5 / 8)
    scores = [json.loads(s) for s in (out / "lmms-eval" / "scores.jsonl").read_text().splitlines()]
    assert {s["id"] for s in scores} == {f"pope/{i}" for i in range(len(ROWS))}

    # the same task through lmms-eval's own evaluator with DiG's model `dig` (entry point)
    from dig_eval.adapters.predictions import PredictionsAdapter, PredictionsConfig
    from dig_eval.lmms.model import DigLmms
    from dig_eval.lmms.tasks import data_override
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.models import get_model
    from lmms_eval.tasks import TaskManager

    assert get_model("dig") is DigLmms
    lm = DigLmms(adapter=PredictionsAdapter(PredictionsConfig(path=str(answers))))
    results = simple_evaluate(model=lm, tasks=[{"task": "pope", **data_override("pope", str(root), "test")}],
                              task_manager=TaskManager("WARNING"), bootstrap_iters=0, log_samples=False,
                              process_docs_parallel=1)
    r = results["results"]["pope"]
    assert r["pope_accuracy,none"] == pytest.approx(bridge["pope/pope_accuracy"])
    assert r["pope_f1_score,none"] == pytest.approx(bridge["pope/pope_f1_score"])


def test_include_path_task_with_local_parquet(tmp_path, pope_data):
    root, answers = pope_data
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "utils.py").write_text("from lmms_eval.tasks.pope.utils import *  # noqa: F401,F403\n")
    (tasks / "pope_local.yaml").write_text(textwrap.dedent(f"""\
        task: pope_local
        dataset_path: parquet
        dataset_kwargs:
          data_files:
            test: {root}/data/test-00000-of-00001.parquet
        test_split: test
        output_type: generate_until
        doc_to_visual: !function utils.pope_doc_to_visual
        doc_to_text: !function utils.pope_doc_to_text
        doc_to_target: "answer"
        generation_kwargs:
          max_new_tokens: 8
        process_results: !function utils.pope_process_results
        metric_list:
          - metric: pope_accuracy
            aggregation: !function utils.pope_aggregate_accuracy
            higher_is_better: true
        lmms_eval_specific_kwargs:
          default:
            pre_prompt: ""
            post_prompt: "\\nAnswer the question using a single word or phrase."
        """))
    lines = [{"benchmark": "lmms-eval", "id": f"pope_local/{i}", "completion": r[3]} for i, r in enumerate(ROWS)]
    preds = write_jsonl(tmp_path / "local.jsonl", lines)
    res, out = _run(tmp_path, "local", "model.name=predictions", f"model.params.path={preds}",
                    "evaluator.name=lmms-eval", "evaluator.params.tasks=[pope_local]",
                    f"evaluator.params.include_path=[{tasks}]", "evaluator.params.limit=4")
    assert res.exit_code == 0, res.output
    m = metrics(out, "lmms-eval")["metrics"]
    assert m["pope_local/n"] == 4 and m["pope_local/pope_accuracy"] == pytest.approx(2 / 4)  # rows 1, 2 right


@pytest.mark.parametrize("task,words", [("mmvet", "GPT"), ("hallusion_bench_image", "hallusionbench"),
                                        ("no_such_task", "unknown task")])
def test_refused_and_unknown_tasks(tmp_path, pope_data, task, words):
    _, answers = pope_data
    res, _ = _run(tmp_path, "bad", "model.name=predictions", f"model.params.path={answers}",
                  "evaluator.name=lmms-eval", f"evaluator.params.tasks=[{task}]")
    assert res.exit_code != 0 and "error:" in res.output and words in res.output and "Traceback" not in res.output


def test_missing_local_data_is_an_error(tmp_path, pope_data):
    _, answers = pope_data
    res, _ = _run(tmp_path, "nodata", "model.name=predictions", f"model.params.path={answers}",
                  "evaluator.name=lmms-eval", "evaluator.params.tasks=[pope]",
                  f"evaluator.params.data.pope={tmp_path / 'nowhere.parquet'}")
    assert res.exit_code != 0 and "pope" in res.output and "nowhere.parquet" in res.output


def test_bridge_with_a_tiny_hf_model(tmp_path, pope_data, tiny_qwen3_vl):
    root, _ = pope_data
    res, out = _run(tmp_path, "hf", "model.name=hf", f"model.params.path={tiny_qwen3_vl}", "model.params.device=cpu",
                    "evaluator.name=lmms-eval", "evaluator.params.tasks=[pope]", f"evaluator.params.data.pope={root}",
                    "evaluator.params.max_new_tokens=6")
    assert res.exit_code == 0, res.output
    result = metrics(out, "lmms-eval")
    m = result["metrics"]
    assert result["counts"]["scored"] == m["pope/n"] == len(ROWS)
    for key in ("pope_accuracy", "pope_precision", "pope_recall", "pope_f1_score"):
        assert 0.0 <= m[f"pope/{key}"] <= 1.0
    scores = [json.loads(s) for s in (out / "lmms-eval" / "scores.jsonl").read_text().splitlines()]
    acc = sum(s["results"]["pope_accuracy"]["score"] for s in scores) / len(scores)
    assert m["pope/pope_accuracy"] == pytest.approx(acc)
