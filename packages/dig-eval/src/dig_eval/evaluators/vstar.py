"""V* Bench: high-resolution multiple choice, accuracy by category (direct_attributes,
relative_position) and overall (all questions).

Data: ``lmms-lab/vstar-bench`` ``data/test-*.parquet`` as lmms-eval's ``vstar_bench`` reads it
(columns ``question_id``, ``text`` = question, ``(A) ...`` option lines and the instruction line
"Answer with the option's letter from the given choices directly.", ``label`` letter, ``category``,
``image``). The prompt lists the options as ``A. ...`` lines like lmms-eval, then the instruction once
(an option ends at the end of its line: the instruction is not part of the last one); the letter is
read by :func:`dig_eval.evaluators.choices.extract_choice`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from dig_eval.adapters.base import ModelAdapter, Request
from dig_eval.evaluators.base import Sample
from dig_eval.evaluators.benchmark import BenchmarkConfig, MultipleChoiceEvaluator, accuracy, group_by
from dig_eval.evaluators.choices import (
    LETTER_INSTRUCTION,
    letter_of,
    options_block,
    split_choices,
)
from dig_eval.evaluators.parquet import Layout, unique_ids


@dataclass
class VStarConfig(BenchmarkConfig):
    max_new_tokens: int = 16


class VStarEvaluator(MultipleChoiceEvaluator):
    PLUGIN_NAME: ClassVar[str] = "vstar"
    Config: ClassVar[type] = VStarConfig
    LAYOUT: ClassVar[Layout] = Layout(
        "vstar", {"question_id": "any", "text": "string", "label": "string", "category": "string", "image": "image"},
        "lmms-lab/vstar-bench data/test-*.parquet")
    SPLITS: ClassVar[dict[str, tuple[str, ...]]] = {"test": ("test-*.parquet", "test.parquet")}

    def samples(self, model: ModelAdapter) -> list[Sample]:
        rows = self.rows()
        ids = unique_ids([f"{r['category']}/{r['question_id']}" for r in rows])
        out = []
        for sid, r in zip(ids, rows):
            question, options, trailer = split_choices(str(r["text"]))
            gt = letter_of(str(r["label"]))
            if not options or gt not in options:
                raise self.LAYOUT.error(r["image"], f"question {r['question_id']}: text must list options "
                                        f"'(A) ... (B) ...' and label one of them, got label {r['label']!r}")
            # the published text ends with LETTER_INSTRUCTION: shown once, after the options
            prompt = f"{question}\n{options_block(options)}\n{trailer or LETTER_INSTRUCTION}"
            out.append(Sample(Request(self.PLUGIN_NAME, sid, prompt, [r["image"]], self.config.max_new_tokens),
                              {"category": r["category"], "answer": gt, "options": options}))
        return out


    def metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, float]:
        out = {str(c): accuracy(recs) for c, recs in sorted(group_by(records, "category").items())}
        out["overall"] = accuracy(records)
        out["n"] = float(len(records))
        return out
