"""Reading a pipeline file: parse, apply ``key=value`` overrides, validate everything (structure,
step types, references, cycles, every step's DiG config and params) and report all problems in one
:class:`~dig_core.errors.ConfigError`. The result is a :class:`Pipeline`: steps in run order, each
with its validated config, params, dependencies and output paths (docs/pipeline.md)."""

from __future__ import annotations

import copy
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from dig_core.config import (
    DigConfig,
    apply_overrides,
    merge_mapping,
    parsed_overrides,
    plugin_params,
    read_yaml_mapping,
    semantic_errors,
    to_plain,
    uninstalled_plugins,
)
from dig_core.errors import ConfigError
from dig_core.pipeline.step import PipelineStep
from dig_core.plugins.manager import PROVIDERS, PluginManager, get_plugin_manager, unknown_name_message

TOP_KEYS = ("run_dir", "vars", "config", "steps")
STEP_KEYS = ("type", "config", "params")
#: ``${steps.NAME.OUTPUT}`` (OUTPUT optional so that ``${steps.NAME}`` is reported too)
REFERENCE = re.compile(r"\$\{steps\.([^.}\[\]]+)(?:\.([^.}\[\]]+))?")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass
class ResolvedStep:
    """One validated step of a pipeline."""

    name: str
    type: str
    step: PipelineStep
    #: the step's validated DiG config (None when its type takes none)
    config: DictConfig | None
    #: names of the steps it refers to, in run order
    deps: list[str]
    out: Path
    #: ``out`` and the step type's named outputs
    outputs: dict[str, str]
    #: what its fingerprint covers beside its inputs' fingerprints: type, params, config
    inputs: dict[str, Any] = field(default_factory=dict)
    #: plugins its config names whose DiG package is not installed here (one message each): fine
    #: while the step is skipped, an error when it has to run
    missing: list[str] = field(default_factory=list)


@dataclass
class Pipeline:
    path: Path
    run_dir: Path
    #: the steps that can run here, in run order
    steps: list[ResolvedStep]
    #: every step's name in run order, including the unavailable ones
    order: list[str] = field(default_factory=list)
    #: steps whose type comes with a DiG package not installed here, and the steps that use their
    #: outputs: name -> why (unvalidated; fine while ``--to`` stops before them)
    unavailable: dict[str, str] = field(default_factory=dict)

    def step(self, name: str) -> ResolvedStep:
        return next(s for s in self.steps if s.name == name)

    def resolved(self) -> dict[str, Any]:
        """The resolved pipeline (what ``RUN_DIR/pipeline.yaml`` records)."""
        return {"source": str(self.path), "run_dir": str(self.run_dir),
                "steps": {s.name: {"type": s.type, "after": s.deps, "outputs": s.outputs, **{
                    k: v for k, v in s.inputs.items() if k != "type"}} for s in self.steps}}


def _strings(node: Any) -> list[str]:
    """Every string in a (unresolved) container."""
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def _resolve(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, (DictConfig, ListConfig)) else node


def _first_line(e: Exception) -> str:
    return str(e).strip().split("\n")[0]


def _config_layers(value: Any, base: Path, where: str, errors: list[str]) -> list[tuple[str, Any]]:
    """``config:`` as a list of ``(where, mapping)`` layers: a mapping, a YAML file path (relative to
    the pipeline file's folder) or a list of those, merged in order."""
    items = value if isinstance(value, list) else [] if value is None else [value]
    layers: list[tuple[str, Any]] = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]" if isinstance(value, list) else where
        if isinstance(item, str):
            path = Path(item) if Path(item).is_absolute() else base / item
            try:
                layers.append((str(path), read_yaml_mapping(path)))
            except ConfigError as e:
                errors.extend(f"{at}: {m}" for m in e.errors)
        elif isinstance(item, dict):
            layers.append((at, item))
        else:
            errors.append(f"{at}: expected a mapping of DiG config keys or a YAML file path, got {item!r}")
    return layers


def _cycles(deps: dict[str, list[str]]) -> list[list[str]]:
    """Each dependency cycle once, as the list of its steps (first = the one that comes first)."""
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    state: dict[str, int] = {}

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        stack.append(n)
        for d in deps.get(n, []):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    found.append(cycle)
            elif d in deps and state.get(d) is None:
                visit(d, stack)
        stack.pop()
        state[n] = 2

    for n in deps:
        if state.get(n) is None:
            visit(n, [])
    return found


def run_order(names: list[str], deps: dict[str, list[str]]) -> list[str]:
    """File order, except that a step comes after every step it refers to (``deps`` acyclic)."""
    order: list[str] = []
    left = list(names)
    while left:
        nxt = next(n for n in left if all(d in order for d in deps.get(n, [])))
        order.append(nxt)
        left.remove(nxt)
    return order


def _route_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...],
                     errors: list[str]) -> dict[str | None, list[str]]:
    """Apply ``key=value`` overrides to the file's ``data``, except DiG config keys (``config.K``,
    ``steps.S.config.K``): those are returned as ``K=V`` per step (None = the shared config)."""
    cfg_overrides: dict[str | None, list[str]] = {}
    for key, value, item in parsed_overrides(overrides, errors):
        parts = key.split(".")
        if parts[0] == "config" and len(parts) > 1:
            cfg_overrides.setdefault(None, []).append(item.split(".", 1)[1])
        elif parts[0] == "steps" and len(parts) > 3 and parts[2] == "config":
            cfg_overrides.setdefault(parts[1], []).append(item.split(".", 3)[3])
        else:
            node = data
            *head, last = parts
            for k in head:
                if not isinstance(node.get(k), dict):
                    node[k] = {}
                node = node[k]
            node[last] = value
    return cfg_overrides


def _uninstalled_type(spec: Any, reg: dict[str, Any]) -> str | None:
    """The step's type when a DiG package that is not installed here provides it (else None)."""
    stype = spec.get("type") if isinstance(spec, dict) else None
    return stype if isinstance(stype, str) and stype not in reg and ("pipeline_step", stype) in PROVIDERS else None


def _check_step(name: Any, spec: Any, steps: dict[str, Any], reg: dict[str, Any], where: str,
                errors: list[str]) -> tuple[type | None, list[str], bool]:
    """Structure of one step: ``(its class or None, the steps it refers to, references all sound)``.
    A type of a DiG package not installed here is not an error (see :func:`_uninstalled_type`)."""
    if not isinstance(name, str) or not NAME.match(name):
        errors.append(f"{where}: a step name is letters, digits, '-' and '_' (starting with a letter or digit)")
    if not isinstance(spec, dict):
        errors.append(f"{where}: expected a mapping with keys {list(STEP_KEYS)}, got {spec!r}")
        return None, [], False
    for key in spec:
        if key not in STEP_KEYS:
            errors.append(f"{where}: unknown key {key!r}; allowed: {list(STEP_KEYS)}")
    cls = None
    stype = spec.get("type")
    if not isinstance(stype, str):
        errors.append(f"{where}.type: {'missing' if stype is None else f'expected a name, got {stype!r}'}; "
                      f"available: {', '.join(sorted(reg)) or '(none installed)'}")
    elif stype not in reg:
        if _uninstalled_type(spec, reg) is None:
            errors.append(f"{where}.type: {unknown_name_message('pipeline_step', stype, reg)}")
    else:
        cls = reg[stype].cls
        if cls.SECTIONS is None and spec.get("config") is not None:
            errors.append(f"{where}.config: step type {stype!r} takes no DiG config (only params)")
    if spec.get("params") is not None and not isinstance(spec.get("params"), dict):
        errors.append(f"{where}.params: expected a mapping, got {spec['params']!r}")
    refs: list[str] = []
    sound = True
    for s in _strings({"config": spec.get("config"), "params": spec.get("params")}):
        for ref, output in REFERENCE.findall(s):
            if ref not in steps:
                errors.append(f"{where}: {s!r} refers to step {ref!r}, which is not in the pipeline; "
                              f"steps: {', '.join(map(str, steps))}")
                sound = False
                continue
            other = steps[ref].get("type") if isinstance(steps[ref], dict) else None
            if isinstance(other, str) and other in reg:
                allowed = ["out", *reg[other].cls.OUTPUTS]
                if output not in allowed:
                    errors.append(f"{where}: {s!r}: step {ref!r} ({other}) has no output "
                                  f"{output or '(none)'!r}; its outputs: {', '.join(allowed)}")
                    sound = False
            if ref not in refs:
                refs.append(ref)
    return cls, refs, sound


def _merged_config(base: DictConfig, node: Any, folder: Path, where: str, overrides: list[str],
                   override_where: str, errors: list[str]) -> DictConfig:
    """``base`` (copied) <- the config layers of ``node`` (interpolations resolved) <- overrides."""
    cfg = copy.deepcopy(base)
    try:
        layers = _config_layers(_resolve(node), folder, where, errors)
    except OmegaConfBaseException as e:
        layers = []
        errors.append(f"{where}: {_first_line(e)}")
    for at, layer in layers:
        merge_mapping(cfg, layer, at, errors)
    apply_overrides(cfg, overrides, errors, where=override_where)
    return cfg


def load_pipeline(path: str | Path, overrides: list[str] | tuple[str, ...] = (), run_dir: str | None = None,
                  pm: PluginManager | None = None) -> Pipeline:
    """Read and validate the pipeline file ``path`` with ``key=value`` overrides (``run_dir=...``,
    ``vars.x=...``, ``steps.<name>.params.<key>=...``, ``config.<key>=...`` for every step's DiG
    config, ``steps.<name>.config.<key>=...`` for one step's); ``run_dir`` (``--out``) wins over both.
    Raises ConfigError listing every problem."""
    pm = pm or get_plugin_manager()
    path = Path(path)
    data = read_yaml_mapping(path)
    src = str(path)
    errors: list[str] = []
    cfg_overrides = _route_overrides(data, overrides, errors)
    if run_dir is not None:
        data["run_dir"] = run_dir

    # -- structure: keys, step types, references, cycles
    for key in data:
        if key not in TOP_KEYS:
            errors.append(f"{src}: unknown top-level key {key!r}; allowed: {list(TOP_KEYS)}")
    rd = data.get("run_dir", f"runs/{path.stem}")
    if not isinstance(rd, str) or not rd:
        errors.append(f"{src}: run_dir must be a folder path, got {rd!r}")
        rd = f"runs/{path.stem}"
    data["run_dir"] = rd
    if not isinstance(data.get("vars", {}), dict):
        errors.append(f"{src}: vars must be a mapping of names to values, got {data['vars']!r}")
    steps = data.get("steps")
    if not isinstance(steps, dict) or not steps:
        errors.append(f"{src}: steps must be a non-empty mapping of step names to {{type, config, params}}")
        raise ConfigError(errors)
    reg = pm.registries["pipeline_step"]
    classes: dict[str, type] = {}
    deps: dict[str, list[str]] = {}
    blocked: set[str] = set()  # steps not validated further: their own structure or an input's is wrong
    uninstalled = {n: t for n, spec in steps.items() if (t := _uninstalled_type(spec, reg)) is not None}
    for name, spec in steps.items():
        cls, deps[name], sound = _check_step(name, spec, steps, reg, f"{src}: steps.{name}", errors)
        if cls is not None:
            classes[name] = cls
        if (cls is None and name not in uninstalled) or not sound:
            blocked.add(name)
    for name in cfg_overrides:
        if name is not None and (name not in steps or getattr(classes.get(name), "SECTIONS", ()) is None):
            errors.append(f"override steps.{name}.config...: no step {name!r} with a DiG config")
    for s in _strings(data.get("config")):
        if REFERENCE.search(s):
            errors.append(f"{src}: config: {s!r} refers to a step; the shared config is every step's, "
                          "so put the reference in the step's own config")
    cycles = _cycles(deps)
    for cycle in cycles:
        if len(cycle) == 1:
            errors.append(f"{src}: steps.{cycle[0]} refers to its own output")
        else:
            errors.append(f"{src}: steps form a cycle: {' -> '.join([*cycle, cycle[0]])}")
    # the steps that can be ordered: not in a cycle and not after one
    good = [n for n in steps if n not in {m for c in cycles for m in c}]
    while bad := [n for n in good if any(d not in good for d in deps[n])]:
        good = [n for n in good if n not in bad]
    order = run_order(good, deps)
    blocked |= set(steps) - set(order)

    # -- every step whose structure is sound, in run order: its params and DiG config
    run_root = Path(rd)
    for name, spec in steps.items():
        if isinstance(spec, dict):
            steps[name] = {**spec, "out": str(run_root / name)}
    try:
        doc = OmegaConf.create(data)
    except OmegaConfBaseException as e:
        raise ConfigError([*errors, f"{src}: {_first_line(e)}"]) from None
    shared = OmegaConf.structured(DigConfig)
    if any(getattr(cls, "SECTIONS", None) is not None for cls in classes.values()):
        shared = _merged_config(shared, doc.get("config"), path.parent, f"{src}: config",
                                cfg_overrides.get(None, []), "override config", errors)

    resolved: dict[str, ResolvedStep] = {}
    unavailable: dict[str, str] = {}
    semantic: dict[str, list[str]] = {}  # a problem of the shared config: reported once, naming its steps
    for name in order:
        if name in uninstalled:
            unavailable[name] = f"steps.{name}.type: {unknown_name_message('pipeline_step', uninstalled[name], reg)}"
            continue
        if gone := [d for d in deps[name] if d in unavailable]:
            unavailable[name] = f"steps.{name}: uses the output of {', '.join(gone)}, which cannot run here"
            continue
        if name in blocked or any(d in blocked for d in deps[name]):
            blocked.add(name)
            continue
        cls, where, node, out = classes[name], f"{src}: steps.{name}", doc.steps[name], run_root / name
        step_errors: list[str] = []
        try:
            params_raw = _resolve(node.get("params")) or {}
        except OmegaConfBaseException as e:
            step_errors.append(f"{where}.params: {_first_line(e)}")
            params_raw = {}
        params = plugin_params(cls, params_raw, f"{where}.params", step_errors)
        step = cls(params) if params is not None and not step_errors else None
        cfg, sem, missing = None, [], []
        if cls.SECTIONS is not None:
            cfg = _merged_config(shared, node.get("config"), path.parent, f"{where}.config",
                                 cfg_overrides.get(name, []), f"override steps.{name}.config", step_errors)
            if step is not None:
                step.configure(cfg, out)
            # a plugin of a DiG package not installed here (a GPU box without Blender) is checked
            # only where the step has to run
            absent = [u for u in uninstalled_plugins(cfg, pm) if u[0] in cls.SECTIONS]
            missing = [f"steps.{name}: {at}.name: {unknown_name_message(kind, plugin, pm.registries[kind])}"
                       for _, at, kind, plugin in absent]
            sem = semantic_errors(cfg, pm, [x for x in cls.SECTIONS if x not in {u[0] for u in absent}])
            for msg in sem:
                semantic.setdefault(msg, []).append(name)
            if step is not None and not step_errors and not sem and not missing:
                step_errors.extend(f"{where}: {m}" for m in step.config_errors(cfg))
        errors.extend(step_errors)
        if step_errors or sem or step is None:
            blocked.add(name)
            continue
        outputs = {"out": str(out), **step.outputs(out, cfg)}
        for key, value in outputs.items():
            doc.steps[name][key] = value
        inputs: dict[str, Any] = {"type": cls.PLUGIN_NAME, "params": asdict(params)}
        if cfg is not None:
            inputs["config"] = step.fingerprint_config(to_plain(cfg))
        resolved[name] = ResolvedStep(name, cls.PLUGIN_NAME, step, cfg, [d for d in order if d in deps[name]],
                                      out, outputs, inputs, missing)
    for msg, who in semantic.items():
        errors.append(f"{src}: {', '.join(f'steps.{n}' for n in who)}: {msg}")
    if errors:
        raise ConfigError(errors)
    return Pipeline(path, run_root, [resolved[n] for n in order if n in resolved], order, unavailable)
