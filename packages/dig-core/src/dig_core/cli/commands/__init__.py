"""Core's own CLI commands, registered through ``register_commands`` like any plugin's."""

from __future__ import annotations

from dig_core import hookimpl


@hookimpl
def register_commands(cli) -> None:
    from dig_core.cli.commands.audit_cmd import audit
    from dig_core.cli.commands.config_cmd import config
    from dig_core.cli.commands.generate_cmd import generate
    from dig_core.cli.commands.plot_cmd import plot_rewards
    from dig_core.cli.commands.plugins_cmd import plugins
    from dig_core.cli.commands.run_cmd import run
    from dig_core.cli.commands.score_cmd import score
    from dig_core.cli.commands.show_cmd import show
    from dig_core.cli.commands.tiny_model_cmd import tiny_model
    from dig_core.cli.commands.train_cmd import train
    from dig_core.cli.commands.verify_cmd import verify

    for command in (generate, config, plugins, show, audit, score, tiny_model, verify, train, plot_rewards,
                    run):
        cli.add_command(command)
