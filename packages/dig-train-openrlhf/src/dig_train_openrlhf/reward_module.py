"""The DiG reward as OpenRLHF calls it: ``reward_func(queries, prompts, labels)`` from a
``--reward.remote_url`` Python file.

OpenRLHF 0.11 (``SingleTurnAgentExecutor``) loads that file with ``importlib`` in every vLLM
engine, and for every rollout calls ``reward_func([query], [prompt], [label])`` in a thread, where
``query`` is the decoded prompt + response *with* special tokens (image pads expanded, so the
prompt string cannot be matched) and ``label`` is the dataset's label string, unchanged. An
exception there is logged at info level and the sample silently gets no reward, so this module
never raises on a sample: a malformed label, a missing assistant marker or any other per-sample
problem gives reward 0, a warning in the log and an ``error`` field in ``rewards.jsonl``.

:func:`write_reward_file` writes the small file OpenRLHF loads; it binds the run's config, run
folder and stage (no environment variables)::

    from dig_train_openrlhf.reward_module import bind
    reward_func = bind(config_path="runs/x/config.yaml", run_dir="runs/x", stage="dig-1")

Per sample: the response is the text after the last assistant marker of the chat template
(``<|im_start|>assistant\\n`` for Qwen; a thinking template's trailing ``<think>`` is kept), end
tokens (``<|im_end|>``, ``<|endoftext|>``) are stripped, then dig-core's task parses it in the
label's coordinate convention and scale, and dig-core's reward scores it. One JSON line per sample
goes to ``RUN_DIR/<stage>/rewards.jsonl`` (see :data:`LOG_KEYS`).
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

import numpy as np
from dig_core.dataset import atomic_write_text
from dig_core.reward import COMPONENTS
from dig_core.training import REWARDS

from dig_train_openrlhf.labels import Label, parse_label

try:  # POSIX: a lock shared with other processes appending to the same file
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

logger = logging.getLogger("dig_train_openrlhf.reward")

#: assistant marker of Qwen chat templates (used when the model's processor cannot say)
DEFAULT_ASSISTANT_MARKER = "<|im_start|>assistant\n"
#: tokens stripped from the end of a response
END_TOKENS = ("<|im_end|>", "<|endoftext|>")
#: the components returned in ``extra_logs`` (tensors of shape ``(len(queries),)``)
EXTRA_LOGS = ("format", "precision", "recall", "f1", "miou", "reward")
#: keys of a ``rewards.jsonl`` line: the reward components plus ``accuracy`` (r_acc =
#: lambda_f1 * f1 + lambda_iou * miou), ``step`` (0-based, monotonic per stage file across threads
#: and processes), ``stage``, ``id`` (pair id, None for a bad label), ``time`` (unix seconds) and
#: ``error`` (only on a sample that could not be scored)
LOG_KEYS = ("step", "stage", "id", *COMPONENTS, "accuracy", "time")

_ZERO = dict.fromkeys(COMPONENTS, 0.0) | {"n_pred": 0, "n_gt": 0, "n_match": 0}


# -- warnings, rate-limited (a policy early in training can produce thousands of bad answers) --------
_warn_counts: dict[str, int] = {}
_warn_lock = threading.Lock()


def _warn(kind: str, msg: str) -> None:
    with _warn_lock:
        n = _warn_counts[kind] = _warn_counts.get(kind, 0) + 1
    if n <= 5 or n % 1000 == 0:
        more = " (further ones of this kind are logged every 1000th)" if n == 5 else ""
        logger.warning("DiG reward: %s [%s #%d]%s", msg, kind, n, more)


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


# -- the response -----------------------------------------------------------------------------------
def extract_response(query: str, marker: str = DEFAULT_ASSISTANT_MARKER) -> str | None:
    """The model's answer in an OpenRLHF query: the text after the last ``marker``, end tokens
    stripped from its tail; None when the marker is missing. When the marker ends inside an open
    ``<think>`` (thinking chat templates), that ``<think>`` is kept so that a truncated thought
    still reads as unfinished."""
    i = query.rfind(marker)
    if i < 0:
        return None
    text = query[i + len(marker):]
    think = _open_think(marker)
    if think:
        text = think + text
    text = text.rstrip()
    while text.endswith(END_TOKENS):  # every end token ends in "|>" and starts with "<|"
        text = text[: text.rfind("<|")].rstrip()
    return text


@lru_cache(maxsize=16)
def _open_think(marker: str) -> str:
    """The part of ``marker`` from a ``<think>`` it leaves open ("" when none)."""
    t = marker.rfind("<think>")
    return marker[t:] if t >= 0 and "</think>" not in marker[t:] else ""


@lru_cache(maxsize=8192)
def _cached_label(raw: str) -> Label | str:
    try:
        return parse_label(raw)
    except ValueError as e:
        return str(e)


def _label(raw: Any) -> Label | str:
    """The parsed label, or the problem as a string."""
    if isinstance(raw, str):
        return _cached_label(raw)
    try:
        return parse_label(raw)
    except (ValueError, TypeError) as e:
        return str(e)


_SAFE = re.compile(r"[^A-Za-z0-9._-]")


class RewardFunction:
    """``reward_func`` for one run and stage (see the module docstring); build it with :func:`bind`.

    ``cfg``: the resolved DiG config (its ``task`` and ``reward`` sections are used);
    ``run_dir``: where ``<stage>/rewards.jsonl`` goes (None: no log); ``stage``: the stage logged
    (None: each label's own stage); ``marker``: the chat template's assistant marker."""

    def __init__(self, cfg: Any, run_dir: str | Path | None = None, stage: str | None = None,
                 marker: str = DEFAULT_ASSISTANT_MARKER):
        from dig_core.config import instantiate

        self.task = instantiate(cfg, "task", "task")
        self.reward = instantiate(cfg, "reward", "reward")
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.stage = stage
        self.marker = marker
        self._tasks = {getattr(self.task.config, "coords", None): self.task}
        rc = self.reward.config
        self._lam = (getattr(rc, "lambda_f1", 0.5), getattr(rc, "lambda_iou", 0.5))
        self._logs: dict[str, RewardLog] = {}
        self._logs_lock = threading.Lock()
        try:
            import torch

            self._torch = torch
        except ImportError:  # reward checks without torch: lists instead of tensors
            self._torch = None

    # -- parts --------------------------------------------------------------------------------------
    def _task(self, coords: str):
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

    def score_one(self, query: Any, raw_label: Any) -> dict[str, Any]:
        """Components of one sample as a ``rewards.jsonl`` record (without ``step``); never raises."""
        label = _label(raw_label)
        if isinstance(label, str):
            _warn("label", f"bad label, reward 0: {label}")
            return {"stage": self.stage or "unknown", "id": None, **_ZERO, "accuracy": 0.0,
                    "error": f"label: {label}"}
        stage = self.stage or label.stage or "unknown"
        try:
            if not isinstance(query, str):
                raise ValueError(f"query must be a string, got {type(query).__name__}")
            response = extract_response(query, self.marker)
            if response is None:
                _warn("marker", f"{label.id}: no assistant marker {self.marker!r} in the query, reward 0")
                return {"stage": stage, "id": label.id, **_ZERO, "n_gt": len(label.boxes), "accuracy": 0.0,
                        "error": "no assistant marker"}
            boxes = self._task(label.coords).parse(response, label.width, label.height, label.scale)
            res = self.reward.score(boxes, label.boxes)
        except Exception as e:  # noqa: BLE001 - never raise into OpenRLHF
            _warn("error", f"{label.id}: {type(e).__name__}: {e}; reward 0")
            return {"stage": stage, "id": label.id, **_ZERO, "n_gt": len(label.boxes), "accuracy": 0.0,
                    "error": f"{type(e).__name__}: {e}"}
        if not res.n_pred:
            _warn("format", f"{label.id}: no box in the answer (format 0)")
        rec = {"stage": stage, "id": label.id}
        for k in COMPONENTS:
            rec[k] = getattr(res, k)
        rec["accuracy"] = self._lam[0] * res.f1 + self._lam[1] * res.miou
        return rec

    # -- what OpenRLHF calls ------------------------------------------------------------------------
    def __call__(self, queries: Sequence[str], prompts: Sequence[str] | None = None,
                 labels: Sequence[Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        try:
            n = len(queries)
            labels = list(labels) if labels is not None else []
            if len(labels) != n:
                _warn("batch", f"{n} queries but {len(labels)} labels; missing labels score 0")
                labels = (labels + [None] * n)[:n]
            records = [self.score_one(q, lab) for q, lab in zip(queries, labels)]
        except Exception as e:  # noqa: BLE001 - e.g. queries is not a sequence
            _warn("error", f"cannot score batch: {type(e).__name__}: {e}")
            records = []
        if self.run_dir is not None and records:
            now = round(time.time(), 3)
            try:
                by_stage: dict[str, list[dict[str, Any]]] = {}
                for rec in records:
                    rec["time"] = now
                    by_stage.setdefault(rec["stage"], []).append(rec)
                for stage, recs in by_stage.items():
                    self.log_for(stage).append(recs)
            except Exception as e:  # noqa: BLE001 - a full disk must not stop training
                _warn("log", f"cannot append to rewards.jsonl: {type(e).__name__}: {e}")
        return self.pack(records)

    def pack(self, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """``{"rewards", "scores", "extra_logs"}`` as OpenRLHF expects: float32 tensors of shape
        ``(len(records),)`` (lists where torch is missing). One tensor holds every component; the
        returned ones are its rows (one allocation per call: this runs once per rollout)."""
        data = [[float(r[k]) for r in records] for k in EXTRA_LOGS]
        torch = self._torch
        if torch is None:
            cols = dict(zip(EXTRA_LOGS, data))
        else:
            table = torch.from_numpy(np.array(data, dtype=np.float32).reshape(len(EXTRA_LOGS), len(records)))
            cols = dict(zip(EXTRA_LOGS, table.unbind(0)))
        return {"rewards": cols["reward"], "scores": cols["reward"], "extra_logs": cols}

    def close(self) -> None:
        for log in self._logs.values():
            log.close()


# -- binding to a run ---------------------------------------------------------------------------------
def load_reward_config(config_path: str | Path | None, overrides: Sequence[str] = ()):
    """The run's config with its ``task`` and ``reward`` sections checked (ConfigError if bad)."""
    from dig_core.config import load_config

    return load_config(config_path, list(overrides), sections=("task", "reward"))


def assistant_marker(model: str | None) -> str:
    """The assistant marker of ``model``'s chat template, or the Qwen default when there is no
    model or its processor cannot be loaded."""
    if not model:
        return DEFAULT_ASSISTANT_MARKER
    try:
        from dig_core.vlm import VLProcessor

        marker = VLProcessor(model).assistant_marker()
        if isinstance(marker, str) and marker:
            return marker
    except Exception as e:  # noqa: BLE001 - no transformers, unreachable model: fall back
        logger.warning("DiG reward: cannot read the assistant marker of %s (%s: %s); using %r",
                       model, type(e).__name__, e, DEFAULT_ASSISTANT_MARKER)
    return DEFAULT_ASSISTANT_MARKER


_bound: dict[tuple, RewardFunction] = {}
_bound_lock = threading.Lock()


def bind(config_path: str | Path | None = None, run_dir: str | Path | None = None, stage: str | None = None,
         model: str | None = None, marker: str | None = None, overrides: Sequence[str] = ()) -> RewardFunction:
    """The :class:`RewardFunction` for a run (cached per arguments in this process, so every
    engine's executor in one process shares one log writer). ``model``: read the assistant marker
    from its processor; ``marker``: give it directly (default: the Qwen marker). A bad config
    raises here, when OpenRLHF loads the file, so a run fails at start instead of training on 0."""
    key = (None if config_path is None else str(Path(config_path).resolve()),
           None if run_dir is None else str(Path(run_dir).resolve()), stage, model, marker, tuple(overrides))
    with _bound_lock:
        fn = _bound.get(key)
        if fn is None:
            cfg = load_reward_config(config_path, overrides)
            fn = _bound[key] = RewardFunction(cfg, run_dir, stage, marker or assistant_marker(model))
    return fn


SHIM = '''"""OpenRLHF --reward.remote_url file for DiG stage {stage!r}, written by dig-train-openrlhf.

Regenerate it with dig_train_openrlhf.reward_module.write_reward_file; do not edit.
"""

from dig_train_openrlhf.reward_module import bind

reward_func = bind(
    config_path={config_path!r},
    run_dir={run_dir!r},
    stage={stage!r},
    model={model!r},
    marker={marker!r},
    overrides={overrides!r},
)
'''


def write_reward_file(path: str | Path, config_path: str | Path | None, run_dir: str | Path, stage: str | None,
                      *, model: str | None = None, marker: str | None = None,
                      overrides: Sequence[str] = ()) -> Path:
    """Write the ``--reward.remote_url`` file binding config, run folder and stage (paths are made
    absolute, so OpenRLHF's workers find them from any directory). The config is loaded once here
    so that a bad one fails now. Returns the file's path."""
    load_reward_config(config_path, overrides)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = SHIM.format(
        stage=stage,
        config_path=None if config_path is None else str(Path(config_path).resolve()),
        run_dir=str(Path(run_dir).resolve()),
        model=model, marker=marker, overrides=tuple(overrides),
    )
    atomic_write_text(path, text)
    return path
