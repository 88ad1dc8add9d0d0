"""Core's own CLI commands, registered through ``register_commands`` like any plugin's."""

from __future__ import annotations

from dig_core import hookimpl


@hookimpl
def register_commands(cli) -> None:
    from dig_core.commands.audit_cmd import audit
    from dig_core.commands.config_cmd import config
    from dig_core.commands.generate_cmd import generate
    from dig_core.commands.plugins_cmd import plugins
    from dig_core.commands.score import score
    from dig_core.commands.show_cmd import show

    for command in (generate, config, plugins, show, audit, score):
        cli.add_command(command)
