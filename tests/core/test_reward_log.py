"""Per-sample scoring and the rewards.jsonl writer every trainer shares (dig_core.training.reward_log)."""

from __future__ import annotations

import json
import multiprocessing

import pytest
from dig_core.config import load_config
from dig_core.training import REWARD_FIELDS
from dig_core.training.labels import Label
from dig_core.training.reward_log import LOG_KEYS, RewardLog, SampleScorer, dumps_record, truncate_lines

LABEL = Label("p-1", "dig-1", 1, ((10.0, 10.0, 20.0, 20.0),), 100.0, 100.0, "pixels", None)


@pytest.fixture
def scorer(tmp_path):
    s = SampleScorer(load_config(None, sections=("task", "reward")), tmp_path, "dig-1")
    yield s
    s.close()


def test_a_record_has_every_log_key(scorer):
    rec = scorer.score_sample("[[10, 10, 20, 20]]", LABEL.to_json())
    assert rec["reward"] == 1.0 and rec["accuracy"] == 1.0 and rec["id"] == "p-1" and rec["stage"] == "dig-1"
    scorer.log([rec])
    line = json.loads((scorer.run_dir / "dig-1" / "rewards.jsonl").read_text())
    assert list(line) == list(LOG_KEYS) and set(REWARD_FIELDS) < set(line) and line["step"] == 0


@pytest.mark.parametrize("answer, label, error", [
    ("[[10, 10, 20, 20]]", "{not json", "label: label is not JSON"),
    ("[[10, 10, 20, 20]]", None, "label: label must be a JSON object"),
    (None, LABEL, "ValueError: the answer must be a string"),
    (["a", "list"], LABEL, "the answer must be a string"),
])
def test_scoring_never_raises(scorer, answer, label, error):
    rec = scorer.score_sample(answer, label)
    assert rec["reward"] == 0.0 and rec["accuracy"] == 0.0 and error in rec["error"]
    assert set(REWARD_FIELDS) - {"step"} <= set(rec)


def test_answers_are_parsed_in_the_labels_convention(scorer):
    rel = Label("p-2", "dig-1", 1, ((10.0, 10.0, 20.0, 20.0),), 100.0, 50.0, "rel1000", None)
    assert scorer.score_sample("[[100, 200, 200, 400]]", rel)["reward"] == 1.0
    assert scorer.score_sample("[[10, 10, 20, 20]]", rel)["reward"] < 1.0


def _append_many(path: str, tag: str, n: int) -> None:
    log = RewardLog(path)
    for i in range(n):
        log.append([{"stage": "s", "id": f"{tag}-{i}", "reward": 0.5}])
    log.close()


def test_steps_are_monotonic_across_processes_and_a_torn_line_is_cut(tmp_path):
    path = tmp_path / "s" / "rewards.jsonl"
    path.parent.mkdir()
    path.write_text('{"step": 0, "id": "x"}\n{"step": 1, "id"')  # a killed writer's last line
    procs = [multiprocessing.get_context("spawn").Process(target=_append_many, args=(str(path), t, 20))
             for t in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(41))
    assert sorted(r["id"] for r in lines[1:]) == sorted(f"{t}-{i}" for t in "ab" for i in range(20))


def test_truncate_lines_keeps_complete_lines(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("a\nb\nc\npartial")
    assert truncate_lines(path, 2) == 2 and path.read_text() == "a\nb\n"
    assert truncate_lines(path, 5) == 2 and truncate_lines(tmp_path / "none.jsonl", 3) == 0


def test_dumps_record_is_strict_json_in_log_key_order():
    rec = {"time": 1.0, "step": 3, "stage": "s", "id": "i", **{k: 0 for k in LOG_KEYS if k not in
                                                              ("time", "step", "stage", "id")}}
    line = dumps_record(rec)
    assert list(json.loads(line)) == list(LOG_KEYS) and line.endswith("\n")
    with pytest.raises(ValueError):
        dumps_record({**rec, "reward": float("nan"), "extra": 1})
