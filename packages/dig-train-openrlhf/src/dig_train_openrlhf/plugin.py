"""Entry point ``dig: openrlhf``: the hook implementations of dig-train-openrlhf (and nothing else)."""

from __future__ import annotations

from dig_core import hookimpl


@hookimpl
def register_trainers() -> list[type]:
    from dig_train_openrlhf.trainer import OpenRLHFTrainer

    return [OpenRLHFTrainer]


@hookimpl
def register_pipeline_steps() -> list[type]:
    from dig_train_openrlhf.steps import ExportStep

    return [ExportStep]


@hookimpl
def register_commands(cli) -> None:
    from dig_train_openrlhf.export_cmd import export_openrlhf

    cli.add_command(export_openrlhf)
