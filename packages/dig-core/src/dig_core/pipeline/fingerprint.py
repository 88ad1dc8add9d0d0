"""Step fingerprints and the run folder's record of them, ``RUN_DIR/pipeline.json``::

    {"format": 1, "steps": {"<name>": {"type", "fingerprint", "inputs", "started", "completed",
                                      "summary", "invalid"}}}

``inputs`` is what the fingerprint hashes: the step type, its validated params, the part of its
DiG config that matters to it, and ``after`` (the fingerprints of the steps it refers to).
``completed`` is set only when the step finished; ``invalid`` says why its output can no longer be
trusted (a step it depends on started again). The file is rewritten atomically on every change.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from dig_core.data.io import atomic_write_text, dumps_json
from dig_core.errors import DigError

RECORD = "pipeline.json"
FORMAT = 1


def fingerprint(inputs: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``inputs`` (first 16 hex digits)."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict) and d:
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted keys whose value differs between two ``inputs`` (added and removed keys included)."""
    a, b = _flat(old), _flat(new)
    return sorted(k for k in set(a) | set(b) if a.get(k, ...) != b.get(k, ...))


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


class Records:
    """``RUN_DIR/pipeline.json``: what ran in this run folder, with which inputs, and whether it finished."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / RECORD
        self.steps: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
                self.steps = dict(data["steps"])
            except (ValueError, KeyError, TypeError) as e:
                raise DigError(f"{self.path}: not a pipeline record ({type(e).__name__}: {e}); "
                               "move it away to start the run folder afresh") from None

    def get(self, name: str) -> dict[str, Any] | None:
        return self.steps.get(name)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, dumps_json({"format": FORMAT, "steps": self.steps}))

    def start(self, name: str, type_: str, fp: str, inputs: dict[str, Any]) -> None:
        """The step starts (or resumes): recorded before any of its work."""
        old = self.steps.get(name) or {}
        resumed = old.get("fingerprint") == fp and not old.get("invalid") and not old.get("completed")
        self.steps[name] = {"type": type_, "fingerprint": fp, "inputs": inputs,
                            "started": old["started"] if resumed and "started" in old else now(),
                            "completed": None}
        self._save()

    def complete(self, name: str, summary: str | None) -> None:
        self.steps[name].update(completed=now(), summary=summary)
        self._save()

    def invalidate(self, names: list[str], reason: str) -> None:
        """Mark recorded steps as not to be trusted (they rerun from scratch next time)."""
        touched = False
        for n in names:
            if n in self.steps:
                self.steps[n].update(completed=None, invalid=reason)
                touched = True
        if touched:
            self._save()
