"""MMVP: 300 two-option questions in 150 CLIP-blind pairs; accuracy and pair accuracy.

Data: ``lmms-lab-eval/MMVP`` ``data/train-*.parquet`` (columns ``Index`` 1-based, ``Question``,
``Options`` written ``(a) ... (b) ...``, ``Correct Answer`` ``(a)``/``(b)``, ``image``). Questions
``Index`` 2k-1 and 2k form pair k (lmms-eval's ``(Index - 1) // 2``); a pair counts when both are
right; a pair with one question missing (``limit``) is left out of the pair accuracy. The letter is
read by :func:`dig_eval.evaluators.choices.extract_choice`; the original MMVP protocol grades free-form
answers with GPT-4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from dig_eval.adapters.base import ModelAdapter, Request
from dig_eval.evaluators.base import Sample
from dig_eval.evaluators.benchmark import BenchmarkConfig, MultipleChoiceEvaluator, accuracy, group_by, pct
from dig_eval.evaluators.choices import (
    LETTER_INSTRUCTION,
    letter_of,
    options_block,
    parenthesised_options,
)
from dig_eval.evaluators.parquet import Layout


@dataclass
class MMVPConfig(BenchmarkConfig):
    max_new_tokens: int = 16


class MMVPEvaluator(MultipleChoiceEvaluator):
    PLUGIN_NAME: ClassVar[str] = "mmvp"
    Config: ClassVar[type] = MMVPConfig
    LAYOUT: ClassVar[Layout] = Layout(
        "mmvp", {"Index": "int", "Question": "string", "Options": "string", "Correct Answer": "string",
                 "image": "image"}, "lmms-lab-eval/MMVP data/train-*.parquet")
    SPLITS: ClassVar[dict[str, tuple[str, ...]]] = {"train": ("train-*.parquet", "train.parquet")}

    def samples(self, model: ModelAdapter) -> list[Sample]:
        out = []
        seen: set[int] = set()
        for r in self.rows():
            index = int(r["Index"])
            if index in seen:
                raise self.LAYOUT.error(r["image"], f"Index {index} appears twice")
            seen.add(index)
            options = parenthesised_options(str(r["Options"]))
            gt = letter_of(str(r["Correct Answer"]))
            if len(options) < 2 or gt not in options:
                raise self.LAYOUT.error(r["image"], f"Index {index}: Options must read '(a) ... (b) ...' and "
                                        f"Correct Answer one of them, got {r['Options']!r} / {r['Correct Answer']!r}")
            prompt = f"{str(r['Question']).strip()}\n{options_block(options)}\n{LETTER_INSTRUCTION}"
            out.append(Sample(Request(self.PLUGIN_NAME, str(index), prompt, [r["image"]], self.config.max_new_tokens),
                              {"index": index, "pair": (index - 1) // 2, "answer": gt, "options": options}))
        return out


    def metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, float]:
        pairs = [recs for recs in group_by(records, "pair").values() if len(recs) == 2]
        return {"accuracy": accuracy(records), "pair_accuracy": pct(sum(1 for p in pairs if all(r["correct"] for r in p)), len(pairs)),
                "n": float(len(records)), "n_pairs": float(len(pairs))}
