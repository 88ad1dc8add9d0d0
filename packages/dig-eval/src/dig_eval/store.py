"""A benchmark's ``predictions.jsonl`` in a run folder: appended batch by batch (flushed and
synced), so an interrupted eval resumes with every finished prediction.

Line: ``{"benchmark", "id", "completion", "target"}``. Reopening drops a truncated last line;
a stored target that differs from the sample's now (the data changed) is an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dig_core.data.io import ensure_folder
from dig_core.errors import DigError

PREDICTIONS = "predictions.jsonl"


class RunError(DigError):
    """A run folder that cannot be resumed or read (the message names the file)."""


def normalized(obj: Any, where: str) -> Any:
    """``obj`` as it reads back from JSON (tuples -> lists), or an error naming ``where``."""
    try:
        return json.loads(json.dumps(obj, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise RunError(f"{where}: not JSON-serialisable ({e})") from None


class PredictionStore:
    """Finished predictions of one benchmark: ``completions[id]`` and ``targets[id]``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.completions: dict[str, str] = {}
        self.targets: dict[str, Any] = {}
        self._fh = None
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        raw = self.path.read_bytes()
        keep = raw[: raw.rfind(b"\n") + 1]
        if len(keep) != len(raw):  # an interrupted write: drop the partial line
            with open(self.path, "r+b") as f:
                f.truncate(len(keep))
        for lineno, line in enumerate(keep.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                pid, completion = rec["id"], rec["completion"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise RunError(f"{self.path}:{lineno}: corrupt prediction line; fix or delete it to resume") from None
            if not isinstance(pid, str) or not isinstance(completion, str):
                raise RunError(f"{self.path}:{lineno}: 'id' and 'completion' must be strings")
            self.completions.setdefault(pid, completion)
            self.targets.setdefault(pid, rec.get("target"))

    def __contains__(self, pid: str) -> bool:
        return pid in self.completions

    def check_target(self, pid: str, target: Any) -> None:
        """A reused prediction must belong to the same sample (same ground truth) as now."""
        if pid in self.targets and self.targets[pid] != target:
            raise RunError(f"{self.path}: the stored prediction for {pid!r} was made for a different sample "
                           "(its target differs from the data now); use a new --out or delete the file")

    def append(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        if self._fh is None:
            ensure_folder(self.path.parent)
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write("".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in rows))
        self._fh.flush()
        os.fsync(self._fh.fileno())
        for r in rows:
            self.completions.setdefault(r["id"], r["completion"])
            self.targets.setdefault(r["id"], r.get("target"))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
