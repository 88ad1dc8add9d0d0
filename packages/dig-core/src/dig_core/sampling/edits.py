"""The edit sampler: scene A -> scene B with K edits of K distinct objects, and their Differences."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Iterator, Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dig_core.config import plugin_params
from dig_core.errors import ConfigError, PluginError, SamplingError
from dig_core.perturbations.base import Difference, EditContext, Perturbation
from dig_core.plugins.manager import PluginManager, get_plugin_manager
from dig_core.spec import SceneSpec, Vocabulary, scene_problems


def edit_context(cfg_scene: Any, vocab: Vocabulary) -> EditContext:
    """The placement rules of a ``scene`` config section, for perturbations."""
    return EditContext(vocab=vocab, min_dist=cfg_scene.min_dist, margin=cfg_scene.margin,
                       max_attempts=cfg_scene.max_attempts)


def build_perturbations(cfg: Any, pm: PluginManager | None = None) -> dict[str, Perturbation]:
    """Instances of every perturbation with a weight > 0, each built with its validated
    ``perturbations.params.<name>``. ``cfg`` is the whole config or its ``perturbations`` section.
    Raises :class:`ConfigError` listing unknown names and bad params."""
    pm = pm or get_plugin_manager()
    section = cfg.perturbations if "perturbations" in cfg else cfg
    weights = _plain(section.weights)
    params = _plain(section.params) or {}
    errors: list[str] = []
    out: dict[str, Perturbation] = {}
    for name in sorted(weights):
        if not weights[name] or weights[name] <= 0:
            continue
        try:
            cls = pm.get("perturbation", name)
        except PluginError as e:
            errors.append(f"perturbations.weights: {e}")
            continue
        obj = plugin_params(cls, params.get(name, {}), f"perturbations.params.{name}", errors)
        if obj is not None:
            out[name] = cls(obj)
    if errors:
        raise ConfigError(errors)
    return out


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def _weighted_choice(rng: random.Random, names: list[str], weights: Mapping[str, float]) -> str:
    total = sum(weights[n] for n in names)
    x = rng.uniform(0.0, total)
    for n in names:
        x -= weights[n]
        if x <= 0:
            return n
    return names[-1]


def _options(scene: SceneSpec, touched: set[int], names: list[str], perturbations: Mapping[str, Perturbation],
             ctx: EditContext, failed: set[tuple[str, int | None]]) -> dict[str, list[int | None]]:
    """Per enabled type, the targets it may still edit in this step (None = a new object)."""
    options: dict[str, list[int | None]] = {}
    for name in names:
        p = perturbations[name]
        if p.CREATES:
            targets: list[int | None] = [] if (name, None) in failed else [None]
        else:
            targets = [o.id for o in scene.objects
                       if o.id not in touched and (name, o.id) not in failed and p.applies_to(scene, o, ctx)]
        if targets:
            options[name] = targets
    return options


def sample_edits(
    scene: SceneSpec,
    k_min: int,
    k_max: int,
    weights: Mapping[str, float],
    perturbations: Mapping[str, Perturbation],
    ctx: EditContext,
    rng: random.Random,
    max_attempts: int = 100,
) -> tuple[SceneSpec, list[Difference]]:
    """Scene B and its differences from ``scene`` (A): K in ``[k_min, k_max]`` edits, each of a
    distinct object (an added object is not edited again; no object is edited twice), each type
    drawn with ``weights`` among the types that can still edit something.

    ``k_max`` is capped at the number of objects of A when no enabled perturbation creates objects
    (each edit needs its own object); :class:`SamplingError` if ``k_min`` then exceeds it. Every
    intermediate and final scene is physically valid (``scene_problems(.., ctx.min_dist)`` empty).
    A failed edit or a dead end (no type can edit anything) costs one of ``max_attempts``; a dead
    end restarts from A with the same K. Deterministic for a given ``rng`` state.
    """
    names = sorted(n for n, w in weights.items() if w and w > 0)
    if not names:
        raise SamplingError(f"no perturbation has a weight > 0 (weights: {dict(weights)})")
    missing = [n for n in names if n not in perturbations]
    if missing:
        raise SamplingError(f"perturbation(s) {missing} have a weight but were not built; built: {sorted(perturbations)}")
    if k_min < 1 or k_max < k_min:
        raise SamplingError(f"need 1 <= k_min <= k_max, got k_min={k_min}, k_max={k_max}")
    creates = any(perturbations[n].CREATES for n in names)
    k_cap = k_max if creates else min(k_max, len(scene.objects))
    if k_cap < k_min:
        raise SamplingError(
            f"cannot make {k_min} edits of distinct objects in a scene of {len(scene.objects)} objects "
            f"with perturbations {names} (none adds objects)"
        )
    k = rng.randint(k_min, k_cap)
    ctx = dataclasses.replace(ctx, reference=scene)

    attempts = 0
    while attempts < max_attempts:
        current, diffs, touched = scene, [], set()
        failed: set[tuple[str, int | None]] = set()  # (type, target) that failed at this step
        while len(diffs) < k and attempts < max_attempts:
            options = _options(current, touched, names, perturbations, ctx, failed)
            if not options:
                attempts += 1
                break  # dead end: restart from A
            name = _weighted_choice(rng, sorted(options), weights)
            target = rng.choice(options[name])
            result = _apply_edit(name, target, current, perturbations, rng, ctx, touched)
            if result is None:
                attempts += 1
                failed.add((name, target))
                continue
            current, diff = result
            touched.add(diff.object_id)
            diffs.append(diff)
            failed = set()
        if len(diffs) == k:
            return current, diffs
    raise SamplingError(
        f"could not make K={k} edits of distinct objects (k_min={k_min}, k_max={k_max}) on a scene of "
        f"{len(scene.objects)} objects (seed {scene.seed}) with weights {dict(weights)} within "
        f"max_attempts={max_attempts}"
    )


def _apply_edit(name: str, target: int | None, current: SceneSpec, perturbations: Mapping[str, Perturbation],
                rng: random.Random, ctx: EditContext, touched: set[int]) -> tuple[SceneSpec, Difference] | None:
    """Edit ``name`` on object ``target`` of ``current`` (None: an edit that creates one), checked
    (:func:`_check_edit`): ``(edited scene, difference)``, or None where that edit cannot apply."""
    obj = None if target is None else current.object(target)
    result = perturbations[name].apply(current, obj, rng, ctx)
    if result is not None:
        _check_edit(name, result[0], result[1], touched, ctx)
    return result


def _check_edit(name: str, b: SceneSpec, diff: Difference, touched: set[int], ctx: EditContext) -> None:
    """Catch a perturbation plugin that breaks the contract, naming it (not a user error)."""
    problems = scene_problems(b, ctx.vocab, ctx.min_dist)
    if problems:
        raise RuntimeError(f"perturbation {name!r} returned an invalid scene: {problems}")
    if diff.object_id in touched:
        raise RuntimeError(f"perturbation {name!r} edited object {diff.object_id}, which an earlier edit touched")
    if not diff.before and not diff.after:
        raise RuntimeError(f"perturbation {name!r} returned a Difference with neither before nor after")


def quota_types(weights: Mapping[str, float], n: int, rng: random.Random | None = None) -> list[str]:
    """``n`` edit types whose counts follow ``weights`` as closely as possible in every prefix: the
    first ``n`` of :func:`quota_stream`."""
    return list(itertools.islice(quota_stream(weights, rng), n))


def quota_stream(weights: Mapping[str, float], rng: random.Random | None = None) -> Iterator[str]:
    """Edit types whose counts follow ``weights`` as closely as possible in every prefix: the
    i-th type is the one furthest behind its share ``(i + 1) * w / sum(w)``, so each type's count is
    within 1 of its share at every point (stage quotas; resumed runs stay balanced). Ties go to the
    larger weight, then in a random order drawn from ``rng`` for every pick (by name without one), so
    a short stage does not always start with the same types. Endless, and each pick depends only on
    the ones before it: a plan deals a stage's types as far as its pairs are read."""
    names = sorted(t for t, w in weights.items() if w and w > 0)
    total = sum(weights[t] for t in names)
    counts = dict.fromkeys(names, 0)
    for i in itertools.count():
        tie = {t: rng.random() for t in names} if rng is not None else {t: -names.index(t) for t in names}
        t = max(names, key=lambda t: ((i + 1) * weights[t] / total - counts[t], weights[t], tie[t]))
        counts[t] += 1
        yield t


def sample_typed_edits(
    scene: SceneSpec,
    types: list[str],
    perturbations: Mapping[str, Perturbation],
    ctx: EditContext,
    rng: random.Random,
    max_attempts: int = 100,
) -> tuple[SceneSpec, list[Difference]]:
    """Scene B and its differences: one edit of each type in ``types`` (a stage's quota), each of a
    distinct object, in an order shuffled per try. A failed edit or a dead end (a type that can edit
    nothing more) costs one of ``max_attempts``; a dead end restarts from A in a new order.
    :class:`SamplingError` when the types cannot all be realised on this scene (the caller draws
    another scene). ``types == []`` gives ``(scene, [])``: a no-difference control pair."""
    missing = sorted({t for t in types if t not in perturbations})
    if missing:
        raise SamplingError(f"perturbation(s) {missing} are planned but were not built; built: {sorted(perturbations)}")
    if not any(perturbations[t].CREATES for t in types) and len(types) > len(scene.objects):
        raise SamplingError(f"cannot make {len(types)} edits {types} of distinct objects in a scene of "
                            f"{len(scene.objects)} objects")
    ctx = dataclasses.replace(ctx, reference=scene)
    attempts = 0
    while attempts < max_attempts:
        order = list(types)
        rng.shuffle(order)
        current, diffs, touched = scene, [], set()
        failed: set[tuple[str, int | None]] = set()
        for name in order:
            diff = None
            while diff is None and attempts < max_attempts:
                targets = _options(current, touched, [name], perturbations, ctx, failed).get(name)
                if not targets:
                    attempts += 1
                    break  # dead end: restart from A
                target = rng.choice(targets)
                result = _apply_edit(name, target, current, perturbations, rng, ctx, touched)
                if result is None:
                    attempts += 1
                    failed.add((name, target))
                    continue
                current, diff = result
            if diff is None:
                break
            touched.add(diff.object_id)
            diffs.append(diff)
            failed = set()
        if len(diffs) == len(types):
            return current, diffs
    raise SamplingError(
        f"could not make the edits {types} of distinct objects on a scene of {len(scene.objects)} objects "
        f"(seed {scene.seed}) within max_attempts={max_attempts}"
    )
