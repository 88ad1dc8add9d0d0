"""Predictions files: one model answer per JSONL line, ``{"id": str, "completion": str}`` plus an
optional ``"scale"`` (model-input / original size: one number or ``[sx, sy]``, for answers in pixels
of a resized input). ``dig score`` reads them; dig-eval's ``predictions`` model adapter reads the
same lines (with a ``benchmark`` key) and checks ``scale`` with :func:`parse_scale`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dig_core.data.io import iter_jsonl
from dig_core.errors import DigError

__all__ = ["Prediction", "PredictionsError", "parse_scale", "read_predictions"]


class PredictionsError(DigError):
    """A predictions file that is missing or corrupt (the message names file and line); exit code 2,
    like any bad input."""

    exit_code = 2


@dataclass(frozen=True)
class Prediction:
    id: str
    completion: str
    scale: tuple[float, float] | None
    lineno: int


def parse_scale(value: Any, where: str) -> tuple[float, float] | None:
    """A line's ``scale`` as ``(sx, sy)`` (None when absent); PredictionsError naming ``where``
    for anything but a positive finite number or a pair of them."""
    def ok(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0

    if value is None:
        return None
    if ok(value):
        return float(value), float(value)
    if isinstance(value, list) and len(value) == 2 and all(ok(v) for v in value):
        return float(value[0]), float(value[1])
    raise PredictionsError(f"{where}: 'scale' must be a positive number or [sx, sy], got {value!r}")


def read_predictions(path: str | Path) -> tuple[list[Prediction], dict[str, list[int]]]:
    """Predictions in file order (first line of each id) and ``{id: [line, ...]}`` of ids that
    occur on more than one line."""
    path = Path(path)
    if not path.is_file():
        raise PredictionsError(f"predictions file not found: {path}")
    preds: dict[str, Prediction] = {}
    lines: dict[str, list[int]] = defaultdict(list)
    for lineno, rec in iter_jsonl(path, PredictionsError):
        where = f"{path}:{lineno}"
        pid, completion = rec.get("id"), rec.get("completion")
        if not isinstance(pid, str):
            raise PredictionsError(f"{where}: 'id' must be a string, got {pid!r}")
        if not isinstance(completion, str):
            raise PredictionsError(f"{where}: 'completion' must be a string, got {type(completion).__name__}")
        lines[pid].append(lineno)
        if pid not in preds:
            preds[pid] = Prediction(pid, completion, parse_scale(rec.get("scale"), where), lineno)
    duplicates = {k: v for k, v in lines.items() if len(v) > 1}
    return list(preds.values()), duplicates
