"""The whole pipeline's config: OmegaConf structured configs, YAML + ``key=value`` overrides,
validation that reports every problem at once, and plugin resolution by name.

Sections that pick a plugin have the shape ``{name: <PLUGIN_NAME>, params: {...}}``; ``params`` is
validated against that plugin class's ``Config`` dataclass.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from dig_core.config import strict_yaml
from dig_core.difficulty import stage_knob_errors
from dig_core.errors import ConfigError
from dig_core.plugins.manager import PROVIDERS, PluginManager, get_plugin_manager, unknown_name_message
from dig_core.spec import Vocabulary


def _default_vocabulary() -> dict[str, Any]:
    return Vocabulary.default().to_dict()


@dataclass
class SceneConfig:
    width: int = 480
    height: int = 320
    min_objects: int = 3
    max_objects: int = 10
    bounds: float = 3.0  # objects lie in [-bounds, bounds]^2
    min_dist: float = 0.25  # minimum gap between footprints
    margin: float = 0.4  # minimum separation along the camera's left/right and front/back axes
    camera_jitter: float = 0.5
    light_jitter: float = 1.0
    max_attempts: int = 50  # placement tries per object before restarting the scene
    max_restarts: int = 200  # whole-scene restarts before giving up (a restart costs milliseconds)
    vocabulary: dict[str, Any] = field(default_factory=_default_vocabulary)


#: ``perturbations.balance`` values
BALANCE_MODES = ("quota", "feasible")


@dataclass
class PerturbationsConfig:
    #: relative weights of edit types (0 = off); names are perturbation PLUGIN_NAMEs
    weights: dict[str, float] = field(
        default_factory=lambda: {"shape": 1.0, "color": 1.0, "size": 1.0, "material": 1.0,
                                 "add": 1.0, "remove": 1.0, "move": 0.0}
    )
    #: per-perturbation parameters, validated by each plugin's Config
    params: dict[str, Any] = field(default_factory=dict)
    max_attempts: int = 100  # edit draws per pair before the pair's scene is resampled
    #: how edit types are chosen: "quota" = every stage's edit types follow the weights (planned per
    #: stage, realised by resampling scenes); "feasible" = per edit among the types that fit (older
    #: datasets; frequencies then follow feasibility, not the weights)
    balance: str = "quota"


@dataclass
class PluginRef:
    name: Optional[str] = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageConfig:
    name: str = "dig-1"
    k_min: int = 1
    k_max: int = 1
    count_in_prompt: bool = True
    pairs: int = 2
    # difficulty knobs (docs/difficulty.md); the defaults filter nothing
    #: every difference's visible area, as a share of the image, must lie in [min_area, max_area]
    min_area: float = 0.0
    max_area: float = 1.0
    #: every difference's contrast (mean CIE ΔE between I_a and I_b in its mask) in [min, max]
    min_contrast: float = 0.0
    max_contrast: Optional[float] = None
    #: a color edit picks a new color at this CIE ΔE from the old one (identical colors never)
    min_color_distance: float = 0.0
    max_color_distance: Optional[float] = None
    #: where differences may be: any | center | border
    location: str = "any"
    #: every difference's occlusion (share of the edited object hidden by others) in [min, max];
    #: setting either makes `dig generate` measure occlusion for every pair (one extra cheap render
    #: per edited object)
    min_occlusion: float = 0.0
    max_occlusion: Optional[float] = None


def _demo_stages() -> list[StageConfig]:
    return [
        StageConfig("dig-1", 1, 1, True, 2),
        StageConfig("dig-2", 2, 2, True, 2),
        StageConfig("dig-mix", 1, 4, False, 2),
    ]


@dataclass
class CurriculumConfig:
    stages: list[StageConfig] = field(default_factory=_demo_stages)
    advance: PluginRef = field(default_factory=lambda: PluginRef("fixed"))


@dataclass
class ValidityConfig:
    min_visible_pixels: int = 100
    min_box_change: float = 8.0
    max_resamples: int = 20  # rejected renders per pair before giving up with an error


@dataclass
class GenerateConfig:
    workers: int = 0  # 0 = choose from the CPU count
    threads: int = 0  # renderer threads per worker; 0 = CPU count / workers
    executor: str = "local"
    ray_address: Optional[str] = None  # None = start a local Ray instance
    image_format: str = "png"
    progress: bool = True
    #: render each candidate's instance maps first (1 sample, no image) and reject on them before the
    #: full render (visibility, area, location, occlusion); the same pairs either way, only faster
    screen: bool = True
    #: on a stage with area / location / occlusion knobs, redraw a scene's edits (up to 30 times)
    #: until a geometric sketch of A and B meets them (dig_core/sketch.py), before any render; off =
    #: draw once and let the renders decide (the datasets of earlier versions)
    steer: bool = True


@dataclass
class DigConfig:
    seed: int = 0
    #: a name mixed into every pair's seed when not empty, so a held-out set (configs/dig-bench.yaml)
    #: never shares a scene with data made from the same seed and stage names; "" keeps the plain seeds
    seed_namespace: str = ""
    scene: SceneConfig = field(default_factory=SceneConfig)
    perturbations: PerturbationsConfig = field(default_factory=PerturbationsConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    renderer: PluginRef = field(default_factory=lambda: PluginRef("blender"))
    validity: ValidityConfig = field(default_factory=ValidityConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    task: PluginRef = field(default_factory=lambda: PluginRef("dig"))
    reward: PluginRef = field(default_factory=lambda: PluginRef("dig"))
    trainer: PluginRef = field(default_factory=PluginRef)
    evaluator: PluginRef = field(default_factory=PluginRef)
    #: further evaluators ``dig eval`` runs after ``evaluator`` (e.g. the paper's benchmark list)
    evaluators: list[PluginRef] = field(default_factory=list)
    #: the model adapter that answers prompts (``dig eval``): hf, vllm, predictions, ...
    model: PluginRef = field(default_factory=PluginRef)


#: config sections that name one plugin: section -> plugin kind
PLUGIN_SECTIONS = {
    "renderer": "renderer",
    "task": "task",
    "reward": "reward",
    "curriculum.advance": "advance_rule",
    "trainer": "trainer",
    "evaluator": "evaluator",
    "model": "model_adapter",
}
#: every plugin section (``evaluators`` is a list of evaluator sections)
ALL_SECTIONS = (*PLUGIN_SECTIONS, "evaluators")


#: upper bounds (docs/config.md): a config beyond them is refused before anything is planned or
#: written, instead of hanging in planning or rendering
MAX_IMAGE_SIDE = 8192  # scene.width, scene.height
MAX_IMAGE_PIXELS = 4096 * 4096  # scene.width * scene.height
#: each pair is planned when it is taken for rendering (generate.Plan), at ~30 µs a pair; these
#: keep a run, and the K and edit types a quota stage deals as it is read, within bounds
MAX_STAGE_PAIRS = 100_000  # curriculum.stages[i].pairs
MAX_PAIRS = 1_000_000  # all stages together
MAX_OBJECTS = 100  # scene.max_objects, and K (k_max)

# -- loading ----------------------------------------------------------------------------------------
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


def _numbers(data: Any, prefix: str = "") -> Iterable[tuple[str, float]]:
    """``(dotted key, value)`` of every number in nested dicts and lists (list items as ``key[i]``)."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _numbers(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _numbers(v, f"{prefix}[{i}]")
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        yield prefix, data


def non_finite_errors(data: Any, prefix: str = "") -> list[str]:
    """Every NaN or infinity in ``data`` (a config section as plain data), naming its key."""
    return [f"{key} must be a finite number, got {v}" for key, v in _numbers(data, prefix)
            if isinstance(v, float) and not math.isfinite(v)]


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


def uninstalled_plugins(cfg: DictConfig, pm: PluginManager) -> list[tuple[str, str, str, str]]:
    """``(section, where, kind, name)`` for each plugin section naming a plugin of a known DiG
    package (see ``PROVIDERS``) that is not installed here, e.g. ``renderer: blender`` without
    dig-render-blender. ``where`` is the key to report (``evaluators[1]`` for list entries)."""
    out = []
    for section in ALL_SECTIONS:
        if section == "evaluators":
            refs, kind = [(f"evaluators[{i}]", r) for i, r in enumerate(cfg.evaluators)], "evaluator"
        else:
            refs, kind = [(section, OmegaConf.select(cfg, section))], PLUGIN_SECTIONS[section]
        for where, ref in refs:
            name = ref.name if ref is not None else None
            reg = pm.registries[kind]
            if name is None or name in reg:
                continue
            # a name of a known package's plugin, or any name of a kind whose package is absent;
            # a misspelt name beside an installed package stays an error
            if (kind, name) in PROVIDERS or (not reg and (kind, None) in PROVIDERS):
                out.append((section, where, kind, name))
    return out


# -- validation -------------------------------------------------------------------------------------
def plugin_params(cls: type, params: Any, where: str, errors: list[str]) -> Any:
    """Validate ``params`` against ``cls.Config``; append problems to ``errors``; return the config
    object (an instance of ``cls.Config``) or None."""
    schema = OmegaConf.structured(cls.Config)
    data = OmegaConf.to_container(params, resolve=True) if isinstance(params, (DictConfig, ListConfig)) else params
    if data is None:
        data = {}
    if not isinstance(data, dict):
        errors.append(f"{where}: params must be a mapping, got {data!r}")
        return None
    n = len(errors)
    for key, value in _leaves(data):
        if key:
            _apply(schema, key, value, where, errors)
    if len(errors) == n:
        errors.extend(f"{where}.{e}" for e in non_finite_errors(data))
    if len(errors) > n:
        return None
    obj = OmegaConf.to_object(schema)
    errors.extend(f"{where}: {e}" for e in cls.validate_config(obj))
    return obj


def param_origin(path: str | Path | None, overrides: Iterable[str]) -> Callable[[str], str]:
    """``where(section)``: ``"FILE: "`` when the config file sets keys of ``section`` (e.g.
    ``renderer.params``), ``"override: "`` when overrides do, both joined by ``+``; else ``""``.
    Problems of plugin params, found only after merging, name where they came from with it."""
    file_keys = [k for k, _ in _leaves(read_yaml_mapping(path))] if path is not None else []
    override_keys = [item.split("=", 1)[0].strip() for item in overrides]

    def touches(keys: list[str], section: str) -> bool:
        return any(k == section or k.startswith((section + ".", section + "[")) or section.startswith(k + ".")
                   for k in keys)

    def where(section: str) -> str:
        hits = [name for name, keys in ((str(path), file_keys), ("override", override_keys)) if touches(keys, section)]
        return " + ".join(hits) + ": " if hits else ""

    return where


def semantic_errors(cfg: DictConfig, pm: PluginManager, sections: Iterable[str] | None = None,
                    origin: Callable[[str], str] | None = None) -> list[str]:
    """Every problem of a merged config (see :func:`load_config`). ``origin``: see
    :func:`param_origin`; it names the file (or override) in the problems of plugin params."""
    origin = origin or (lambda section: "")
    unresolved = interpolation_errors(cfg)
    if unresolved:
        return unresolved
    plain = OmegaConf.to_container(cfg, resolve=True)
    plugin_keys = {*PLUGIN_SECTIONS, "evaluators"}
    core = {k: v for k, v in plain.items() if k not in plugin_keys}
    core["perturbations"] = {k: v for k, v in core["perturbations"].items() if k != "params"}
    errors: list[str] = non_finite_errors(core)
    if errors:  # every check below compares numbers: NaN would pass or mislead them
        return errors
    errors, capacity = _scene_errors(cfg.scene)
    pert_errors, creates = _perturbation_errors(cfg, pm, origin)
    errors += pert_errors
    # K edits of distinct objects: the objects of A, and those an edit adds (as many as fit)
    k_limit = min(MAX_OBJECTS, capacity if creates and capacity is not None else cfg.scene.max_objects)
    errors += _stage_errors(cfg, k_limit, creates)
    errors += _run_errors(cfg, pm)
    errors += _plugin_ref_errors(cfg, pm, sections, origin)
    return errors


def _scene_errors(s: DictConfig) -> tuple[list[str], int | None]:
    """The problems of ``scene``, and how many objects its floor holds (None when unknown)."""
    errors: list[str] = []
    if s.width < 16 or s.height < 16:
        errors.append(f"scene.width/height must be >= 16, got {s.width}x{s.height}")
    if s.width > MAX_IMAGE_SIDE or s.height > MAX_IMAGE_SIDE:
        errors.append(f"scene.width/height must be <= {MAX_IMAGE_SIDE}, got {s.width}x{s.height}")
    elif s.width * s.height > MAX_IMAGE_PIXELS:
        errors.append(f"scene.width * scene.height must be <= {MAX_IMAGE_PIXELS} pixels (4096x4096), "
                      f"got {s.width}x{s.height} = {s.width * s.height}")
    if s.min_objects < 1:
        errors.append(f"scene.min_objects must be >= 1, got {s.min_objects}")
    if s.max_objects < s.min_objects:
        errors.append(f"scene.max_objects ({s.max_objects}) must be >= scene.min_objects ({s.min_objects})")
    if s.max_objects > MAX_OBJECTS:
        errors.append(f"scene.max_objects must be <= {MAX_OBJECTS}, got {s.max_objects}")
    if s.bounds <= 0:
        errors.append(f"scene.bounds must be > 0, got {s.bounds}")
    for key in ("min_dist", "margin", "camera_jitter", "light_jitter"):
        if s[key] < 0:
            errors.append(f"scene.{key} must be >= 0, got {s[key]}")
    for key in ("max_attempts", "max_restarts"):
        if s[key] < 1:
            errors.append(f"scene.{key} must be >= 1, got {s[key]}")
    vocab = None
    try:
        vocab = Vocabulary.from_dict(OmegaConf.to_container(s.vocabulary))
        for part in ("shapes", "materials", "colors", "sizes"):
            if not getattr(vocab, part):
                errors.append(f"scene.vocabulary.{part} must not be empty")
        for name, rgb in vocab.colors.items():
            if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
                errors.append(f"scene.vocabulary.colors.{name}: expected 3 ints in 0-255, got {rgb}")
        for name, size in vocab.sizes.items():
            if not isinstance(size, (int, float)) or isinstance(size, bool) or size <= 0:
                errors.append(f"scene.vocabulary.sizes.{name} must be a number > 0, got {size!r}")
    except (KeyError, TypeError, ValueError) as e:
        errors.append(f"scene.vocabulary: malformed ({e}); expected shapes, materials, colors, sizes")
    capacity = None
    if not errors and vocab is not None:
        from dig_core.sampling.scenes import floor_capacity

        capacity = floor_capacity(s, vocab)
        if s.max_objects > capacity:
            errors.append(f"scene.max_objects={s.max_objects}: the floor holds at most {capacity} objects "
                          f"(scene.bounds={s.bounds}, scene.min_dist={s.min_dist}, smallest size "
                          f"{min(vocab.sizes.values())}); lower scene.max_objects or raise scene.bounds")

    return errors, capacity


def _perturbation_errors(cfg: DictConfig, pm: PluginManager, origin: Callable[[str], str]) -> tuple[list[str], bool]:
    """The problems of ``perturbations``, and whether an enabled perturbation adds an object."""
    errors: list[str] = []
    perts = pm.registries["perturbation"]
    weights = OmegaConf.to_container(cfg.perturbations.weights)
    for name, w in weights.items():
        if name not in perts:
            errors.append(f"perturbations.weights: {unknown_name_message('perturbation', name, perts)}")
        elif not isinstance(w, (int, float)) or w < 0:
            errors.append(f"perturbations.weights.{name} must be a number >= 0, got {w!r}")
    if cfg.perturbations.max_attempts < 1:
        errors.append(f"perturbations.max_attempts must be >= 1, got {cfg.perturbations.max_attempts}")
    if cfg.perturbations.balance not in BALANCE_MODES:
        errors.append(f"perturbations.balance: {cfg.perturbations.balance!r} is not one of {list(BALANCE_MODES)}")
    if not any(isinstance(w, (int, float)) and w > 0 for w in weights.values()):
        errors.append("perturbations.weights: at least one weight must be > 0")
    for name, params in (cfg.perturbations.params or {}).items():
        if name not in perts:
            errors.append(f"perturbations.params: {unknown_name_message('perturbation', name, perts)}")
        else:
            plugin_params(perts[name].cls, params, f"{origin(f'perturbations.params.{name}')}perturbations.params.{name}",
                          errors)
    creates = any(perts[n].cls.CREATES for n, w in weights.items()
                  if n in perts and isinstance(w, (int, float)) and w > 0)
    return errors, creates


def _stage_errors(cfg: DictConfig, k_limit: int, creates: bool) -> list[str]:
    """The problems of ``curriculum.stages``; ``k_limit``: the most edits of distinct objects."""
    errors: list[str] = []
    s = cfg.scene
    stages = cfg.curriculum.stages
    if len(stages) == 0:
        errors.append("curriculum.stages must list at least one stage")
    names = [st.name for st in stages]
    for i, st in enumerate(stages):
        where = f"curriculum.stages[{i}] ({st.name})"
        if names.count(st.name) > 1:
            errors.append(f"{where}: duplicate stage name")
        if st.k_min < 0 or st.k_max < max(st.k_min, 1):
            errors.append(f"{where}: need 0 <= k_min <= k_max and k_max >= 1 (k_min 0 adds no-difference "
                          f"control pairs), got k_min={st.k_min}, k_max={st.k_max}")
        elif st.k_max > k_limit and st.pairs > 0:  # a stage of 0 pairs makes no edits
            why = (f"the floor holds at most {k_limit} objects" if creates else
                   f"a scene has at most scene.max_objects={s.max_objects} objects and no enabled perturbation "
                   "adds one")
            errors.append(f"{where}: k_max={st.k_max} edits of distinct objects cannot be made: {why}; "
                          f"need k_max <= {k_limit}")
        if st.k_min == 0 and st.count_in_prompt:
            errors.append(f"{where}: k_min=0 (control pairs) needs count_in_prompt: false; a control pair "
                          "takes only the prompt without the count")
        errors.extend(stage_knob_errors(st, where))
        if st.pairs < 0:
            errors.append(f"{where}: pairs must be >= 0, got {st.pairs}")
        elif st.pairs > MAX_STAGE_PAIRS:
            errors.append(f"{where}: pairs must be <= {MAX_STAGE_PAIRS}, got {st.pairs}; split the stage "
                          "or the data into several datasets")
    total = sum(st.pairs for st in stages)
    if total > MAX_PAIRS and all(st.pairs <= MAX_STAGE_PAIRS for st in stages):
        errors.append(f"curriculum.stages: {total} pairs in all; at most {MAX_PAIRS} per dataset")

    return errors


def _run_errors(cfg: DictConfig, pm: PluginManager) -> list[str]:
    """The problems of ``validity`` and ``generate``."""
    errors: list[str] = []
    v = cfg.validity
    if v.min_visible_pixels < 1:
        errors.append(f"validity.min_visible_pixels must be >= 1, got {v.min_visible_pixels}")
    if v.min_box_change < 0:
        errors.append(f"validity.min_box_change must be >= 0, got {v.min_box_change}")
    if v.max_resamples < 1:
        errors.append(f"validity.max_resamples must be >= 1, got {v.max_resamples}")

    g = cfg.generate
    if g.workers < 0:
        errors.append(f"generate.workers must be >= 0 (0 = auto), got {g.workers}")
    if g.threads < 0:
        errors.append(f"generate.threads must be >= 0 (0 = auto), got {g.threads}")
    if g.image_format not in ("png",):
        errors.append(f"generate.image_format: unknown format {g.image_format!r}; allowed: ['png']")
    execs = pm.registries["executor"]
    if g.executor not in execs:
        errors.append(f"generate.executor: {unknown_name_message('executor', g.executor, execs)}")

    return errors


def _plugin_ref_errors(cfg: DictConfig, pm: PluginManager, sections: Iterable[str] | None,
                       origin: Callable[[str], str]) -> list[str]:
    """The problems of the plugin sections in ``sections`` (None: all): names and params."""
    errors: list[str] = []
    wanted = set(ALL_SECTIONS if sections is None else sections)
    unknown = wanted - set(ALL_SECTIONS)
    if unknown:
        raise ValueError(f"unknown config section(s) {sorted(unknown)}; allowed: {list(ALL_SECTIONS)}")
    refs = [(section, kind, OmegaConf.select(cfg, section)) for section, kind in PLUGIN_SECTIONS.items()
            if section in wanted]
    if "evaluators" in wanted:
        refs += [(f"evaluators[{i}]", "evaluator", ref) for i, ref in enumerate(cfg.evaluators)]
    for section, kind, ref in refs:
        if ref.name is None:
            continue
        reg = pm.registries[kind]
        if ref.name not in reg:
            errors.append(f"{section}.name: {unknown_name_message(kind, ref.name, reg)}")
            continue
        plugin_params(reg[ref.name].cls, ref.params, f"{origin(f'{section}.params')}{section}.params", errors)
    return errors


# -- use ----------------------------------------------------------------------------------------------
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
