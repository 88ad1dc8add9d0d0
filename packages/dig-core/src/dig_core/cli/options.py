"""Click options shared by commands that read the pipeline config."""

from __future__ import annotations

import click

config_option = click.option(
    "--config", "-c", "config_path", type=click.Path(dir_okay=False), default=None,
    help="YAML config file (defaults are used for every key it does not set).",
)
overrides_argument = click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
