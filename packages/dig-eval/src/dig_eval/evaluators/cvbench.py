"""CV-Bench (Cambrian-1): 2D (Count, Relation) and 3D (Depth, Distance) multiple choice.

Data: ``nyu-visionx/CV-Bench`` ``test.parquet`` (all rows) or ``test_2d.parquet`` + ``test_3d.parquet``
(columns ``idx``, ``type`` 2D/3D, ``task``, ``prompt`` with the choices, ``choices``, ``answer``
``(A)``, ``source`` ADE20K/COCO/Omni3D, ``image``). Metrics as the dataset card defines them:
2D = mean of the ADE20K and COCO accuracies, 3D = the Omni3D accuracy, overall = (2D + 3D) / 2; plus
the accuracy of each task. The letter is read by :func:`dig_eval.evaluators.choices.extract_choice`
(lmms-eval reads only a letter at the very start of the answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from dig_eval.adapters.base import ModelAdapter, Request
from dig_eval.evaluators.base import Sample
from dig_eval.evaluators.benchmark import BenchmarkConfig, MultipleChoiceEvaluator, accuracy, group_by
from dig_eval.evaluators.choices import LETTER_INSTRUCTION, letter_of, letters
from dig_eval.evaluators.parquet import Layout, unique_ids

SOURCES_2D = ("ADE20K", "COCO")
SOURCES_3D = ("Omni3D",)


@dataclass
class CVBenchConfig(BenchmarkConfig):
    max_new_tokens: int = 16


class CVBenchEvaluator(MultipleChoiceEvaluator):
    PLUGIN_NAME: ClassVar[str] = "cvbench"
    Config: ClassVar[type] = CVBenchConfig
    LAYOUT: ClassVar[Layout] = Layout(
        "cvbench", {"idx": "any", "type": "string", "task": "string", "prompt": "string", "choices": "list",
                    "answer": "string", "source": "string", "image": "image"},
        "nyu-visionx/CV-Bench test.parquet or test_2d.parquet + test_3d.parquet")
    # test.parquet holds both; the 2D/3D files are the same rows split in two
    SPLITS: ClassVar[dict[str, tuple[str, ...]]] = {"test": ("test_[23]d.parquet", "test.parquet", "test-*.parquet")}

    def samples(self, model: ModelAdapter) -> list[Sample]:
        rows = self.rows()
        ids = unique_ids([f"{r['type']}/{r['idx']}" for r in rows])
        out = []
        for sid, r in zip(ids, rows):
            options = letters([str(c) for c in (r["choices"] or [])])
            gt = letter_of(str(r["answer"]))
            if gt not in options:
                raise self.LAYOUT.error(r["image"], f"idx {r['idx']}: answer {r['answer']!r} is not one of the "
                                        f"{len(options)} choices")
            prompt = f"{str(r['prompt']).strip()}\n{LETTER_INSTRUCTION}"
            out.append(Sample(Request(self.PLUGIN_NAME, sid, prompt, [r["image"]], self.config.max_new_tokens),
                              {"type": r["type"], "task": r["task"], "source": r["source"], "answer": gt,
                               "options": options}))
        return out


    def metrics(self, records: Sequence[dict[str, Any]]) -> dict[str, float]:
        out: dict[str, float] = {}
        for task, recs in sorted(group_by(records, "task").items()):
            out[str(task).lower()] = accuracy(recs)
        by_source = {s: accuracy(recs) for s, recs in group_by(records, "source").items()}
        two_d = [by_source[s] for s in SOURCES_2D if s in by_source]
        three_d = [by_source[s] for s in SOURCES_3D if s in by_source]
        if two_d:
            out["2d"] = sum(two_d) / len(two_d)
        if three_d:
            out["3d"] = sum(three_d) / len(three_d)
        if two_d and three_d:
            out["overall"] = (out["2d"] + out["3d"]) / 2
        out["n"] = float(len(records))
        return out
