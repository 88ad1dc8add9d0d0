"""Using a validated config: build the plugin a section names, and the config as YAML or plain data."""

from __future__ import annotations

import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dig_core.config.validate import plugin_params
from dig_core.errors import ConfigError
from dig_core.plugins.manager import PluginManager, get_plugin_manager


def instantiate(cfg: DictConfig, section: str, kind: str, pm: PluginManager | None = None) -> Any:
    """Build the plugin named in ``cfg.<section>`` with its validated params."""
    pm = pm or get_plugin_manager()
    ref = OmegaConf.select(cfg, section)
    if ref is None or ref.name is None:
        raise ConfigError(f"{section}.name is not set")
    cls = pm.get(kind, ref.name)
    errors: list[str] = []
    params = plugin_params(cls, ref.params, f"{section}.params", errors)
    if errors:
        raise ConfigError(errors)
    return cls(params)


def to_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)


def to_plain(cfg: DictConfig) -> dict[str, Any]:
    return json.loads(json.dumps(OmegaConf.to_container(cfg, resolve=True)))
