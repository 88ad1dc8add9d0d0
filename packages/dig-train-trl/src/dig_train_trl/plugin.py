"""Entry point ``dig: trl``: the hook implementations of dig-train-trl (and nothing else)."""

from __future__ import annotations

from dig_core import hookimpl


@hookimpl
def register_trainers() -> list[type]:
    from dig_train_trl.trainer import TRLTrainer

    return [TRLTrainer]
