"""Core's own CLI commands, registered through ``register_commands`` like any plugin's."""

from __future__ import annotations

from dig_core import hookimpl


@hookimpl
def register_commands(cli) -> None:
    from dig_core.commands.config_cmd import config
    from dig_core.commands.plugins_cmd import plugins

    for command in (config, plugins):
        cli.add_command(command)
