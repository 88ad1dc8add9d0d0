"""``dig config show``: print the resolved config."""

from __future__ import annotations

import click

from dig_core.cli.options import config_option, overrides_argument
from dig_core.config import (
    ALL_SECTIONS,
    merge_config,
    param_origin,
    semantic_errors,
    to_yaml,
    uninstalled_plugins,
)
from dig_core.config.explain import explain, explain_text, with_defaults
from dig_core.errors import ConfigError
from dig_core.plugins import get_plugin_manager
from dig_core.plugins.manager import unknown_name_message


@click.group()
def config() -> None:
    """Inspect the pipeline config."""


@config.command("show")
@config_option
@click.option("--explain", "explain_key", metavar="KEY", default=None,
              help="Explain KEY instead: its type, default, value here and doc comment; a section "
                   "(scene, renderer.params) lists all its keys. Plugin params follow the selected "
                   "plugin: renderer.params.samples, task.params.coords, trainer.params (with trainer.name set).")
@click.option("--no-defaults", is_flag=True,
              help="Print plugin params as given, without filling in the plugins' defaults.")
@overrides_argument
def show(config_path: str | None, explain_key: str | None, no_defaults: bool, overrides: tuple[str, ...]) -> None:
    """Print the resolved config (defaults <- --config file <- KEY=VALUE overrides), validated, with
    every selected plugin's params spelled out (defaults filled in), so nothing is hidden behind
    `task: {name: dig, params: {}}`. The output is itself a valid --config file.

    A section naming a DiG package's plugin that is not installed here (e.g. `renderer: blender` on
    a training machine) is printed as it is, with a note on stderr naming the package to install.

    Examples: dig config show scene.max_objects=6 curriculum.stages[0].pairs=10
              dig config show --explain task.params.coords
              dig config show --explain curriculum.stages.min_area
              dig config show trainer.name=trl --explain trainer.params
    """
    pm = get_plugin_manager()
    cfg, errors = merge_config(config_path, overrides)
    missing = uninstalled_plugins(cfg, pm)
    skip = {section for section, *_ in missing}
    errors += semantic_errors(cfg, pm, [s for s in ALL_SECTIONS if s not in skip], param_origin(config_path, overrides))
    if errors:
        raise ConfigError(errors)
    if explain_key is not None:
        click.echo(explain_text(explain(cfg, explain_key, pm)), nl=False)
        return
    for _, where, kind, name in missing:
        click.echo(f"note: {where}.name: {unknown_name_message(kind, name, pm.registries[kind])}; "
                   "its params were not checked", err=True)
    if not no_defaults:
        cfg = with_defaults(cfg, pm, [s for s in ALL_SECTIONS if s not in skip])
    click.echo(to_yaml(cfg), nl=False)
