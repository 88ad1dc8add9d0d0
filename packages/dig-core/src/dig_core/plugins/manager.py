"""Loading plugins from the ``dig`` entry-point group and resolving them by name."""

from __future__ import annotations

import importlib.metadata as md
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

from dig_core.errors import PluginError
from dig_core.plugins import hookspecs

ENTRY_POINT_GROUP = "dig"
ALLOW_ENV = "DIG_PLUGINS"  # comma list of entry-point names: load only these
BLOCK_ENV = "DIG_DISABLE_PLUGINS"  # comma list of entry-point names: never load these

#: plugin kinds: kind -> hook name
KINDS = {
    "perturbation": "register_perturbations",
    "renderer": "register_renderers",
    "task": "register_tasks",
    "reward": "register_rewards",
    "advance_rule": "register_advance_rules",
    "executor": "register_executors",
    "trainer": "register_trainers",
    "evaluator": "register_evaluators",
    "model_adapter": "register_model_adapters",
    "pipeline_step": "register_pipeline_steps",
}

#: where a plugin that is not installed comes from: (kind, name) -> package; (kind, None) for any name
PROVIDERS = {
    ("renderer", "blender"): "dig-render-blender",
    ("renderer", "kubric"): "dig-render-kubric",
    ("trainer", "openrlhf"): "dig-train-openrlhf",
    ("trainer", "trl"): "dig-train-trl",
    ("evaluator", None): "dig-eval",
    ("model_adapter", None): "dig-eval",
    ("pipeline_step", "eval"): "dig-eval",
    ("pipeline_step", "report"): "dig-eval",
    ("pipeline_step", "export"): "dig-train-openrlhf",
}


@dataclass(frozen=True)
class PluginInfo:
    kind: str
    name: str
    cls: type
    source: str  # entry-point / registration name
    package: str
    version: str


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


class PluginManager:
    """pluggy manager plus per-kind registries of classes keyed by ``PLUGIN_NAME``."""

    def __init__(self, load_entry_points: bool = True):
        self.pm = pluggy.PluginManager("dig")
        self.pm.add_hookspecs(hookspecs)
        self._dist: dict[str, tuple[str, str]] = {}
        self._registries: dict[str, dict[str, PluginInfo]] | None = None
        if load_entry_points:
            self.load_entry_points()

    # -- loading --------------------------------------------------------------------------------
    def load_entry_points(self) -> None:
        allow, block = _env_list(ALLOW_ENV), _env_list(BLOCK_ENV)
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if allow is not None and ep.name not in allow:
                continue
            if block is not None and ep.name in block:
                continue
            if self.pm.get_plugin(ep.name) is not None:
                other = self._dist.get(ep.name, ("?", "?"))[0]
                dist = ep.dist.name if ep.dist else "?"
                raise PluginError(f"plugin entry point {ep.name!r} is registered twice (packages {other} and {dist})")
            try:
                module = ep.load()
            except Exception as e:  # a broken third-party plugin must say who it is
                raise PluginError(f"could not load plugin {ep.name!r} ({ep.value}): {type(e).__name__}: {e}") from e
            dist = (ep.dist.name, ep.dist.version) if ep.dist else ("?", "?")
            self.register(module, ep.name, dist)
        self.check()

    def register(self, plugin: Any, name: str, dist: tuple[str, str] = ("<local>", "")) -> None:
        """Register a module or object holding ``@hookimpl`` functions (tests use this directly)."""
        self.pm.register(plugin, name=name)
        self._dist[name] = dist
        self._registries = None

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._dist.pop(name, None)
        self._registries = None

    def check(self) -> None:
        """Fail loudly on a hook implementation that matches no spec (e.g. a misspelt name)."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as e:
            raise PluginError(f"plugin {self.pm.get_name(e.plugin)!r} implements an unknown hook: {e}") from None

    # -- registries -----------------------------------------------------------------------------
    def _build(self) -> dict[str, dict[str, PluginInfo]]:
        regs: dict[str, dict[str, PluginInfo]] = {}
        for kind, hook_name in KINDS.items():
            reg: dict[str, PluginInfo] = {}
            hook = getattr(self.pm.hook, hook_name)
            for impl in reversed(hook.get_hookimpls()):  # registration order
                classes = impl.function() or []
                package, version = self._dist.get(impl.plugin_name, ("<local>", ""))
                for cls in classes:
                    name = getattr(cls, "PLUGIN_NAME", "")
                    if not isinstance(cls, type) or not name:
                        raise PluginError(
                            f"plugin {impl.plugin_name!r}: {hook_name} must return classes with a PLUGIN_NAME, got {cls!r}"
                        )
                    if name in reg:
                        prev = reg[name]
                        raise PluginError(
                            f"duplicate {kind} name {name!r}: {prev.cls.__module__}.{prev.cls.__qualname__} "
                            f"({prev.package}) and {cls.__module__}.{cls.__qualname__} ({package})"
                        )
                    reg[name] = PluginInfo(kind, name, cls, impl.plugin_name, package, version)
            regs[kind] = reg
        return regs

    @property
    def registries(self) -> dict[str, dict[str, PluginInfo]]:
        if self._registries is None:
            self._registries = self._build()
        return self._registries

    def available(self, kind: str) -> list[str]:
        return sorted(self.registries[kind])

    def get(self, kind: str, name: str) -> type:
        reg = self.registries[kind]
        if name not in reg:
            raise PluginError(unknown_name_message(kind, name, reg))
        return reg[name].cls

    def all_plugins(self) -> Iterable[PluginInfo]:
        for kind in KINDS:
            yield from (self.registries[kind][n] for n in sorted(self.registries[kind]))


def unknown_name_message(kind: str, name: Any, reg: dict[str, Any]) -> str:
    """``unknown <kind> <name>; available: ...``, plus the package to install when the name belongs
    to a known DiG package (or when no plugin of that kind is installed at all)."""
    avail = ", ".join(sorted(reg)) or "(none installed)"
    msg = f"unknown {kind} {name!r}; available: {avail}"
    if (kind, name) in PROVIDERS:
        msg += f" ({kind} {name!r} comes with `pip install {PROVIDERS[kind, name]}`)"
    elif not reg and (kind, None) in PROVIDERS:
        msg += f" ({kind}s come with `pip install {PROVIDERS[kind, None]}`)"
    return msg


_MANAGER: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide manager, loaded from entry points on first use."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = PluginManager()
    return _MANAGER


def reset_plugin_manager() -> None:
    """Forget the process-wide manager (tests; after installing a plugin package)."""
    global _MANAGER
    _MANAGER = None
