"""Ending a stage early: the curriculum advance rule read live from ``rewards.jsonl``.

While OpenRLHF trains a stage, :class:`AdvanceWatcher` reads the lines the reward module appends to
``RUN_DIR/<stage>/rewards.jsonl``, turns each prompt's G samples into one mean accuracy reward
(:class:`dig_core.training.PresentationMeans`) and feeds them to the stage's advance rule through a
one-stage :class:`dig_core.curriculum.CurriculumState`. Once the rule says "advance", it waits for
the *next* Hugging Face checkpoint OpenRLHF saves (``<ckpt.path>/global_step<N>_hf``, written every
``save_steps``): a folder that appeared after the decision, holds config, weights and tokenizer,
and has not changed for ``settle_s`` seconds. ``finalize`` (the trainer's: save the stage's
starting processor into it, which OpenRLHF does not) then makes it a complete model folder
(:func:`checkpoint_complete`); the launcher stops the training process group and the next stage
starts from that checkpoint.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dig_core.curriculum import AdvanceRule, CurriculumState
from dig_core.training import PresentationMeans, RewardTail

#: OpenRLHF's HF checkpoint folders: os.path.join(args.ckpt.path, f"{tag}_hf"), tag = global_step<N>
HF_CHECKPOINT = re.compile(r"^global_step(\d+)_hf$")
WEIGHTS = ("model.safetensors", "pytorch_model.bin", "adapter_model.safetensors", "adapter_model.bin")
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
#: a saved processor (transformers 5 writes processor_config.json; older saves and hub folders
#: preprocessor_config.json): what AutoProcessor and vLLM need beside the tokenizer
PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json")


def hf_checkpoints(ckpt_dir: str | Path) -> dict[Path, int]:
    """``{folder: step}`` of the HF checkpoints under OpenRLHF's ``--ckpt.path``."""
    root = Path(ckpt_dir)
    if not root.is_dir():
        return {}
    out = {}
    for p in root.iterdir():
        m = HF_CHECKPOINT.match(p.name)
        if m and p.is_dir():
            out[p] = int(m.group(1))
    return out


def checkpoint_complete(path: str | Path) -> bool:
    """A Hugging Face model folder that AutoProcessor and AutoModelForImageTextToText load: config,
    all weight files, tokenizer and processor files."""
    return weights_complete(path) and any((Path(path) / f).is_file() for f in PROCESSOR_FILES)


def weights_complete(path: str | Path) -> bool:
    """A folder with config, all weight files and the tokenizer: what OpenRLHF's HF save writes
    (weights, then config.json, then the tokenizer; no processor files)."""
    p = Path(path)
    if not (p / "config.json").is_file() or not (p / "tokenizer_config.json").is_file():
        return False
    if any((p / w).is_file() for w in WEIGHTS):
        return True
    for index in WEIGHT_INDEXES:
        if (p / index).is_file():
            try:
                shards = set(json.loads((p / index).read_text())["weight_map"].values())
            except (ValueError, KeyError, TypeError, AttributeError):
                return False
            return bool(shards) and all((p / s).is_file() for s in shards)
    return False


def _signature(path: Path) -> tuple:
    try:
        return tuple(sorted((str(f.relative_to(path)), f.stat().st_size, f.stat().st_mtime_ns)
                            for f in path.rglob("*") if f.is_file()))
    except FileNotFoundError:  # a file vanished while listing: still being written
        return ("changing", time.monotonic())


class AdvanceWatcher:
    """Decides from the live reward log when to stop a stage, and at which checkpoint.

    ``poll()`` is cheap (reads only new lines) and returns the checkpoint folder to continue from
    once the rule has fired and the next checkpoint is written and settled, after ``finalize(folder)``
    has made it a complete model folder; None until then."""

    def __init__(self, stage: Any, rule: AdvanceRule, rewards_path: str | Path, ckpt_dir: str | Path,
                 group_size: int, settle_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, finalize: Callable[[Path], None] | None = None):
        self.stage = stage
        self.state = CurriculumState([stage], rule)
        self.tail = RewardTail(rewards_path)
        self.means = PresentationMeans(group_size)
        self.ckpt_dir = Path(ckpt_dir)
        self.settle_s = settle_s
        self.clock = clock
        self.finalize = finalize
        self.presentations = 0
        self.decided_at: int | None = None  # presentations seen when the rule fired
        self._known: set[Path] = set()
        self._seen: dict[Path, tuple[tuple, float]] = {}  # candidate -> (signature, since)

    @property
    def decided(self) -> bool:
        return self.decided_at is not None

    def _read_rewards(self) -> None:
        for rec in self.tail.read_new():
            if rec.get("error") is not None and rec.get("id") is None:
                continue  # a sample whose label could not be read belongs to no prompt
            mean = self.means.add(rec)
            if mean is None:
                continue
            self.presentations += 1
            self.state.record(mean)
            if self.state.finished:
                self.decided_at = self.presentations
                self._known = set(hf_checkpoints(self.ckpt_dir))
                return

    def poll(self) -> Path | None:
        if not self.decided:
            self._read_rewards()
            if not self.decided:
                return None
        now = self.clock()
        candidates = sorted(((step, p) for p, step in hf_checkpoints(self.ckpt_dir).items() if p not in self._known))
        for _, path in candidates:
            if not weights_complete(path):
                self._seen.pop(path, None)
                continue
            sig = _signature(path)
            prev = self._seen.get(path)
            if prev is None or prev[0] != sig:
                self._seen[path] = (sig, now)
            elif now - prev[1] >= self.settle_s:
                if self.finalize is not None:
                    self.finalize(path)
                if checkpoint_complete(path):
                    return path
                self._seen.pop(path, None)  # no processor (and none saved): not a folder to hand on
        return None

    def describe(self) -> str:
        return (f"advance rule fired after {self.decided_at} prompt presentations"
                if self.decided else f"{self.presentations} prompt presentations, rule not fired")
