"""Per-sample reward scoring and the ``rewards.jsonl`` writer every trainer plugin shares.

A trainer hands each sampled answer (text) with its :class:`~dig_core.training.labels.Label` to a
:class:`SampleScorer`: dig-core's task parses the answer in the label's coordinate convention and
scale, dig-core's reward scores it against the label's boxes, and the result is one record with
every :data:`LOG_KEYS` field (the same numbers ``dig score`` gives). Scoring **never raises**: a
malformed label, a non-string answer or any scoring error gives reward 0, an ``error`` field in
the record and a rate-limited warning (a policy early in training produces thousands of bad answers).

:class:`RewardLog` appends records to ``RUN_DIR/<stage>/rewards.jsonl`` (one compact JSON line per
sample, ``step`` = 0-based sample counter of the stage) safely from many threads and processes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from dig_core.reward import COMPONENTS
from dig_core.scoring import score_answer
from dig_core.training.labels import Label, parse_label
from dig_core.training.run_dir import REWARD_FIELDS, REWARDS

try:  # POSIX: a lock shared with other processes appending to the same file
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

#: keys of a ``rewards.jsonl`` line: :data:`dig_core.training.REWARD_FIELDS` (``step``, 0-based and
#: monotonic per stage file across threads and processes; ``stage``; ``id``, None for a bad label;
#: the reward's components, ``reward`` and ``accuracy`` among them), then ``time`` (unix seconds);
#: ``error`` only on a sample that could not be scored.
LOG_KEYS = (*REWARD_FIELDS, "time")

#: the components of a sample that could not be scored
ZERO = dict.fromkeys(COMPONENTS, 0.0) | {"n_pred": 0, "n_gt": 0, "n_match": 0}


# -- warnings, rate-limited --------------------------------------------------------------------------
class RateLimitedWarner:
    """Logs the first 5 warnings of each kind, then every 1000th."""

    def __init__(self, logger: logging.Logger):
        self.logger = logger
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, kind: str, msg: str) -> None:
        with self._lock:
            n = self.counts[kind] = self.counts.get(kind, 0) + 1
        if n <= 5 or n % 1000 == 0:
            more = " (further ones of this kind are logged every 1000th)" if n == 5 else ""
            self.logger.warning("DiG reward: %s [%s #%d]%s", msg, kind, n, more)


# -- rewards.jsonl ------------------------------------------------------------------------------------
class RewardLog:
    """Appends complete JSON lines to one file from many threads and processes.

    Each call writes its lines with one ``write`` on an ``O_APPEND`` descriptor while holding a
    thread lock and an exclusive ``flock``; under the lock the line count (the next ``step``) is
    brought up to date from whatever other processes appended since. A truncated last line left by
    a killed writer is cut off before appending."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = -1
        self._size = -1  # file size after our last write (-1: unknown)
        self._count = 0  # complete lines in the file at self._size

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        self._pid = os.getpid()
        self._size = -1

    def _sync(self, size: int) -> None:
        """Count lines appended by others (or the whole file the first time); cut a partial tail."""
        fd = self._fd
        start, count = (self._size, self._count) if 0 <= self._size <= size else (0, 0)
        end = start  # just after the last newline seen
        pos = start
        while pos < size:
            chunk = os.pread(fd, min(1 << 20, size - pos), pos)
            if not chunk:
                break
            count += chunk.count(b"\n")
            i = chunk.rfind(b"\n")
            if i >= 0:
                end = pos + i + 1
            pos += len(chunk)
        if end < size:  # a killed writer's partial line (writers hold the lock, so none is writing)
            os.ftruncate(fd, end)
            size = end
        self._size, self._count = size, count

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        """Write ``records`` as lines, setting each one's ``step``."""
        if not records:
            return
        with self._lock:
            if self._fd is None or self._pid != os.getpid():
                self._open()
            fd = self._fd
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(fd).st_size
                if size != self._size:
                    self._sync(size)
                parts = []
                for i, rec in enumerate(records):
                    rec["step"] = self._count + i
                    parts.append(dumps_record(rec))
                data = "".join(parts).encode("utf-8")
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                self._size += len(data)
                self._count += len(records)
            finally:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


def truncate_lines(path: str | Path, keep: int) -> int:
    """Keep the first ``keep`` complete lines of ``path`` (e.g. a stage's rewards.jsonl when
    training resumes from a checkpoint taken after ``keep`` samples); returns the lines kept. A
    missing file is 0."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    end, n = 0, 0
    while n < keep:
        i = data.find(b"\n", end)
        if i < 0:
            break
        end, n = i + 1, n + 1
    if end < len(data):
        with open(path, "r+b") as f:
            f.truncate(end)
    return n


_INT_KEYS = frozenset(("step", "n_pred", "n_gt", "n_match"))
_STR_KEYS = frozenset(("stage", "id"))
#: the usual record: keys in this order, formatted without the json module (this runs per rollout)
_LINE_KEYS = LOG_KEYS
_LINE_FMT = "{" + ",".join(f'"{k}":%s' if k in _STR_KEYS else f'"{k}":%d' if k in _INT_KEYS else f'"{k}":%r'
                           for k in _LINE_KEYS) + "}\n"


@lru_cache(maxsize=65536)
def _json_str(value: str | None) -> str:
    return json.dumps(value)


def dumps_record(rec: dict[str, Any]) -> str:
    """One ``rewards.jsonl`` line (compact JSON, newline-terminated)."""
    if len(rec) == len(_LINE_KEYS):
        try:
            return _LINE_FMT % tuple(
                _json_str(rec[k]) if k in _STR_KEYS else int(rec[k]) if k in _INT_KEYS else float(rec[k])
                for k in _LINE_KEYS)
        except (KeyError, TypeError, ValueError):
            pass
    ordered = {k: rec[k] for k in _LINE_KEYS if k in rec}
    ordered.update((k, v) for k, v in rec.items() if k not in ordered)
    return json.dumps(ordered, separators=(",", ":"), allow_nan=False, default=str) + "\n"


# -- labels -------------------------------------------------------------------------------------------
@lru_cache(maxsize=8192)
def _cached_label(raw: str) -> Label | str:
    try:
        return parse_label(raw)
    except ValueError as e:
        return str(e)


def label_or_problem(raw: Any) -> Label | str:
    """The parsed label, or the problem as a string (never raises)."""
    if isinstance(raw, str):
        return _cached_label(raw)
    try:
        return parse_label(raw)
    except (ValueError, TypeError) as e:
        return str(e)


_SAFE = re.compile(r"[^A-Za-z0-9._-]")


# -- presentations: what advance rules read -------------------------------------------------------
class PresentationMeans:
    """Turns per-sample records (G rollouts of each prompt, interleaved in any order) into one mean
    accuracy reward (the records' ``accuracy``, as the reward plugin computed it) per prompt
    presentation — the history a curriculum advance rule reads. A prompt's presentation is complete
    when ``group_size`` of its samples have arrived."""

    def __init__(self, group_size: int):
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        self.group_size = group_size
        self._pending: dict[str, list[float]] = {}

    def add(self, record: dict[str, Any]) -> float | None:
        """Feed one record; the presentation's mean when this record completes one, else None."""
        key = str(record.get("id"))
        values = self._pending.setdefault(key, [])
        values.append(float(record.get("accuracy", 0.0)))
        if len(values) < self.group_size:
            return None
        del self._pending[key]
        return sum(values) / len(values)


# -- scoring -------------------------------------------------------------------------------------------
class SampleScorer:
    """Scores answers against labels with the config's task and reward, and logs the records.

    ``cfg``: the resolved DiG config (its ``task`` and ``reward`` sections are used);
    ``run_dir``: where ``<stage>/rewards.jsonl`` goes (None: no log); ``stage``: the stage logged
    (None: each label's own stage); ``logger``: where rate-limited warnings go;
    ``prompt_opens_think``: the model's generation prompt opens ``<think>``
    (:attr:`dig_core.models.vlm.VLProcessor.prompt_opens_think`), so an answer without ``</think>`` scores
    format 0; None keeps the task's ``prompt_opens_think`` setting."""

    def __init__(self, cfg: Any, run_dir: str | Path | None = None, stage: str | None = None,
                 logger: logging.Logger | None = None, prompt_opens_think: bool | None = None):
        from dig_core.config import instantiate

        self.task = instantiate(cfg, "task", "task")
        if prompt_opens_think is not None and hasattr(self.task.config, "prompt_opens_think"):
            self.task = type(self.task)(replace(self.task.config, prompt_opens_think=bool(prompt_opens_think)))
        self.reward = instantiate(cfg, "reward", "reward")
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.stage = stage
        self.warn = RateLimitedWarner(logger or logging.getLogger("dig_core.training.reward_log"))
        self._tasks = {getattr(self.task.config, "coords", None): self.task}
        self._logs: dict[str, RewardLog] = {}
        self._logs_lock = threading.Lock()

    def task_for(self, coords: str):
        """The task parsing answers in ``coords`` (the configured task with that convention)."""
        task = self._tasks.get(coords)
        if task is None:
            try:
                task = type(self.task)(replace(self.task.config, coords=coords))
            except (TypeError, ValueError):  # a task plugin without a coords setting parses as configured
                task = self.task
            self._tasks[coords] = task
        return task

    def log_for(self, stage: str) -> RewardLog:
        log = self._logs.get(stage)
        if log is None:
            with self._logs_lock:
                log = self._logs.get(stage)
                if log is None:
                    name = _SAFE.sub("_", stage) or "unknown"
                    log = self._logs[stage] = RewardLog(self.run_dir / name / REWARDS)
        return log

    # -- records ----------------------------------------------------------------------------------------
    def stage_of(self, label: Label) -> str:
        return self.stage or label.stage or "unknown"

    def bad_label(self, problem: str) -> dict[str, Any]:
        """The record of a sample whose label could not be read (warned as kind ``label``)."""
        self.warn("label", f"bad label, reward 0: {problem}")
        return {"stage": self.stage or "unknown", "id": None, **ZERO, "error": f"label: {problem}"}

    def failed(self, label: Label, error: str) -> dict[str, Any]:
        """The record of a sample that could not be scored (reward 0, ``error`` set)."""
        return {"stage": self.stage_of(label), "id": label.id, **ZERO, "n_gt": len(label.boxes), "error": error}

    def score_text(self, text: Any, label: Label) -> dict[str, Any]:
        """The record of answer ``text`` for ``label`` (without ``step``/``time``); never raises."""
        try:
            if not isinstance(text, str):
                raise ValueError(f"the answer must be a string, got {type(text).__name__}")
            res = score_answer(self.task_for(label.coords), self.reward, text, label).result
        except Exception as e:  # noqa: BLE001 - never raise into a trainer
            self.warn("error", f"{label.id}: {type(e).__name__}: {e}; reward 0")
            return self.failed(label, f"{type(e).__name__}: {e}")
        if not res.n_pred and label.boxes:
            self.warn("format", f"{label.id}: no box in the answer (format 0)")
        rec: dict[str, Any] = {"stage": self.stage_of(label), "id": label.id}
        for k in COMPONENTS:
            rec[k] = getattr(res, k)
        return rec

    def score_sample(self, text: Any, raw_label: Any) -> dict[str, Any]:
        """:meth:`score_text` after reading the label (a JSON string, a dict or a :class:`Label`)."""
        label = raw_label if isinstance(raw_label, Label) else label_or_problem(raw_label)
        if isinstance(label, str):
            return self.bad_label(label)
        return self.score_text(text, label)

    def log(self, records: Sequence[dict[str, Any]]) -> None:
        """Append ``records`` to their stages' rewards.jsonl (sets ``time`` and ``step``); a write
        error is warned, never raised (a full disk must not stop training)."""
        if self.run_dir is None or not records:
            return
        now = round(time.time(), 3)
        try:
            by_stage: dict[str, list[dict[str, Any]]] = {}
            for rec in records:
                rec["time"] = now
                by_stage.setdefault(rec["stage"], []).append(rec)
            for stage, recs in by_stage.items():
                self.log_for(stage).append(recs)
        except Exception as e:  # noqa: BLE001
            self.warn("log", f"cannot append to rewards.jsonl: {type(e).__name__}: {e}")

    def close(self) -> None:
        for log in self._logs.values():
            log.close()
