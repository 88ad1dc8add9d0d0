"""Samples without an answer (a predictions file lacking their line): scored as wrong by default
(counted, warned, listed), left out with ``missing: exclude``, a bad value is a config error, and
``dig eval compare`` marks runs whose missing answers differ."""

from __future__ import annotations

import json

import pytest

from tests.eval.test_benchmarks import hallusionbench, pope
from tests.eval.util import dig_eval, metrics, write_jsonl

approx = lambda v: pytest.approx(v, abs=1e-3)  # noqa: E731

# POPE's adversarial/2 (truth no, answered "No, there is not.") and popular/1 (truth yes, "yes") lose
# their answers: both were right. HallusionBench's VS question without a figure (answered "I don't
# know", right by the official rule for an unclear answer there) loses its answer too.
DROPPED = {"pope": ["adversarial/2", "popular/1"], "hallusionbench": ["VS/chart/1/0/0"]}


@pytest.fixture
def files(tmp_path):
    pope_root, pope_answers, _, _ = pope(tmp_path / "POPE")
    hb_root, hb_answers, _, _ = hallusionbench(tmp_path / "HB")
    lines = [{"benchmark": b, "id": k, "completion": v}
             for b, answers in (("pope", pope_answers), ("hallusionbench", hb_answers))
             for k, v in answers.items() if k not in DROPPED[b]]
    return pope_root, hb_root, write_jsonl(tmp_path / "answers.jsonl", lines)


def _eval(tmp_path, files, name, *params):
    pope_root, hb_root, answers = files
    extra = "".join(f", {p}" for p in params)
    res = dig_eval("model.name=predictions", f"model.params.path={answers}",
                   "evaluators=[{name: pope, params: {path: " + str(pope_root) + extra + "}}, "
                   "{name: hallusionbench, params: {path: " + str(hb_root) + ", splits: [image, non_image]"
                   + extra + "}}]", "--out", tmp_path / name, "--no-progress")
    return res, tmp_path / name


def test_missing_answers_score_as_wrong_by_default(tmp_path, files):
    res, run = _eval(tmp_path, files, "wrong")
    assert res.exit_code == 0, res.output
    assert "pope: 2 sample(s) without an answer, scored as wrong" in res.output
    assert "adversarial/2, popular/1" in res.output and "2 missing scored as wrong" in res.output
    pope_m = metrics(run, "pope")
    assert pope_m["counts"] == {**pope_m["counts"], "samples": 8, "scored": 8, "missing": 2}
    assert pope_m["missing"] == {"policy": "wrong", "ids": DROPPED["pope"]}
    m = pope_m["metrics"]
    # the missing no-question counts as a yes (FP), the missing yes-question as a no (FN): TP 2, FP 3,
    # FN 2, TN 1 (an empty answer read by POPE's rule would be a yes: a TP, recall 75)
    assert m["accuracy"] == approx(37.5) and m["precision"] == approx(40) and m["recall"] == approx(50)
    assert m["yes_ratio"] == approx(62.5) and m["n"] == 8
    scores = {s["id"]: s for s in map(json.loads, (run / "pope" / "scores.jsonl").read_text().splitlines())}
    assert scores["popular/1"] == {"id": "popular/1", "category": "popular", "pred": None, "answer": "yes",
                                   "correct": False, "missing": True}
    hb = metrics(run, "hallusionbench")
    # 7 questions, 4 right: the unanswered VS question without a figure is wrong, not unclear-right
    assert hb["metrics"]["aAcc"] == approx(400 / 7) and hb["metrics"]["unclear"] == approx(100 / 7)
    assert hb["counts"]["missing"] == 1 and hb["missing"]["ids"] == DROPPED["hallusionbench"]


def test_missing_exclude_keeps_them_out(tmp_path, files):
    res, run = _eval(tmp_path, files, "excluded", "missing: exclude")
    assert res.exit_code == 0, res.output
    assert "left out of the metrics (missing: exclude)" in res.output
    data = metrics(run, "pope")
    assert data["counts"]["scored"] == 6 and data["counts"]["missing"] == 2
    assert data["missing"] == {"policy": "exclude", "ids": DROPPED["pope"]}
    m = data["metrics"]  # TP 2, FP 2, FN 1, TN 1
    assert m["accuracy"] == approx(50) and m["precision"] == approx(50) and m["recall"] == approx(200 / 3)
    assert m["n"] == 6
    assert metrics(run, "hallusionbench")["metrics"]["aAcc"] == approx(400 / 6)  # 4 of the 6 answered


def test_bad_missing_value_is_a_config_error(tmp_path, files):
    res, run = _eval(tmp_path, files, "bad", "missing: skip")
    assert res.exit_code == 2, res.output
    assert "evaluators[0].params" in res.output and "missing" in res.output and "'skip'" in res.output
    assert "wrong" in res.output and "exclude" in res.output and "Traceback" not in res.output
    assert not run.exists()


def test_compare_marks_runs_whose_missing_answers_differ(tmp_path, files):
    pope_root, hb_root, answers = files
    _, wrong = _eval(tmp_path, files, "wrong")
    _, excluded = _eval(tmp_path, files, "excluded", "missing: exclude")
    full = write_jsonl(tmp_path / "full.jsonl", [{"benchmark": "pope", "id": k, "completion": v}
                                                 for k, v in pope(tmp_path / "POPE2")[1].items()])
    res = dig_eval("model.name=predictions", f"model.params.path={full}", "evaluator.name=pope",
                   f"evaluator.params.path={pope_root}", "--out", tmp_path / "full", "--no-progress")
    assert res.exit_code == 0, res.output

    res = dig_eval("compare", tmp_path / "full", wrong, excluded)
    assert res.exit_code == 0, res.output
    rows = {(c[0], c[1]): c[2:] for c in ([x.strip() for x in line.split("|")[1:-1]]
                                          for line in res.output.splitlines() if line.startswith("|"))}
    assert rows[("pope", "missing")] == ["0", "2 wrong", "2 excluded"]
    assert rows[("hallusionbench", "missing")] == ["-", "1 wrong", "1 excluded"]
    assert "Missing answers differ between the runs on pope, hallusionbench" in res.output
    # the same missing answers, scored the same way: nothing to mark
    res = dig_eval("compare", wrong, wrong)
    assert res.exit_code == 0 and "missing" not in res.output


def test_help_says_what_missing_does():
    res = dig_eval("--help")
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    assert "scored as a wrong answer" in text and "missing: exclude" in text
