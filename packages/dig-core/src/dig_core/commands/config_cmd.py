"""``dig config show``: print the resolved config."""

from __future__ import annotations

import click

from dig_core.config import ALL_SECTIONS, merge_config, semantic_errors, to_yaml, uninstalled_plugins
from dig_core.errors import ConfigError
from dig_core.options import config_option, overrides_argument
from dig_core.plugins import get_plugin_manager
from dig_core.plugins.manager import unknown_name_message


@click.group()
def config() -> None:
    """Inspect the pipeline config."""


@config.command("show")
@config_option
@overrides_argument
def show(config_path: str | None, overrides: tuple[str, ...]) -> None:
    """Print the resolved config (defaults <- --config file <- KEY=VALUE overrides), validated.

    A section naming a DiG package's plugin that is not installed here (e.g. `renderer: blender` on
    a training machine) is printed as it is, with a note on stderr naming the package to install.

    Example: dig config show scene.max_objects=6 curriculum.stages[0].pairs=10
    """
    pm = get_plugin_manager()
    cfg, errors = merge_config(config_path, overrides)
    missing = uninstalled_plugins(cfg, pm)
    skip = {section for section, *_ in missing}
    errors += semantic_errors(cfg, pm, [s for s in ALL_SECTIONS if s not in skip])
    if errors:
        raise ConfigError(errors)
    for _, where, kind, name in missing:
        click.echo(f"note: {where}.name: {unknown_name_message(kind, name, pm.registries[kind])}; "
                   "its params were not checked", err=True)
    click.echo(to_yaml(cfg), nl=False)
