"""HallusionBench: aAcc (all questions), qAcc (question groups), fAcc (figure groups).

Data: ``lmms-lab/HallusionBench`` ``data/image-*.parquet`` (default; lmms-eval's ``image`` split) and
optionally ``data/non_image-*.parquet`` (questions without a figure). Groupings are the official ones
(HallusionBench ``utils.py``, copied by lmms-eval):

- qAcc: questions sharing ``(category, subcategory, set_id, question_id)`` across figures; a group
  counts when every question in it is right;
- fAcc: questions sharing ``(category, subcategory, set_id, figure_id)``, leaving out ``VS`` rows with
  ``figure_id == "0"`` (no figure); a figure counts when every question on it is right;
- a ``VS`` question with ``figure_id == "0"`` answered *unclear* counts as right (official rule).

Judging is rule based (:func:`dig_eval.evaluators.yesno.yes_no`: correct / incorrect / unclear against
``gt_answer`` 1 = yes, 0 = no). The official protocol asks GPT-4 whether the answer agrees with
``gt_answer_details``; ours reads yes/no from the answer and never calls a judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from dig_eval.adapters.base import ModelAdapter, Request
from dig_eval.evaluators.base import Sample
from dig_eval.evaluators.benchmark import BenchmarkConfig, BenchmarkEvaluator, pct
from dig_eval.evaluators.parquet import Layout, unique_ids
from dig_eval.evaluators.yesno import yes_no


@dataclass
class HallusionBenchConfig(BenchmarkConfig):
    max_new_tokens: int = 64
    #: appended to each question
    post_prompt: str = "\nAnswer yes or no."


def _all_right(groups: dict[tuple, list[bool]]) -> float:
    return pct(sum(1 for v in groups.values() if all(v)), len(groups))


class HallusionBenchEvaluator(BenchmarkEvaluator):
    PLUGIN_NAME: ClassVar[str] = "hallusionbench"
    Config: ClassVar[type] = HallusionBenchConfig
    LAYOUT: ClassVar[Layout] = Layout(
        "hallusionbench",
        {"category": "string", "subcategory": "string", "visual_input": "any", "set_id": "any",
         "figure_id": "any", "question_id": "any", "question": "string", "gt_answer": "any", "image": "image"},
        "lmms-lab/HallusionBench data/image-*.parquet (and data/non_image-*.parquet)",
        optional=("gt_answer_details", "filename", "sample_note"))
    SPLITS: ClassVar[dict[str, tuple[str, ...]]] = {
        "image": ("image-*.parquet", "image.parquet"), "non_image": ("non_image-*.parquet", "non_image.parquet")}
    DEFAULT_SPLITS: ClassVar[tuple[str, ...]] = ("image",)

    def samples(self, model: ModelAdapter) -> list[Sample]:
        rows = self.rows()
        keys = ["category", "subcategory", "set_id", "figure_id", "question_id"]
        ids = unique_ids(["/".join(str(r[k]) for k in keys) for r in rows])
        out = []
        for sid, r in zip(ids, rows):
            gt = str(r["gt_answer"]).strip()
            if gt not in ("0", "1"):
                raise self.LAYOUT.error(r["image"] or self.config.path,
                                        f"question {sid}: gt_answer must be 1 (yes) or 0 (no), got {r['gt_answer']!r}")
            images = [r["image"]] if r["image"] is not None else []
            prompt = str(r["question"]) + self.config.post_prompt
            out.append(Sample(Request(self.PLUGIN_NAME, sid, prompt, images, self.config.max_new_tokens),
                              {**{k: str(r[k]) for k in keys}, "gt": "yes" if gt == "1" else "no"}))
        return out

    def score(self, sample: Sample, completion: str, model: ModelAdapter) -> dict[str, Any]:
        t = sample.target
        pred = yes_no(completion)
        judged = "unclear" if pred is None else ("correct" if pred == t["gt"] else "incorrect")
        no_figure_vs = t["category"] == "VS" and t["figure_id"] == "0"
        correct = judged == "correct" or (no_figure_vs and judged == "unclear")
        return {**{k: t[k] for k in ("category", "subcategory", "set_id", "figure_id", "question_id")},
                "pred": pred, "gt": t["gt"], "judged": judged, "correct": correct}

    def score_missing(self, sample: Sample, model: ModelAdapter) -> dict[str, Any]:
        """No answer is wrong, also where an unclear answer counts as right (VS without a figure)."""
        t = sample.target
        return {**{k: t[k] for k in ("category", "subcategory", "set_id", "figure_id", "question_id")},
                "pred": None, "gt": t["gt"], "judged": "missing", "correct": False}

    def metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, float]:
        questions: dict[tuple, list[bool]] = {}
        figures: dict[tuple, list[bool]] = {}
        for r in records:
            questions.setdefault((r["category"], r["subcategory"], r["set_id"], r["question_id"]), []).append(r["correct"])
            if not (r["category"] == "VS" and r["figure_id"] == "0"):
                figures.setdefault((r["category"], r["subcategory"], r["set_id"], r["figure_id"]), []).append(r["correct"])
        n = len(records)
        return {"aAcc": pct(sum(1 for r in records if r["correct"]), n), "qAcc": _all_right(questions),
                "fAcc": _all_right(figures), "unclear": pct(sum(1 for r in records if r["judged"] == "unclear"), n),
                "n": float(n), "n_question_groups": float(len(questions)), "n_figures": float(len(figures))}
