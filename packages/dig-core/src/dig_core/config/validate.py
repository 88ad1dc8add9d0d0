"""Validating a merged config: every problem at once (bounds, NaN, the curriculum's stages, plugin
names and each plugin's ``params`` against its ``Config`` dataclass), each naming its key and
where it was set."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from dig_core.config.load import _apply, _leaves, interpolation_errors, read_yaml_mapping
from dig_core.config.schema import (
    ALL_SECTIONS,
    BALANCE_MODES,
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    MAX_OBJECTS,
    MAX_PAIRS,
    MAX_STAGE_PAIRS,
    PLUGIN_SECTIONS,
)
from dig_core.difficulty import stage_knob_errors
from dig_core.plugins.manager import PROVIDERS, PluginManager, unknown_name_message
from dig_core.spec import Vocabulary


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
