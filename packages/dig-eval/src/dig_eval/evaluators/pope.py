"""POPE: object-hallucination yes/no questions; accuracy, precision, recall, F1 and yes-ratio per
category (adversarial, popular, random) and overall.

Data: ``lmms-lab/POPE`` ``data/test-*.parquet`` (columns ``question_id``, ``question``, ``answer``
yes/no, ``image``, ``category``). Answers are read with POPE's official rule
(:func:`dig_eval.evaluators.yesno.pope_answer`); "yes" is the positive class; the yes-ratio is the
share of *answers* that are yes (as in POPE's ``evaluate.py``; lmms-eval's ``pope_yes_ratio`` reports
the share of yes in the ground truth instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from dig_eval.adapters.base import ModelAdapter, Request
from dig_eval.evaluators.base import Sample
from dig_eval.evaluators.benchmark import BenchmarkConfig, BenchmarkEvaluator, group_by, pct
from dig_eval.evaluators.parquet import Layout, unique_ids
from dig_eval.evaluators.yesno import pope_answer

#: lmms-eval's post-prompt for POPE
POST_PROMPT = "\nAnswer the question using a single word or phrase."


@dataclass
class POPEConfig(BenchmarkConfig):
    max_new_tokens: int = 16
    #: appended to each question
    post_prompt: str = POST_PROMPT


def binary_metrics(pred_yes: Sequence[bool], gt_yes: Sequence[bool]) -> dict[str, float]:
    """Accuracy, precision, recall, F1 and yes-ratio (percent) of yes/no answers; yes is positive."""
    n = len(pred_yes)
    tp = sum(1 for p, g in zip(pred_yes, gt_yes) if p and g)
    fp = sum(1 for p, g in zip(pred_yes, gt_yes) if p and not g)
    fn = sum(1 for p, g in zip(pred_yes, gt_yes) if not p and g)
    tn = n - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": pct(tp + tn, n), "precision": 100 * precision, "recall": 100 * recall,
            "f1": 100 * f1, "yes_ratio": pct(tp + fp, n), "n": float(n)}


class POPEEvaluator(BenchmarkEvaluator):
    PLUGIN_NAME: ClassVar[str] = "pope"
    Config: ClassVar[type] = POPEConfig
    LAYOUT: ClassVar[Layout] = Layout(
        "pope", {"question_id": "any", "question": "string", "answer": "string", "image": "image",
                 "category": "string"}, "lmms-lab/POPE data/test-*.parquet")
    SPLITS: ClassVar[dict[str, tuple[str, ...]]] = {"test": ("test-*.parquet", "test.parquet")}

    def samples(self, model: ModelAdapter) -> list[Sample]:
        rows = self.rows()
        ids = unique_ids([f"{r['category']}/{r['question_id']}" for r in rows])
        out = []
        for sid, r in zip(ids, rows):
            gt = str(r["answer"]).strip().lower()
            if gt not in ("yes", "no"):
                raise self.LAYOUT.error(r["image"], f"question {r['question_id']}: answer must be yes or no, got {r['answer']!r}")
            prompt = str(r["question"]).strip() + self.config.post_prompt
            out.append(Sample(Request(self.PLUGIN_NAME, sid, prompt, [r["image"]], self.config.max_new_tokens),
                              {"category": r["category"], "answer": gt}))
        return out

    def score(self, sample: Sample, completion: str, model: ModelAdapter) -> dict[str, Any]:
        pred = pope_answer(completion)
        gt = sample.target["answer"]
        return {"category": sample.target["category"], "pred": pred, "answer": gt, "correct": pred == gt}

    def score_missing(self, sample: Sample, model: ModelAdapter) -> dict[str, Any]:
        """No answer is the wrong one (an empty answer would read as yes by POPE's rule): ``pred``
        None, counted in the metrics as the opposite of the ground truth."""
        return {"category": sample.target["category"], "pred": None, "answer": sample.target["answer"],
                "correct": False}

    def metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, float]:
        out: dict[str, float] = {}
        groups = {"all": list(records), **group_by(records, "category")}
        for name, recs in groups.items():
            # pred None (a missing answer scored as wrong) counts as the wrong one of yes/no
            said_yes = [r["pred"] == "yes" if r["pred"] is not None else r["answer"] != "yes" for r in recs]
            m = binary_metrics(said_yes, [r["answer"] == "yes" for r in recs])
            out.update({(k if name == "all" else f"{name}/{k}"): v for k, v in m.items()})
        return out
