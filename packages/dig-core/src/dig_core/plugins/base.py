"""Base class shared by every plugin kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass
class NoParams:
    """Config of a plugin that takes no parameters."""


class Plugin:
    """A named, configurable component. Subclasses set ``PLUGIN_NAME`` and, when they take
    parameters, a ``Config`` dataclass (validated by OmegaConf when config names the plugin)."""

    PLUGIN_NAME: ClassVar[str] = ""
    Config: ClassVar[type] = NoParams

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()
