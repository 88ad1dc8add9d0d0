"""DiG-Bench (configs/dig-bench.yaml): K = 1..4, every edit type, and no scene shared with data made
from the other shipped configs. Scenes and edits are sampled exactly as `dig generate` samples them
(planned seeds, PairMaker's per-attempt seeds), without rendering."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from dig_core.config import load_config
from dig_core.errors import SamplingError
from dig_core.generate import attempt_seed, pair_seed, plan
from dig_core.sampling import build_perturbations, edit_context, sample_edits, sample_scene, vocabulary_from_config
from dig_core.seeds import derive_seed

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
BENCH = CONFIGS / "dig-bench.yaml"
EDIT_TYPES = {"shape", "color", "size", "material", "add", "remove"}


def _load(path, overrides=()):
    return load_config(path, list(overrides), sections=())  # no plugin section: nothing is rendered


def _scene_key(scene) -> str:
    """A scene spec without its seed: two keys are equal iff the scenes are the same."""
    d = scene.to_dict()
    d.pop("seed")
    return json.dumps(d, sort_keys=True)


def _base_scenes(cfg) -> dict[str, str]:
    """scene key -> pair id, for every pair's first draw (the scene used unless a render is rejected)."""
    vocab = vocabulary_from_config(cfg.scene)
    return {_scene_key(sample_scene(cfg.scene, vocab, attempt_seed(it, 0))): it.id for it in plan(cfg)}


def _draw_seeds(cfg) -> set[int]:
    """Every seed a pair of this config may draw its scene and edits from (all resample attempts)."""
    return {attempt_seed(it, a) for it in plan(cfg) for a in range(cfg.validity.max_resamples)}


def _others():
    return [p for p in sorted(CONFIGS.glob("*.yaml")) if p != BENCH]


@pytest.fixture(scope="module")
def bench():
    return _load(BENCH)


@pytest.fixture(scope="module")
def bench_pairs(bench):
    """(stage, k_min, k_max, edit types, first-draw scene key) per pair, with PairMaker's draw loop
    minus the renders."""
    vocab = vocabulary_from_config(bench.scene)
    ctx = edit_context(bench.scene, vocab)
    perts = build_perturbations(bench)
    weights = {k: float(v) for k, v in bench.perturbations.weights.items() if v > 0}
    out = []
    for it in plan(bench):
        first = None
        for attempt in range(bench.validity.max_resamples):
            seed = attempt_seed(it, attempt)
            scene = sample_scene(bench.scene, vocab, seed)
            first = first or _scene_key(scene)
            try:
                _, diffs = sample_edits(scene, it.k_min, it.k_max, weights, perts, ctx, random.Random(seed),
                                        bench.perturbations.max_attempts)
            except SamplingError:
                continue
            out.append((it.stage, it.k_min, it.k_max, [d.type for d in diffs], first))
            break
        else:
            pytest.fail(f"{it.id}: no edits in {bench.validity.max_resamples} draws")
    return out


def test_bench_is_stratified_by_k_with_the_count_hidden(bench):
    stages = [(s.name, s.k_min, s.k_max, s.count_in_prompt, s.pairs) for s in bench.curriculum.stages]
    assert [s[1:3] for s in stages] == [(1, 1), (2, 2), (3, 3), (4, 4)]
    assert all(not s[3] and s[4] >= 200 for s in stages)
    assert bench.seed_namespace and bench.seed == 0


def test_every_edit_type_occurs_in_every_stage(bench_pairs):
    by_stage: dict[str, Counter] = {}
    for stage, k_min, k_max, types, _ in bench_pairs:
        assert k_min <= len(types) <= k_max
        by_stage.setdefault(stage, Counter()).update(types)
    assert len(by_stage) == 4
    for stage, counts in by_stage.items():
        assert set(counts) == EDIT_TYPES, (stage, counts)
        assert min(counts.values()) >= 10, (stage, counts)  # enough of each to report per type


def test_bench_scenes_never_occur_in_data_from_the_other_shipped_configs(bench, bench_pairs):
    others = _others()
    assert {p.name for p in others} >= {"demo.yaml", "paper.yaml"}
    bench_scenes = {key: it.id for it, (*_, key) in zip(plan(bench), bench_pairs)}
    first_five = _base_scenes(_load(BENCH, [f"curriculum.stages[{i}].pairs=5" for i in range(4)]))
    assert all(bench_scenes.get(key) == pair for key, pair in first_five.items())  # the fixture's = the plan's
    assert len(bench_scenes) == len(plan(bench))  # no scene repeats inside the bench either
    bench_seeds = _draw_seeds(bench)
    for path in others:
        cfg = _load(path)
        shared = bench_scenes.keys() & _base_scenes(cfg).keys()
        assert not shared, f"{path.name} shares {len(shared)} scene(s) with DiG-Bench, e.g. {bench_scenes[shared.pop()]}"
        assert not bench_seeds & _draw_seeds(cfg), path.name  # nor any resample's seed


def test_the_check_sees_shared_scenes_without_the_namespace():
    """Control: the bench with the paper's stage names and no namespace repeats the paper's scenes
    (same seed, stage name and index) and the comparison finds them; the namespace alone separates."""
    small = [f"curriculum.stages[{i}].pairs=3" for i in range(4)]
    names = [f"curriculum.stages[{i}].name=dig-{i + 1}" for i in range(4)]
    paper = _base_scenes(_load(CONFIGS / "paper.yaml", small[:3]))
    leaky = _base_scenes(_load(BENCH, [*small, *names, "seed_namespace="]))
    shared = sorted(leaky[k] for k in leaky.keys() & paper.keys())
    assert shared == [f"dig-{s}-{i:05d}" for s in (1, 2) for i in range(3)]
    fenced = _base_scenes(_load(BENCH, [*small, *names]))
    assert not fenced.keys() & paper.keys()


def test_no_namespace_keeps_the_seeds_of_earlier_datasets():
    cfg = _load(None)
    assert cfg.seed_namespace == ""
    assert [it.seed for it in plan(cfg)] == [derive_seed(cfg.seed, s.name, i)
                                             for s in cfg.curriculum.stages for i in range(s.pairs)]
    ns = _load(None, ["seed_namespace=held-out"])
    assert pair_seed(ns, "dig-1", 0) == derive_seed("held-out", 0, "dig-1", 0) != pair_seed(cfg, "dig-1", 0)
