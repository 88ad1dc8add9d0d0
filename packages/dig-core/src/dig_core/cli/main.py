"""The ``dig`` command line. Commands come from plugins' ``register_commands`` hooks (core's own
included), so a package adds ``dig <its-command>`` without core knowing it."""

from __future__ import annotations

import sys

import click

from dig_core import __version__
from dig_core.errors import DigError


class DigGroup(click.Group):
    """Turns :class:`DigError` into ``error: ...`` on stderr and its exit code, no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DigError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:  # Ctrl-C outside a command's own handling (e.g. while loading)
            click.echo("error: interrupted (SIGINT)", err=True)
            ctx.exit(130)


@click.group(cls=DigGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dig")
def cli() -> None:
    """DiG: Differential Grounding data, rewards and tools.

    Generate image pairs that differ in K edited objects with exact difference boxes, score model
    answers, inspect datasets. Every command takes --config FILE.yaml and key=value overrides;
    `dig config show` prints the resolved config, `dig plugins` what is installed.
    """


_loaded = False


def load_commands() -> click.Group:
    global _loaded
    if not _loaded:
        from dig_core.plugins import get_plugin_manager

        get_plugin_manager().pm.hook.register_commands(cli=cli)
        _loaded = True
    return cli


def main(argv: list[str] | None = None) -> None:
    try:
        group = load_commands()
    except DigError as e:  # a broken plugin is a user-environment error, not a crash
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    group.main(args=argv, prog_name="dig")
