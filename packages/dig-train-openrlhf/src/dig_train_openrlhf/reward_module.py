"""The DiG reward as OpenRLHF calls it: ``reward_func(queries, prompts, labels)`` from a
``--reward.remote_url`` Python file.

OpenRLHF 0.11 (``SingleTurnAgentExecutor``) loads that file with ``importlib`` in every vLLM
engine, and for every rollout calls ``reward_func([query], [prompt], [label])`` in a thread, where
``query`` is the decoded prompt + response *with* special tokens (image pads expanded, so the
prompt string cannot be matched) and ``label`` is the dataset's label string, unchanged. An
exception there is logged at info level and leaves the sample without a reward, and in 0.11.2 that
fails the training step (``experience_maker.py`` raises ValueError, ``ppo_trainer.py`` reads
``info["reward"]``), so this module never raises on a sample: a malformed label, a missing
assistant marker or any other per-sample problem gives reward 0, a warning in the log and an
``error`` field in ``rewards.jsonl``.

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

import logging
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from dig_core.data.io import atomic_write_text
from dig_core.training.reward_log import LOG_KEYS, RewardLog, SampleScorer, dumps_record

logger = logging.getLogger("dig_train_openrlhf.reward")

#: assistant marker of Qwen chat templates (used when the model's processor cannot say)
DEFAULT_ASSISTANT_MARKER = "<|im_start|>assistant\n"
#: tokens stripped from the end of a response
END_TOKENS = ("<|im_end|>", "<|endoftext|>")
#: the components returned in ``extra_logs`` (tensors of shape ``(len(queries),)``)
EXTRA_LOGS = ("format", "precision", "recall", "f1", "miou", "reward")

__all__ = ["LOG_KEYS", "RewardLog", "dumps_record", "RewardFunction", "bind", "extract_response",
           "write_reward_file", "load_reward_config", "assistant_marker"]


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


class RewardFunction(SampleScorer):
    """``reward_func`` for one run and stage (see the module docstring); build it with :func:`bind`.

    ``cfg``: the resolved DiG config (its ``task`` and ``reward`` sections are used);
    ``run_dir``: where ``<stage>/rewards.jsonl`` goes (None: no log); ``stage``: the stage logged
    (None: each label's own stage); ``marker``: the chat template's assistant marker. Scoring and
    the log are dig-core's :class:`~dig_core.training.reward_log.SampleScorer` (shared with every trainer)."""

    def __init__(self, cfg: Any, run_dir: str | Path | None = None, stage: str | None = None,
                 marker: str = DEFAULT_ASSISTANT_MARKER):
        super().__init__(cfg, run_dir, stage, logger)
        self.marker = marker
        try:
            import torch

            self._torch = torch
        except ImportError:  # reward checks without torch: lists instead of tensors
            self._torch = None

    def score_one(self, query: Any, raw_label: Any) -> dict[str, Any]:
        """Components of one sample as a ``rewards.jsonl`` record (without ``step``); never raises."""
        from dig_core.training.reward_log import label_or_problem

        label = label_or_problem(raw_label)
        if isinstance(label, str):
            return self.bad_label(label)
        try:
            if not isinstance(query, str):
                raise ValueError(f"query must be a string, got {type(query).__name__}")
            response = extract_response(query, self.marker)
        except Exception as e:  # noqa: BLE001 - never raise into OpenRLHF
            self.warn("error", f"{label.id}: {type(e).__name__}: {e}; reward 0")
            return self.failed(label, f"{type(e).__name__}: {e}")
        if response is None:
            self.warn("marker", f"{label.id}: no assistant marker {self.marker!r} in the query, reward 0")
            return self.failed(label, "no assistant marker")
        return self.score_text(response, label)

    # -- what OpenRLHF calls ------------------------------------------------------------------------
    def __call__(self, queries: Sequence[str], prompts: Sequence[str] | None = None,
                 labels: Sequence[Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        try:
            n = len(queries)
            labels = list(labels) if labels is not None else []
            if len(labels) != n:
                self.warn("batch", f"{n} queries but {len(labels)} labels; missing labels score 0")
                labels = (labels + [None] * n)[:n]
            records = [self.score_one(q, lab) for q, lab in zip(queries, labels)]
        except Exception as e:  # noqa: BLE001 - e.g. queries is not a sequence
            self.warn("error", f"cannot score batch: {type(e).__name__}: {e}")
            records = []
        self.log(records)
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
        from dig_core.models.vlm import VLProcessor

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
