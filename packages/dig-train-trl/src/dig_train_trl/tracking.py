"""TensorBoard for the ``trl`` trainer's stages: ``RUN_DIR/<stage>/tensorboard/``.

GRPO stages log through transformers' own ``TensorBoardCallback`` (:func:`tensorboard_callback`,
the ``train/…`` scalars TRL logs every step). A loop that is not a transformers ``Trainer`` (the SFT
warm start) writes its scalars with :class:`StageScalars` under the same names. ``tensorboard
--logdir RUN_DIR`` shows every stage as one run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dig_core.training import report_integrations


def tensorboard_wanted(report_to: Sequence[str] | None) -> bool:
    return "tensorboard" in report_integrations(report_to)


def summary_writer(log_dir: str | Path, purge_step: int | None = None) -> Any:
    """A ``torch.utils.tensorboard.SummaryWriter`` on ``log_dir``. ``purge_step``: a resumed stage's
    first new step; the events an earlier attempt wrote from that step on are hidden."""
    from torch.utils.tensorboard import SummaryWriter

    Path(log_dir).mkdir(parents=True, exist_ok=True)
    return SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)


def tensorboard_callback(writer: Any) -> Any:
    """transformers' ``TensorBoardCallback`` writing to ``writer`` (it closes it at the end of training)."""
    from transformers.integrations import TensorBoardCallback

    return TensorBoardCallback(tb_writer=writer)


class StageScalars:
    """Scalars of one stage's own training loop to ``<stage>/tensorboard/`` when ``report_to`` has
    tensorboard; a no-op otherwise. ``add(step, {"loss": 0.3})`` writes ``train/loss`` at ``step``;
    None and non-finite values are skipped. Use it as a context manager (or call :meth:`close`).

    ``purge_step`` defaults to 0: a loop that always restarts from its beginning (the warm start)
    hides what an interrupted earlier attempt wrote."""

    def __init__(self, report_to: Sequence[str] | None, log_dir: str | Path, purge_step: int | None = 0):
        self.writer = summary_writer(log_dir, purge_step) if tensorboard_wanted(report_to) else None

    def add(self, step: int, values: Mapping[str, Any], prefix: str = "train/") -> None:
        if self.writer is None:
            return
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            self.writer.add_scalar(f"{prefix}{key}", float(value), int(step))
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def __enter__(self) -> StageScalars:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
