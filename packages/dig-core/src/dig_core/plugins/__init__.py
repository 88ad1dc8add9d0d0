"""Plugin system: pluggy hooks, one entry-point group (``dig``), registries keyed by PLUGIN_NAME."""

from dig_core.plugins.base import NoConfig, NoParams, Plugin
from dig_core.plugins.manager import (
    ENTRY_POINT_GROUP,
    KINDS,
    PluginInfo,
    PluginManager,
    get_plugin_manager,
    reset_plugin_manager,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "KINDS",
    "NoConfig",
    "NoParams",
    "Plugin",
    "PluginInfo",
    "PluginManager",
    "get_plugin_manager",
    "reset_plugin_manager",
]
