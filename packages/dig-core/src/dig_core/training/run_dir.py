"""The run folder every trainer writes (one per training run, any trainer)::

    RUN_DIR/run.json                 trainer, stage order, reward weights (written when a run starts)
    RUN_DIR/config.yaml              the resolved config the run (and its reward code) uses
    RUN_DIR/<stage>/train.log        the trainer's console output, appended per attempt
    RUN_DIR/<stage>/rewards.jsonl    one line per scored sample (REWARD_FIELDS): step, stage, id and
                                     the reward's components (dig_core.reward.COMPONENTS)
    RUN_DIR/<stage>/checkpoint/      the stage's final model (Hugging Face format)
    RUN_DIR/<stage>/tensorboard/     TensorBoard event files when trainer.params.report_to has
                                     tensorboard (``tensorboard --logdir RUN_DIR`` shows every stage)
    RUN_DIR/<stage>/DONE             JSON marker written atomically when the stage finished:
                                     {"checkpoint", "reason", "step"}; its checkpoint starts stage k+1

and reading its ``rewards.jsonl`` back (whole, or tailing a live one).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dig_core.data.io import atomic_write_text, dumps_json, iter_jsonl
from dig_core.errors import DigError
from dig_core.reward import COMPONENTS

RUN_MANIFEST = "run.json"
RUN_CONFIG = "config.yaml"
TRAIN_LOG = "train.log"
REWARDS = "rewards.jsonl"
DONE = "DONE"
CHECKPOINT = "checkpoint"
TENSORBOARD = "tensorboard"

#: fields of a rewards.jsonl line every trainer writes (``step``: 0-based sample counter of the stage;
#: then the reward plugin's components, ``reward`` and its accuracy part ``accuracy`` among them;
#: trainers may add more, e.g. ``time``, ``error``)
REWARD_FIELDS = ("step", "stage", "id", *COMPONENTS)


class TrainError(DigError):
    """A training stage failed or a run folder is inconsistent (the message names the stage and log)."""


# -- run folder ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StagePaths:
    """Where one stage's files are."""

    name: str
    dir: Path

    @property
    def train_log(self) -> Path:
        return self.dir / TRAIN_LOG

    @property
    def rewards(self) -> Path:
        return self.dir / REWARDS

    @property
    def done(self) -> Path:
        return self.dir / DONE

    @property
    def checkpoint(self) -> Path:
        return self.dir / CHECKPOINT

    @property
    def tensorboard(self) -> Path:
        return self.dir / TENSORBOARD


class RunDir:
    """A training run's folder (see the module docstring for the layout)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def manifest(self) -> Path:
        return self.root / RUN_MANIFEST

    @property
    def config(self) -> Path:
        return self.root / RUN_CONFIG

    def stage(self, name: str) -> StagePaths:
        if not name or "/" in name or name in (".", ".."):
            raise TrainError(f"stage name {name!r} cannot be a folder name")
        return StagePaths(name, self.root / name)

    def read_done(self, name: str) -> dict[str, Any] | None:
        """The stage's DONE marker (checkpoint resolved to an absolute path), or None."""
        path = self.stage(name).done
        if not path.is_file():
            return None
        try:
            done = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise TrainError(f"{path}: corrupt DONE marker ({e}); delete it to rerun stage {name!r}") from None
        if not isinstance(done, dict) or not isinstance(done.get("checkpoint"), str):
            raise TrainError(f"{path}: DONE marker without a 'checkpoint' path; delete it to rerun stage {name!r}")
        ckpt = Path(done["checkpoint"])
        done["checkpoint"] = str(ckpt if ckpt.is_absolute() else (self.root / ckpt).resolve())
        return done

    def mark_done(self, name: str, checkpoint: str | Path, reason: str, step: int | None = None,
                  **extra: Any) -> dict[str, Any]:
        """Write the stage's DONE marker atomically. ``checkpoint`` inside the run folder is stored
        relative to it, so a moved run folder still resumes."""
        ckpt = Path(checkpoint).resolve()
        try:
            stored = str(ckpt.relative_to(self.root.resolve()))
        except ValueError:
            stored = str(ckpt)
        record = {"stage": name, "checkpoint": stored, "reason": reason, "step": step, **extra}
        paths = self.stage(name)
        paths.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(paths.done, dumps_json(record))
        return record

    def write_manifest(self, trainer: str, stages: Sequence[str], reward: dict[str, Any],
                       **extra: Any) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        record = {"trainer": trainer, "stages": list(stages), "reward": reward, **extra}
        atomic_write_text(self.manifest, dumps_json(record))

    def read_manifest(self) -> dict[str, Any] | None:
        if not self.manifest.is_file():
            return None
        try:
            return json.loads(self.manifest.read_text())
        except json.JSONDecodeError as e:
            raise TrainError(f"{self.manifest}: corrupt run manifest ({e})") from None


# -- rewards log ---------------------------------------------------------------------------------------
def iter_rewards(path: str | Path) -> Iterator[dict[str, Any]]:
    """Records of one stage's rewards.jsonl. A torn last line (a writer killed mid-line) is skipped;
    any other corrupt line raises :class:`DatasetError` naming file and line."""
    for _, rec in iter_jsonl(path, skip_torn_tail=True):
        yield rec


class RewardTail:
    """Reads the records appended to a rewards.jsonl since the last call (the file may not exist
    yet; an incomplete last line waits for its newline; corrupt lines are skipped)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._offset = 0
        self._partial = b""

    def read_new(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()  # b"" after a final newline
        out = []
        for raw in lines:
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out


def read_rewards(run_dir: str | Path, stages: Sequence[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """``{stage: [record, ...]}`` in curriculum order: ``stages`` if given, else the order in
    run.json, else every sub-folder holding a rewards.jsonl, sorted by name."""
    run = RunDir(run_dir)
    if not run.root.is_dir():
        raise TrainError(f"run folder not found: {run.root}")
    if stages is None:
        manifest = run.read_manifest()
        if manifest and isinstance(manifest.get("stages"), list):
            stages = [str(s) for s in manifest["stages"]]
        else:
            stages = sorted(p.parent.name for p in run.root.glob(f"*/{REWARDS}"))
    out: dict[str, list[dict[str, Any]]] = {}
    for name in stages:
        path = run.stage(name).rewards
        if path.is_file():
            out[name] = list(iter_rewards(path))
    return out
