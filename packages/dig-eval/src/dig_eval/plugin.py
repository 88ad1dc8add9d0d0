"""Entry point ``dig: eval``: the hook implementations of dig-eval (and nothing else)."""

from __future__ import annotations

from dig_core import hookimpl


@hookimpl
def register_model_adapters() -> list[type]:
    from dig_eval.adapters import ADAPTERS

    return list(ADAPTERS)


@hookimpl
def register_evaluators() -> list[type]:
    from dig_eval.evaluators import EVALUATORS

    return list(EVALUATORS)


@hookimpl
def register_pipeline_steps() -> list[type]:
    from dig_eval.steps import EvalStep, ReportStep

    return [EvalStep, ReportStep]


@hookimpl
def register_commands(cli) -> None:
    from dig_eval.commands import COMMANDS
    from dig_eval.run_report.command import report

    for command in (*COMMANDS, report):
        cli.add_command(command)
