"""``dig config show``: print the resolved config."""

from __future__ import annotations

import click

from dig_core.config import load_config, to_yaml
from dig_core.options import config_option, overrides_argument


@click.group()
def config() -> None:
    """Inspect the pipeline config."""


@config.command("show")
@config_option
@overrides_argument
def show(config_path: str | None, overrides: tuple[str, ...]) -> None:
    """Print the resolved config (defaults <- --config file <- KEY=VALUE overrides), validated.

    Example: dig config show scene.max_objects=6 curriculum.stages[0].pairs=10
    """
    click.echo(to_yaml(load_config(config_path, overrides)), nl=False)
