"""HR-Bench 8K: FSP (fine-grained single-instance perception) and FCP (cross-instance) accuracy and
their overall, multiple choice.

Data: ``DreamMr/HR-Bench`` ``hr_bench_8k.parquet`` or lmms-eval's ``hrbench_version_split``
``hrbench_8k-*.parquet`` (columns ``index``, ``question``, ``answer`` letter, ``category``
single/cross, ``A``-``D``, ``cycle_category``, ``image`` as a base64 string). Each question appears
once per option rotation (``cycle_category``); as in HR-Bench's and lmms-eval's scoring, an accuracy
is the mean over rotations of the accuracy within each rotation. The letter is read by
:func:`dig_eval.evaluators.choices.extract_choice` (VLMEvalKit's rule step); the official script falls
back to a GPT matcher for answers the rules cannot read, we count them wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from dig_eval.adapters.base import ModelAdapter, Request
from dig_eval.evaluators.base import Sample
from dig_eval.evaluators.benchmark import BenchmarkConfig, MultipleChoiceEvaluator, accuracy, group_by
from dig_eval.evaluators.choices import letter_of, options_block
from dig_eval.evaluators.parquet import Layout, unique_ids

CATEGORIES = {"single": "FSP", "cross": "FCP"}


def cycle_accuracy(records: Sequence[dict[str, Any]]) -> float:
    """Mean over ``cycle`` groups of the accuracy within each group (percent)."""
    groups = group_by(records, "cycle")
    return sum(accuracy(g) for g in groups.values()) / len(groups) if groups else 0.0


@dataclass
class HRBenchConfig(BenchmarkConfig):
    max_new_tokens: int = 16


class HRBenchEvaluator(MultipleChoiceEvaluator):
    PLUGIN_NAME: ClassVar[str] = "hrbench"
    Config: ClassVar[type] = HRBenchConfig
    LAYOUT: ClassVar[Layout] = Layout(
        "hrbench", {"index": "any", "question": "string", "answer": "string", "category": "string",
                    "A": "any", "B": "any", "cycle_category": "any", "image": "image"},
        "DreamMr/HR-Bench hr_bench_8k.parquet (or hrbench_version_split/hrbench_8k-*.parquet)",
        optional=("C", "D", "E", "F"))
    SPLITS: ClassVar[dict[str, tuple[str, ...]]] = {
        "hrbench_8k": ("hr_bench_8k.parquet", "hrbench_8k-*.parquet", "hrbench_8k.parquet"),
        "hrbench_4k": ("hr_bench_4k.parquet", "hrbench_4k-*.parquet", "hrbench_4k.parquet")}
    DEFAULT_SPLITS: ClassVar[tuple[str, ...]] = ("hrbench_8k",)

    def samples(self, model: ModelAdapter) -> list[Sample]:
        out = []
        for split, rows in self.split_rows().items():
            ids = unique_ids([f"{split}/{r['index']}" for r in rows])
            for sid, r in zip(ids, rows):
                options = {k: str(r[k]) for k in "ABCDEF" if r.get(k) is not None and str(r[k]) != "nan"}
                gt = letter_of(str(r["answer"]))
                if gt not in options or r["category"] not in CATEGORIES:
                    raise self.LAYOUT.error(r["image"], f"index {r['index']}: answer must be one of {list(options)} "
                                            f"and category one of {list(CATEGORIES)}, got {r['answer']!r}, {r['category']!r}")
                prompt = f"{str(r['question']).strip()}\n{options_block(options)}\nAnswer the option letter directly."
                out.append(Sample(Request(self.PLUGIN_NAME, sid, prompt, [r["image"]], self.config.max_new_tokens),
                                  {"split": split, "category": r["category"], "cycle": str(r["cycle_category"]),
                                   "answer": gt, "options": options}))
        return out


    def metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, float]:
        out: dict[str, float] = {}
        splits = group_by(records, "split")
        for split, recs in splits.items():
            prefix = "" if len(splits) == 1 and split == "hrbench_8k" else f"{split}/"
            cats = group_by(recs, "category")
            for cat, name in CATEGORIES.items():
                if cat in cats:
                    out[f"{prefix}{name}"] = cycle_accuracy(cats[cat])
            out[f"{prefix}overall"] = cycle_accuracy(recs)
            out[f"{prefix}n"] = float(len(recs))
        return out
