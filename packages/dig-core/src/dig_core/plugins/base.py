"""Base class shared by every plugin kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from dig_core.errors import ConfigError


@dataclass
class NoConfig:
    """Config of a plugin that takes no parameters."""


#: the old name of :class:`NoConfig` (third-party plugins may import it)
NoParams = NoConfig


class Plugin:
    """A named, configurable component. Subclasses set ``PLUGIN_NAME`` and, when they take
    parameters, a ``Config`` dataclass (validated by OmegaConf when config names the plugin) and,
    for checks beyond types, :meth:`validate_config`."""

    PLUGIN_NAME: ClassVar[str] = ""
    Config: ClassVar[type] = NoConfig

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()
        problems = self.validate_config(self.config)
        if problems:
            raise ConfigError([f"{self.PLUGIN_NAME}: {p}" for p in problems])

    @classmethod
    def validate_config(cls, cfg: Any) -> list[str]:
        """Checks of ``cfg`` beyond its field types (ranges, cross-field rules); one message per
        problem. Config loading reports them under the plugin's section; the constructor raises."""
        return []
