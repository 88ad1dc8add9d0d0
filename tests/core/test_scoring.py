"""The one parse+score path (dig_core.scoring): every consumer reports the configured reward.

A reward with other weights (the paper's Table 4 ablation, through ``reward.params``) and a
third-party reward with another formula (registered as a plugin here) are swapped in; ``dig score``,
the ``dig`` evaluator, both trainers' reward functions and their ``rewards.jsonl``, the plateau
means and the reward curves must all report exactly what that reward's ``score`` returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import pytest
from click.testing import CliRunner
from dig_core.cli import load_commands
from dig_core.config import instantiate, load_config
from dig_core.data.dataset import read_annotations
from dig_core.plugins.base import Plugin
from dig_core.reward import COMPONENTS, DigReward, RewardResult, match_boxes
from dig_core.scoring import found_boxes, score_answer
from dig_core.task import DigTask
from dig_core.training import REWARD_FIELDS, PresentationMeans, read_rewards
from dig_core.training.labels import Label
from dig_core.training.plots import reward_curves

from tests.helpers import plugin_with, registered, write_dig_dataset


@dataclass
class RecallRewardConfig:
    power: float = 2.0


class RecallReward(Plugin):
    """A third-party reward with its own formula: accuracy = recall at IoU 0.3, reward = accuracy**power."""

    PLUGIN_NAME: ClassVar[str] = "recall-test"
    Config: ClassVar[type] = RecallRewardConfig

    def score(self, pred, gt, answered_none=False) -> RewardResult:
        m = match_boxes(pred, gt, 0.3)
        recall = len(m.gt) / len(gt) if gt else float(answered_none)
        precision = len(m.pred) / len(pred) if pred else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        miou = sum(m.ious) / len(m.ious) if m.ious else 0.0
        return RewardResult(float(bool(pred)), precision, recall, f1, miou, len(pred), len(gt), len(m.gt),
                            recall ** self.config.power, recall)


@pytest.fixture(scope="module")
def recall_reward():
    with registered(plugin_with(register_rewards=[RecallReward])):
        yield


REWARDS = {
    "f1-only": ["reward.params.lambda_f1=1.0", "reward.params.lambda_iou=0.0", "reward.params.alpha=0.2"],
    "iou-only": ["reward.params.lambda_f1=0.0", "reward.params.lambda_iou=1.0"],
    "third-party": ["reward.name=recall-test", "reward.params.power=3.0"],
}


def answers_for(boxes):
    """Answers of graded quality for one pair's boxes (pixels): exact, shifted, one extra box, none."""
    x0, y0, x1, y1 = boxes[0]
    w, h = x1 - x0, y1 - y0
    shifted = [x0 + 0.15 * w, y0 + 0.05 * h, x1 + 0.15 * w, y1 + 0.05 * h]  # IoU ~ 0.68
    return [json.dumps([list(b) for b in boxes]), json.dumps([shifted]),
            json.dumps([shifted, [0, 0, 3, 3]]), "no idea"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = write_dig_dataset(tmp_path_factory.mktemp("scoring") / "ds", n=3, k=2, size=(96, 64), seed=3)
    anns = read_annotations(root)
    rows = [(a, text) for a in anns for text in answers_for(a["boxes"])]
    return root, rows


def label_of(ann) -> Label:
    return Label(ann["id"], ann["stage"], len(ann["boxes"]), tuple(map(tuple, ann["boxes"])), ann["width"],
                 ann["height"], "pixels", None)


def test_score_answer_parses_in_the_labels_frame_and_scores_with_the_reward():
    task, reward = DigTask(), DigReward()
    label = Label("p", "s", 1, ((10.0, 10.0, 20.0, 20.0),), 100, 100, "pixels", (2.0, 2.0))
    scored = score_answer(task, reward, "[[20, 20, 40, 40]]", label)  # the model saw the pair at 2x
    assert scored.boxes == [(10.0, 10.0, 20.0, 20.0)] and scored.result.reward == 1.0
    assert scored.result.accuracy == 1.0 and tuple(scored.result.as_dict()) == COMPONENTS
    control = Label("c", "s", 0, (), 100, 100, "pixels", None)
    assert score_answer(task, reward, "[]", control).result.reward == 1.0  # a well-formed "none" to a control
    assert score_answer(task, reward, "nothing", control).result.reward == 0.0
    assert found_boxes(reward, scored.boxes, label.boxes) == {0}


@pytest.mark.parametrize("name", list(REWARDS))
def test_every_consumer_reports_the_configured_reward(name, data, recall_reward, tmp_path):
    root, rows = data
    overrides = REWARDS[name]
    cfg = load_config(None, overrides, sections=("task", "reward"))
    reward, task = instantiate(cfg, "reward", "reward"), DigTask()
    want = [score_answer(task, reward, text, label_of(a)).result for a, text in rows]
    if name == "third-party":
        assert isinstance(reward, RecallReward)
    # the swapped reward really differs from the default one on these answers
    default = [score_answer(task, DigReward(), text, label_of(a)).result for a, text in rows]
    assert [r.reward for r in want] != pytest.approx([r.reward for r in default])
    assert [r.accuracy for r in want] != pytest.approx([r.accuracy for r in default])

    # dig score: one answer per pair per run, every component as the reward gave it
    cli = CliRunner()
    for i in range(len(rows) // 3):
        picked = rows[i::len(rows) // 3]
        preds = tmp_path / f"preds-{i}.jsonl"
        preds.write_text("".join(json.dumps({"id": a["id"], "completion": t}) + "\n" for a, t in picked))
        out = tmp_path / f"scores-{i}.jsonl"
        r = cli.invoke(load_commands(), ["score", str(preds), "--dataset", str(root), "--out", str(out), *overrides])
        assert r.exit_code == 0, r.output
        got = [json.loads(line) for line in out.read_text().splitlines()]
        for rec, res in zip(got, want[i::len(rows) // 3]):
            assert {k: rec[k] for k in COMPONENTS} == pytest.approx(res.as_dict())

    # dig eval: the dig evaluator's reward and accuracy are the reward's
    pytest.importorskip("dig_eval")
    picked = rows[1::4]  # the shifted answer of every pair
    preds = tmp_path / "eval-preds.jsonl"
    preds.write_text("".join(json.dumps({"benchmark": "dig", "id": a["id"], "completion": t}) + "\n" for a, t in picked))
    r = cli.invoke(load_commands(), ["eval", "model.name=predictions", f"model.params.path={preds}",
                                     "model.params.coords=pixels", "evaluator.name=dig",
                                     f"evaluator.params.dataset={root}", "--out", str(tmp_path / "eval"),
                                     "--no-progress", *overrides])
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "eval" / "dig" / "metrics.json").read_text())["metrics"]
    picked_want = want[1::4]
    assert metrics["reward"] == pytest.approx(sum(w.reward for w in picked_want) / len(picked_want), abs=1e-6)
    assert metrics["accuracy"] == pytest.approx(100 * sum(w.accuracy for w in picked_want) / len(picked_want), abs=1e-2)

    # both trainers' reward functions, their rewards.jsonl, the plateau means and the curves
    labels = [label_of(a).to_json() for a, _ in rows]
    run_trl, run_orl = tmp_path / "trl", tmp_path / "openrlhf"
    got_trl = rewards_of_trl(cfg, run_trl, [t for _, t in rows], labels)
    got_orl = rewards_of_openrlhf(cfg, run_orl, [t for _, t in rows], labels)
    assert got_trl == pytest.approx([w.reward for w in want]) == got_orl
    for run in (run_trl, run_orl):
        logged = read_rewards(run, ["dig-1"])["dig-1"]
        assert [r["reward"] for r in logged] == pytest.approx([w.reward for w in want])
        assert [r["accuracy"] for r in logged] == pytest.approx([w.accuracy for w in want])
        assert all(set(REWARD_FIELDS) <= set(r) for r in logged)
        means = PresentationMeans(group_size=4)  # the 4 answers of one pair are its group
        per_pair = [m for m in map(means.add, logged) if m is not None]
        assert per_pair == pytest.approx([sum(w.accuracy for w in want[i:i + 4]) / 4 for i in range(0, len(want), 4)])
        curve = reward_curves(run).stages[0]
        assert curve.accuracy == pytest.approx([w.accuracy for w in want])


def rewards_of_trl(cfg, run, texts, labels) -> list[float]:
    reward_mod = pytest.importorskip("dig_train_trl.reward")
    fn = reward_mod.DigRewardFunc(cfg, run, "dig-1")
    try:
        return fn(completions=[[{"role": "assistant", "content": t}] for t in texts], label=labels)
    finally:
        fn.close()


def rewards_of_openrlhf(cfg, run, texts, labels) -> list[float]:
    module = pytest.importorskip("dig_train_openrlhf.reward_module")
    pytest.importorskip("torch")
    fn = module.RewardFunction(cfg, run, "dig-1")
    head = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Find them.<|im_end|>\n<|im_start|>assistant\n"
    try:
        out = fn([head + t + "<|im_end|>" for t in texts], ["<image><image>"] * len(texts), labels)
    finally:
        fn.close()
    return [float(v) for v in out["rewards"]]
