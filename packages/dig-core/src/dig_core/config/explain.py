"""The config a user can read: every selected plugin's ``params`` with their defaults filled in
(``dig config show``), and one key's type, default, value and doc comment (``--explain KEY``).

Docs come from the dataclass that declares a key: the ``#:`` comment lines above a field, or the
``#`` comment at the end of its line. A plugin's params are its ``Config`` dataclass, so a
third-party plugin documents its keys the same way.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import re
import textwrap
import tokenize
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from dig_core.config import ALL_SECTIONS, PLUGIN_SECTIONS, DigConfig, PluginRef, plugin_params
from dig_core.errors import ConfigError
from dig_core.plugins.manager import PluginManager

_MISSING = dataclasses.MISSING


# -- doc comments -----------------------------------------------------------------------------------
def _comments(source: str) -> dict[int, str]:
    """1-based line number -> the comment on that line (without ``#``)."""
    out: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string[1:]
    except (tokenize.TokenError, IndentationError):
        pass
    return out


@cache
def field_docs(cls: type) -> dict[str, str]:
    """Field name -> doc comment, for ``cls`` and the dataclasses it inherits from (a subclass's
    comment wins)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        lines = source.splitlines()
        comments = _comments(source)
        body = ast.parse(source).body[0]
        for node in getattr(body, "body", []):
            if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
                continue
            above = []
            n = node.lineno - 1
            while n >= 1 and lines[n - 1].strip().startswith("#:"):
                above.insert(0, lines[n - 1].strip()[2:].strip())
                n -= 1
            trailing = comments.get(node.lineno, "").strip()
            text = " ".join([*above, trailing] if trailing and not trailing.startswith(":") else above)
            if text:
                docs[node.target.id] = text
    return docs


# -- types and defaults -----------------------------------------------------------------------------
def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # an annotation that does not resolve: fall back to the strings
        return {f.name: f.type for f in dataclasses.fields(cls)}


def _type_name(tp: Any) -> str:
    if isinstance(tp, str):
        return tp
    if getattr(tp, "__module__", None) == "builtins":
        return tp.__name__
    return re.sub(r"\b(typing|builtins)\.", "", repr(tp)).replace("NoneType", "None")


def _inner(tp: Any) -> tuple[Any, bool]:
    """``(element type, is_list)`` for ``Optional[X]``, ``list[X]`` and plain ``X``."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    origin = typing.get_origin(tp)
    if origin is typing.Union and len(args) == 1:
        return _inner(args[0])
    if origin in (list, tuple) and args:
        return args[0], True
    return tp, False


def _default(f: dataclasses.Field) -> Any:
    if f.default is not _MISSING:
        return f.default
    if f.default_factory is not _MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return "(required)"


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return OmegaConf.to_container(OmegaConf.structured(value))
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


# -- filled-in params -------------------------------------------------------------------------------
def _plugin_refs(cfg: DictConfig, sections) -> list[tuple[str, str, Any]]:
    refs = [(section, kind, OmegaConf.select(cfg, section)) for section, kind in PLUGIN_SECTIONS.items()
            if section in sections]
    if "evaluators" in sections:
        refs += [(f"evaluators[{i}]", "evaluator", ref) for i, ref in enumerate(cfg.evaluators)]
    return refs


def with_defaults(cfg: DictConfig, pm: PluginManager, sections=ALL_SECTIONS) -> DictConfig:
    """A copy of a validated ``cfg`` in which every selected plugin's ``params`` (the plugin sections
    in ``sections`` whose plugin is installed, and every perturbation with a weight > 0) lists all
    of its keys, defaults filled in. Loading the result gives the same config."""
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    errors: list[str] = []
    for section, kind, ref in _plugin_refs(cfg, sections):
        reg = pm.registries[kind]
        if ref is None or ref.name is None or ref.name not in reg:
            continue
        obj = plugin_params(reg[ref.name].cls, ref.params, f"{section}.params", errors)
        if obj is not None and dataclasses.fields(obj):
            OmegaConf.update(out, f"{section}.params", _plain(obj), merge=False)
    perts = pm.registries["perturbation"]
    for name, weight in cfg.perturbations.weights.items():
        if name in perts and weight > 0 and dataclasses.fields(perts[name].cls.Config):
            obj = plugin_params(perts[name].cls, cfg.perturbations.params.get(name),
                                f"perturbations.params.{name}", errors)
            if obj is not None:
                out.perturbations.params[name] = _plain(obj)
    if errors:
        raise ConfigError(errors)
    return out


# -- --explain ----------------------------------------------------------------------------------------
@dataclass
class KeyDoc:
    """One key: where it is declared, its type, default, current value and doc comment."""

    key: str
    type: str
    default: Any
    value: Any
    doc: str


@dataclass
class Explained:
    """``key`` and what it names: a leaf (``fields`` = [that key]) or a section (its keys)."""

    key: str
    owner: str  # "DigConfig.scene" / "renderer blender (dig_render_blender.renderer.BlenderConfig)"
    fields: list[KeyDoc]
    leaf: bool


def _split_key(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in key.split("."):
        m = re.fullmatch(r"([^\[\]]*)((?:\[\d+\])*)", piece)
        if not m or (not m.group(1) and not m.group(2)):
            raise ConfigError(f"--explain {key!r}: not a dotted key (e.g. scene.max_objects, "
                              "curriculum.stages[0].min_area, renderer.params.samples)")
        if m.group(1):
            parts.append(m.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return parts


def _describe(cls: type, value: Any) -> list[KeyDoc]:
    docs, hints = field_docs(cls), _hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        current = value.get(f.name) if isinstance(value, (dict, DictConfig)) else getattr(value, f.name, None)
        out.append(KeyDoc(f.name, _type_name(hints.get(f.name, f.type)), _plain(_default(f)), _plain(current),
                          docs.get(f.name, "")))
    return out


def _validated(plugin: type, params: Any, where: str) -> Any:
    """The plugin's ``Config`` object for ``params`` (defaults filled in), or ConfigError."""
    errors: list[str] = []
    obj = plugin_params(plugin, params, where, errors)
    if errors:
        raise ConfigError(errors)
    return obj


def _owner(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def explain(cfg: DictConfig, key: str, pm: PluginManager) -> Explained:
    """What ``key`` of the resolved ``cfg`` is. Plugin params are explained from the plugin the
    config selects (``renderer.params.samples`` with ``renderer.name=blender``); a list index may be
    left out (``curriculum.stages.min_area``). Unknown keys raise ConfigError naming the allowed ones."""
    parts = _split_key(key)
    cls: type = DigConfig
    value: Any = cfg
    owner = "DigConfig"
    path = ""
    section_kind: str | None = None
    i = 0
    while i < len(parts):
        part = parts[i]
        if isinstance(part, int):
            raise ConfigError(f"--explain {key!r}: {path or 'the config'} is not a list")
        names = [f.name for f in dataclasses.fields(cls)]
        if part not in names:
            raise ConfigError(f"--explain {key!r}: unknown key {part!r} in {path or 'the config'}; "
                              f"allowed: {names}")
        f = next(f for f in dataclasses.fields(cls) if f.name == part)
        tp, is_list = _inner(_hints(cls).get(part, f.type))
        child = value.get(part) if isinstance(value, (dict, DictConfig)) else None
        path = f"{path}.{part}" if path else part
        i += 1
        if is_list and i < len(parts):
            if isinstance(parts[i], int):
                index = parts[i]
                n = len(child) if child is not None else 0
                if index >= n:
                    raise ConfigError(f"--explain {key!r}: {path} has {n} entries, no [{index}]")
                child = child[index]
                path += f"[{index}]"
                i += 1
            elif child:
                child = child[0]
        if tp is PluginRef and i < len(parts) and parts[i] == "params":
            kind = "evaluator" if part == "evaluators" else PLUGIN_SECTIONS.get(path.split("[")[0])
            name = child.name if child is not None else None
            reg = pm.registries[kind]
            where = path
            if name is None:
                raise ConfigError(f"--explain {key!r}: {where}.name is not set, so its params are unknown; "
                                  f"set it (e.g. {where.split('[')[0]}.name={(sorted(reg) or ['...'])[0]}); "
                                  f"available {kind} plugins: {sorted(reg)}")
            if name not in reg:
                raise ConfigError(f"--explain {key!r}: {where}.name {name!r} is not installed here; "
                                  f"available {kind} plugins: {sorted(reg)}")
            cls, value = reg[name].cls.Config, _validated(reg[name].cls, child.params, f"{where}.params")
            owner, path, section_kind = f"{kind} {name!r} ({_owner(cls)})", f"{where}.params", kind
            i += 1
            continue
        if path == "perturbations.params" and i < len(parts):
            perts = pm.registries["perturbation"]
            name = parts[i]
            if name not in perts:
                raise ConfigError(f"--explain {key!r}: unknown perturbation {name!r}; available: {sorted(perts)}")
            cls = perts[name].cls.Config
            value = _validated(perts[name].cls, child.get(name) if child is not None else None, f"{path}.{name}")
            owner, path, section_kind = f"perturbation {name!r} ({_owner(cls)})", f"{path}.{name}", "perturbation"
            i += 1
            continue
        if dataclasses.is_dataclass(tp):
            cls, value, owner = tp, child, _owner(tp)
            continue
        if i < len(parts):  # inside a free-form mapping (vocabulary, weights): no declared keys
            sub = OmegaConf.select(cfg, key) if section_kind is None else None
            raise ConfigError(f"--explain {key!r}: {path} is a free-form {_type_name(tp)} without documented "
                              f"sub-keys" + (f"; its value here: {_plain(sub)!r}" if sub is not None else ""))
        leaf = [d for d in _describe(cls, value) if d.key == part]
        leaf[0].key = path
        return Explained(path, owner, leaf, True)
    return Explained(path or "(top level)", owner, _describe(cls, value), False)


def _short(v: Any, width: int) -> str:
    s = repr(v) if isinstance(v, str) else str(v)
    s = s.replace("\n", "\\n")
    return s if len(s) <= width else s[: width - 1] + "…"


def explain_text(ex: Explained) -> str:
    """Human-readable lines for :func:`explain`'s result."""
    if ex.leaf:
        d = ex.fields[0]
        lines = [f"{d.key}", f"  declared in: {ex.owner}", f"  type:        {d.type}",
                 f"  default:     {_short(d.default, 400)}"]
        if d.value != d.default:
            lines.append(f"  value here:  {_short(d.value, 400)}")
        lines.append(f"  {d.doc}" if d.doc else "  (no doc comment)")
        return "\n".join(lines) + "\n"
    lines = [f"{ex.key}: {ex.owner}"]
    for d in ex.fields:
        lines.append(f"  {d.key}: {d.type} = {_short(d.default, 60)}"
                     + (f"   [here: {_short(d.value, 60)}]" if d.value != d.default else ""))
        if d.doc:
            lines.extend("      " + w for w in textwrap.wrap(d.doc, 92))
    return "\n".join(lines) + "\n"
