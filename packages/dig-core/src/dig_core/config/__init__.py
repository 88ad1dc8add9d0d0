"""The whole pipeline's config: OmegaConf structured configs, YAML + ``key=value`` overrides,
validation that reports every problem at once, and plugin resolution by name.

Sections that pick a plugin have the shape ``{name: <PLUGIN_NAME>, params: {...}}``; ``params`` is
validated against that plugin class's ``Config`` dataclass.

- :mod:`~dig_core.config.schema`: the dataclasses, plugin sections and bounds;
- :mod:`~dig_core.config.load`: files and overrides merged over the defaults (``merge_config``);
- :mod:`~dig_core.config.validate`: every problem of a merged config (``semantic_errors``);
- :mod:`~dig_core.config.instantiate`: the plugin a section names, the config as YAML / plain data;
- :mod:`~dig_core.config.explain`: the config a user reads (``dig config show``, ``--explain``);
- :func:`load_config` here: load, then validate.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from omegaconf import DictConfig

from dig_core.config.instantiate import instantiate, to_plain, to_yaml
from dig_core.config.load import (
    apply_overrides,
    interpolation_errors,
    load_yaml,
    merge_config,
    merge_mapping,
    parse_override,
    parsed_overrides,
    read_yaml_mapping,
)
from dig_core.config.schema import (
    ALL_SECTIONS,
    BALANCE_MODES,
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    MAX_OBJECTS,
    MAX_PAIRS,
    MAX_STAGE_PAIRS,
    PLUGIN_SECTIONS,
    CurriculumConfig,
    DigConfig,
    GenerateConfig,
    PerturbationsConfig,
    PluginRef,
    SceneConfig,
    StageConfig,
    ValidityConfig,
)
from dig_core.config.validate import (
    non_finite_errors,
    param_origin,
    plugin_params,
    semantic_errors,
    uninstalled_plugins,
)
from dig_core.errors import ConfigError
from dig_core.plugins.manager import PluginManager, get_plugin_manager

__all__ = [
    "ALL_SECTIONS", "BALANCE_MODES", "MAX_IMAGE_PIXELS", "MAX_IMAGE_SIDE", "MAX_OBJECTS", "MAX_PAIRS",
    "MAX_STAGE_PAIRS", "PLUGIN_SECTIONS", "CurriculumConfig", "DigConfig", "GenerateConfig",
    "PerturbationsConfig", "PluginRef", "SceneConfig", "StageConfig", "ValidityConfig", "apply_overrides",
    "instantiate", "interpolation_errors", "load_config", "load_yaml", "merge_config", "merge_mapping",
    "non_finite_errors", "param_origin", "parse_override", "parsed_overrides", "plugin_params",
    "read_yaml_mapping", "semantic_errors", "to_plain", "to_yaml", "uninstalled_plugins",
]


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    pm: PluginManager | None = None,
    validate: bool = True,
    sections: Iterable[str] | None = None,
) -> DictConfig:
    """Defaults <- YAML file <- ``key=value`` overrides, then full validation.

    ``sections``: the plugin sections (keys of :data:`PLUGIN_SECTIONS`, or ``"evaluators"``) the
    caller will use; only those are resolved to plugins (None = all). A command that does not render
    passes sections without ``renderer``, so it works where no renderer is installed.
    Raises :class:`ConfigError` with every problem found (file, key, value and what is allowed).
    """
    cfg, errors = merge_config(path, overrides)
    if validate:
        errors.extend(semantic_errors(cfg, pm or get_plugin_manager(), sections, param_origin(path, overrides)))
    if errors:
        raise ConfigError(errors)
    return cfg
