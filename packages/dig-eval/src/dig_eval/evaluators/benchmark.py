"""What the paper's benchmark evaluators share: the config (data path, splits, limit, answer length),
reading the published files, and percentages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from dig_eval.adapters.base import ModelAdapter
from dig_eval.evaluators.base import EvalConfig, Evaluator, Sample
from dig_eval.evaluators.choices import extract_choice
from dig_eval.evaluators.parquet import Layout, read_rows, split_files


@dataclass
class BenchmarkConfig(EvalConfig):
    #: local copy of the benchmark: its folder (as published on the Hugging Face Hub), one data file, or a glob
    path: str = ""
    #: splits to evaluate (empty = every default split found under path)
    splits: list[str] = field(default_factory=list)
    #: evaluate only the first N rows of each split (0 = all; for smoke tests)
    limit: int = 0
    #: answer length asked of the model
    max_new_tokens: int = 32


class BenchmarkEvaluator(Evaluator):
    """Base of the benchmark evaluators: subclasses set ``LAYOUT``, ``SPLITS`` (split -> file globs)
    and ``DEFAULT_SPLITS``."""

    Config: ClassVar[type] = BenchmarkConfig
    LAYOUT: ClassVar[Layout]
    SPLITS: ClassVar[dict[str, tuple[str, ...]]]
    DEFAULT_SPLITS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def validate_config(cls, cfg: BenchmarkConfig) -> list[str]:
        errors = super().validate_config(cfg)
        unknown = [s for s in cfg.splits if s not in cls.SPLITS]
        if unknown:
            errors.append(f"splits: unknown {unknown}; allowed: {list(cls.SPLITS)}")
        if cfg.limit < 0:
            errors.append(f"limit must be >= 0 (0 = all), got {cfg.limit}")
        if cfg.max_new_tokens < 1:
            errors.append(f"max_new_tokens must be >= 1, got {cfg.max_new_tokens}")
        return errors

    def split_files(self) -> dict[str, list[Path]]:
        """The data files of each split (asked-for splits must exist; default ones may be absent)."""
        c = self.config
        splits = list(c.splits) or list(self.DEFAULT_SPLITS or self.SPLITS)
        return split_files(self.LAYOUT, c.path, self.SPLITS, splits, required=bool(c.splits))

    def read_split(self, files: Sequence[Path]) -> list[dict[str, Any]]:
        rows = read_rows(self.LAYOUT, files)
        return rows[: self.config.limit] if self.config.limit else rows

    def split_rows(self) -> dict[str, list[dict[str, Any]]]:
        """Rows of each split (``limit`` applied), in file order."""
        return {split: self.read_split(fs) for split, fs in self.split_files().items()}

    def rows(self) -> list[dict[str, Any]]:
        return [r for rows in self.split_rows().values() for r in rows]


class MultipleChoiceEvaluator(BenchmarkEvaluator):
    """A benchmark answered with an option letter: each sample's target holds ``options``
    (letter -> text), ``answer`` (the right letter) and the fields its metrics group by; a record
    is that target without the options, plus ``pred`` (the letter read from the answer, or None)
    and ``correct``."""

    def score(self, sample: Sample, completion: str, model: ModelAdapter) -> dict[str, Any]:
        t = sample.target
        pred = extract_choice(completion, t["options"])
        return {**{k: v for k, v in t.items() if k != "options"}, "pred": pred, "correct": pred == t["answer"]}


def pct(num: float, den: float) -> float:
    """100 * num / den (0 when den is 0)."""
    return 100.0 * num / den if den else 0.0


def accuracy(records: Iterable[dict[str, Any]], key: str = "correct") -> float:
    recs = list(records)
    return pct(sum(1 for r in recs if r[key]), len(recs))


def group_by(records: Sequence[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for r in records:
        out.setdefault(r[key], []).append(r)
    return out
