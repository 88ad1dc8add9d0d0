"""Loading a config: YAML files (strict: :mod:`dig_core.config.strict_yaml`) and ``key=value``
overrides merged over the schema's defaults, each problem naming its file or override and key."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from dig_core.config import strict_yaml
from dig_core.config.schema import DigConfig
from dig_core.errors import ConfigError


def load_yaml(text: str, where: str) -> Any:
    """``text`` as YAML with the checks of :func:`dig_core.config.strict_yaml.load`; ConfigError naming
    ``where`` (a file, or ``override KEY``) and the line."""
    try:
        return strict_yaml.load(text)
    except strict_yaml.YamlRefused as e:
        raise ConfigError(f"{where}: {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML: {e}") from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid YAML: nested too deeply") from None


def _leaves(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Flatten nested dicts to dotted keys; lists and empty dicts are leaves."""
    if isinstance(d, dict) and d:
        out: list[tuple[str, Any]] = []
        for k, v in d.items():
            out.extend(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return [(prefix, d)]


def parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item or not item.split("=", 1)[0].strip():
        raise ValueError(f"override {item!r} is not key=value (e.g. scene.max_objects=6)")
    key, raw = item.split("=", 1)
    try:
        value = strict_yaml.load(raw) if raw != "" else ""
    except strict_yaml.YamlRefused as e:
        raise ValueError(f"override {item!r}: {e}") from None
    except (yaml.YAMLError, RecursionError):
        value = raw  # not YAML: the text as it is
    return key.strip(), value


def _list_item_type(cfg: DictConfig, key: str) -> type | None:
    """The dataclass of the items of the list field ``key`` (``list[StageConfig]`` for
    ``curriculum.stages``), from the type hints of the dataclass that holds it; None otherwise."""
    parent_key, _, name = key.rpartition(".")
    try:
        parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
    except (OmegaConfBaseException, ValueError, TypeError):
        return None
    owner = OmegaConf.get_type(parent) if isinstance(parent, DictConfig) else None
    if not dataclasses.is_dataclass(owner):
        return None
    hint = typing.get_type_hints(owner).get(name)
    args = typing.get_args(hint)
    if typing.get_origin(hint) is list and args and dataclasses.is_dataclass(args[0]):
        return args[0]
    return None


def _list_item_errors(cfg: DictConfig, key: str, value: list[Any], where: str) -> list[str]:
    """The problems of each item of a list merged into a list of structured items (e.g.
    ``curriculum.stages``), each naming its own key (``curriculum.stages[1].pairs``)."""
    item_type = _list_item_type(cfg, key)
    if item_type is None:
        return []
    errors: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            errors.append(f"{where}: {key}[{i}]: expected a mapping of {item_type.__name__} keys, got {item!r}")
            continue
        schema = OmegaConf.structured(item_type)
        for k, v in _leaves(item):
            if k:
                _apply(schema, k, v, where, errors, prefix=f"{key}[{i}].")
    return errors


def _apply(cfg: DictConfig, key: str, value: Any, where: str, errors: list[str], prefix: str = "") -> None:
    """Merge ``value`` at ``key``; a problem goes to ``errors`` as ``where: <prefix><key>...``."""
    try:
        OmegaConf.update(cfg, key, value, merge=True, force_add=False)
    except OmegaConfBaseException as e:
        msg = str(e).split("\n")[0]
        if "Key '" in msg and ("not in struct" in msg or "not in" in msg):
            parent = key.rsplit(".", 1)[0] if "." in key else ""
            node = OmegaConf.select(cfg, parent) if parent else cfg
            allowed = sorted(node.keys()) if isinstance(node, DictConfig) else []
            errors.append(f"{where}: unknown key {prefix + key!r}; allowed here: {allowed}")
        elif isinstance(value, list) and (items := _list_item_errors(cfg, key, value, where)):
            errors.extend(items)
        else:
            errors.append(f"{where}: {prefix}{key}={value!r}: {msg}")
    except (ValueError, TypeError, IndexError, KeyError) as e:  # a key OmegaConf cannot even parse
        errors.append(f"{where}: {prefix}{key!r} is not a valid key ({e}); write e.g. scene.max_objects or "
                      "curriculum.stages[0].pairs")


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """A YAML file whose top level is a mapping (empty file: ``{}``); ConfigError when it is
    missing, not YAML or not a mapping."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot be read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not UTF-8 text (byte at offset {e.start})") from None
    data = load_yaml(text, str(p))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping, got {type(data).__name__}")
    return data


def merge_mapping(cfg: DictConfig, data: dict[str, Any], where: str, errors: list[str]) -> None:
    """Merge ``data`` (a config file's content) over ``cfg`` in place; problems (unknown keys, wrong
    types) go to ``errors``, each starting with ``where``."""
    for key, value in _leaves(data):
        _apply(cfg, key, value, where, errors)


def parsed_overrides(overrides: Iterable[str], errors: list[str]) -> Iterator[tuple[str, Any, str]]:
    """``(key, value, item)`` of each ``key=value`` override that parses; the problems of the others
    go to ``errors`` (the one loop of :func:`apply_overrides` and the pipeline's override routing)."""
    for item in overrides:
        try:
            key, value = parse_override(item)
        except ValueError as e:
            errors.append(str(e))
            continue
        yield key, value, item


def apply_overrides(cfg: DictConfig, overrides: Iterable[str], errors: list[str], where: str = "override") -> None:
    """Merge ``key=value`` overrides over ``cfg`` in place; problems go to ``errors``."""
    for key, value, _ in parsed_overrides(overrides, errors):
        _apply(cfg, key, value, where, errors)


def merge_config(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> tuple[DictConfig, list[str]]:
    """Defaults <- YAML file <- ``key=value`` overrides, unvalidated: the config and the problems
    found merging it (unknown keys, wrong types). A missing or unparsable file raises ConfigError."""
    cfg = OmegaConf.structured(DigConfig)
    errors: list[str] = []
    if path is not None:
        merge_mapping(cfg, read_yaml_mapping(path), str(Path(path)), errors)
    apply_overrides(cfg, overrides, errors)
    unresolved = interpolation_errors(cfg)
    if unresolved:  # nothing can read such a config
        raise ConfigError([*errors, *unresolved])
    return cfg, errors


def interpolation_errors(cfg: DictConfig) -> list[str]:
    """The ``${...}`` a config cannot resolve (unknown key or resolver, a cycle), naming the key."""
    try:
        OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as e:
        return [f"{e.full_key or '(top level)'}: cannot resolve its ${{...}} interpolation: "
                f"{str(e).splitlines()[0]}"]
    except RecursionError:
        return ["a ${...} interpolation refers to itself through too many steps"]
    return []
