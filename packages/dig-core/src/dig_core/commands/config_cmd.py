"""``dig config show``: print the resolved config."""

from __future__ import annotations

import click
from omegaconf import OmegaConf

from dig_core.config import ALL_SECTIONS, PLUGIN_SECTIONS, load_config, to_yaml
from dig_core.options import config_option, overrides_argument
from dig_core.plugins import get_plugin_manager
from dig_core.plugins.manager import PROVIDERS, unknown_name_message


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
    raw = load_config(config_path, overrides, pm, validate=False)
    missing = []
    for section in ALL_SECTIONS:
        refs = ([(f"{section}[{i}]", r) for i, r in enumerate(raw.evaluators)] if section == "evaluators"
                else [(section, OmegaConf.select(raw, section))])
        kind = PLUGIN_SECTIONS.get(section, "evaluator")
        for where, ref in refs:
            if ref.name is not None and (kind, ref.name) in PROVIDERS and ref.name not in pm.registries[kind]:
                missing.append((section, where, kind, ref.name))
    cfg = load_config(config_path, overrides, pm,
                      sections=[s for s in ALL_SECTIONS if s not in {m[0] for m in missing}])
    for _, where, kind, name in missing:
        click.echo(f"note: {where}.name: {unknown_name_message(kind, name, pm.registries[kind])}; "
                   "its params were not checked", err=True)
    click.echo(to_yaml(cfg), nl=False)
