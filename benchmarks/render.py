"""Benchmark of the ``blender`` renderer plugin (Cycles) at its default settings.

Prints, for one fixed CLEVR-like scene (6 objects, 480x320) and a color edit:

1. a table of rows (one per way of rendering; ``ROWS`` is the list, so another renderer adds one row):
   seconds per pair and the ratio to **one** bare Cycles render of the same scene and settings
   (``bpy.ops.render.render``, no readback): bare render, pair with ``rerender: full``, pair with
   ``rerender: region`` (goal <= 1.4 x one bare render), and a GPU row when bpy finds a GPU (else it
   says so);
2. how far ``rerender: region``'s I_b is from a full render of B over ``--error-pairs`` varied pairs
   drawn by dig's own scene and edit samplers (share of pixels with CIE76 dE > 5, worst pair, worst
   pixel; whether the instance maps are identical);
3. pairs/hour for workers x threads splits of this machine's CPUs (multiprocessing, spawn);
4. resident memory (RSS) after each of N pairs whose scenes add, remove and change objects,
   to show it stays flat;
5. what ``dig generate`` pays per pair with ``configs/difficulty-curriculum.yaml`` (``--generation-pairs``
   per stage, through the real ``PairMaker``): the median cost of a rejected candidate against a kept
   pair (goal <= 10%), where candidates were rejected (geometric sketch, screening render, full
   render), per stage the time per kept pair against an unconstrained pair of the same stage and size
   (the stage's knobs off; goal <= 1.5) and the projected hours for the preset's 4 x 1,200 pairs at
   480x320 on this machine;
6. (``--only region-settings``) ``rerender: region`` settings side by side on the same ``--error-pairs``
   1-3-edit pairs: renders per pair (CPU time / one full render), crop share and dE > 5 error for the
   default, ``region_pad`` 8 and 4, ``region_bleed`` 0.5, and no shadow hull for the fill light.

Usage: ``python benchmarks/render.py [--pairs 3] [--error-pairs 50] [--split-pairs 2] [--memory-pairs 12]
[--generation-pairs 3] [--only generation|region-settings]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import statistics
import sys
import time

from dig_core.plugins import get_plugin_manager
from dig_core.spec import Camera, Light, ObjectSpec, SceneSpec, Vocabulary
from tqdm import tqdm

VOCAB = Vocabulary.default()
SHAPES, MATERIALS = list(VOCAB.shapes), list(VOCAB.materials)
COLORS, SIZES = list(VOCAB.colors), list(VOCAB.sizes)
SPOTS = [(0.0, 0.0), (-2.0, 1.5), (1.8, -1.6), (2.2, 1.2), (-1.5, -2.0), (0.5, 2.4),
         (-2.4, -0.4), (2.5, -0.2), (-0.6, -2.6), (1.2, 0.9)]


def _obj(i: int, shape: str, material: str, color: str, size: str, rot: float = 0.0) -> ObjectSpec:
    x, y = SPOTS[i]
    return ObjectSpec(i, shape, material, color, size, [x, y, VOCAB.rest_height(shape, size)], rot)


def fixed_scene(seed: int = 0, width: int = 480, height: int = 320) -> SceneSpec:
    return SceneSpec(
        width, height,
        Camera([7.48, -6.51, 5.34], [0.0, 0.0, 0.0], 35.0, 32.0),
        [Light("key", [6.44, -2.91, 6.0], 400.0, 1.0), Light("fill", [-4.67, -4.01, 3.01], 120.0, 1.0),
         Light("back", [-1.15, 4.4, 5.5], 200.0, 1.0)],
        [_obj(0, "cube", "rubber", "red", "large", 30.0), _obj(1, "sphere", "metal", "blue", "large"),
         _obj(2, "cylinder", "rubber", "green", "small"), _obj(3, "sphere", "rubber", "yellow", "small"),
         _obj(4, "cube", "metal", "purple", "small", 10.0), _obj(5, "cylinder", "metal", "cyan", "large")],
        seed=seed,
    )


def color_edit(scene: SceneSpec, k: int) -> SceneSpec:
    o = scene.objects[k % len(scene.objects)]
    return scene.with_object(o.replace(color=next(c for c in COLORS if c != o.color)))


def varied_pair(i: int) -> tuple[SceneSpec, SceneSpec]:
    """Pair i of the memory run: 3-10 random objects, B adds/removes/changes one."""
    rng = random.Random(i)
    s = fixed_scene(seed=i)
    n = rng.randint(3, 10)
    s.objects = [_obj(j, rng.choice(SHAPES), rng.choice(MATERIALS), rng.choice(COLORS), rng.choice(SIZES),
                      rng.uniform(0, 360)) for j in rng.sample(range(len(SPOTS)), n)]
    # keep footprints apart: large objects only where there is room
    s.objects = [o if o.size == "small" else o.replace(size="small", position=[*o.position[:2],
                 VOCAB.rest_height(o.shape, "small")]) for o in s.objects]
    kind = i % 3
    if kind == 0 and n > 3:
        b = s.without_object(s.objects[0].id)
    elif kind == 1 and n < len(SPOTS):
        free = next(j for j in range(len(SPOTS)) if not s.has_object(j))
        b = s.with_object(_obj(free, rng.choice(SHAPES), rng.choice(MATERIALS), rng.choice(COLORS), "small"))
    else:
        o = s.objects[0]
        b = s.with_object(o.replace(shape=next(x for x in SHAPES if x != o.shape),
                                    position=[*o.position[:2], VOCAB.rest_height(next(x for x in SHAPES if x != o.shape), o.size)]))
    return s, b


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MiB, from /proc."""
    cur = peak = 0.0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return cur, peak


def make_renderer(threads: int, **params):
    cls = get_plugin_manager().get("renderer", "blender")
    r = cls(cls.Config(**params))
    r.setup(VOCAB, threads)
    return r


# -- 1. rows: bare render, pair full, pair region, GPU ---------------------------------------------
def _time_rows(label: str, n_pairs: int, threads: int, **params) -> list[tuple[str, float, float]]:
    """(row name, wall s, CPU s) medians: one bare render, a pair with rerender full, one with region."""
    full = make_renderer(threads, rerender="full", **params)
    region = make_renderer(threads, rerender="region", **params)
    for r in (full, region):
        r.render_pair(fixed_scene(seed=999), color_edit(fixed_scene(seed=999), 0))  # warm-up (first render)
    times: dict[str, list[tuple[float, float]]] = {"bare": [], "full": [], "region": []}
    for i in range(n_pairs):
        a = fixed_scene(seed=i)
        b = color_edit(a, i)
        for key, r in (("full", full), ("region", region)):
            t, c = time.perf_counter(), time.process_time()
            r.render_pair(a, b)
            times[key].append((time.perf_counter() - t, time.process_time() - c))
        c = time.process_time()
        times["bare"].append((full.render_bare(a), time.process_time() - c))
    for r in (full, region):
        r.close()
    med = {k: (statistics.median(x for x, _ in v), statistics.median(y for _, y in v)) for k, v in times.items()}
    return [(f"{label}: one bare Cycles render (no readback)", *med["bare"]),
            (f"{label}: pair, rerender: full", *med["full"]),
            (f"{label}: pair, rerender: region", *med["region"])]


def gpu_status() -> tuple[str, str]:
    """(device label or "", what bpy reported) for the ``gpu`` request."""
    from dig_render_blender.cycles import import_bpy
    from dig_render_blender.devices import DeviceError, choose_device, describe, query_devices

    report = query_devices(import_bpy())
    try:
        return choose_device("gpu", report).label(), describe(report)
    except DeviceError:
        return "", describe(report)


ROWS = []  # (name, wall s, CPU s); benchmarks of other renderers append theirs


def _kubric_rows(n_pairs: int, threads: int) -> list[tuple[str, float, float]]:
    """The ``kubric`` renderer (dig-render-kubric), when installed and importable, on the same scenes:
    one bare Cycles render of its scene (image layer + its 1-spp segmentation layer, no readback) and a
    pair through the plugin (B always rendered in full). Run after the blender rows: Kubric resets
    Blender's session. ``benchmarks/render_kubric.py`` compares the two renderers in more detail."""
    from dig_core.errors import DigError

    try:
        cls = get_plugin_manager().get("renderer", "kubric")
        r = cls(cls.Config())
        r.setup(VOCAB, threads)
        r.render_pair(fixed_scene(seed=999), color_edit(fixed_scene(seed=999), 0))  # warm-up (first render)
    except DigError as e:
        print(f"(no kubric rows: {str(e).splitlines()[0]})")
        return []
    bare, pair = [], []
    for i in range(n_pairs):
        a = fixed_scene(seed=i)
        b = color_edit(a, i)
        t, c = time.perf_counter(), time.process_time()
        r.render_pair(a, b)
        pair.append((time.perf_counter() - t, time.process_time() - c))
        c = time.process_time()
        bare.append((r.render_bare(a), time.process_time() - c))
    r.close()
    med = [(statistics.median(x for x, _ in v), statistics.median(y for _, y in v)) for v in (bare, pair)]
    return [("kubric: one bare Cycles render (no readback)", *med[0]), ("kubric: pair", *med[1])]


# -- 2. region composite vs full I_b over varied pairs ----------------------------------------------
def sampled_pairs(n: int, width: int, height: int, seed: int = 7):
    """``n`` pairs drawn by dig's own samplers (default scene config, 1-3 edits of every type)."""
    from dig_core.config import DigConfig
    from dig_core.sampling import build_perturbations, edit_context, sample_edits, sample_scene, vocabulary_from_config
    from dig_core.seeds import derive_seed
    from omegaconf import OmegaConf

    cfg = OmegaConf.merge(OmegaConf.structured(DigConfig), {"scene": {"width": width, "height": height}})
    vocab = vocabulary_from_config(cfg.scene)
    ctx = edit_context(cfg.scene, vocab)
    perts = build_perturbations(cfg)
    weights = {k: float(v) for k, v in cfg.perturbations.weights.items() if v > 0}
    for i in range(n):
        s = derive_seed(seed, i)
        a = sample_scene(cfg.scene, vocab, s)
        b, diffs = sample_edits(a, 1, 3, weights, perts, ctx, random.Random(s))
        yield a, b, [d.type for d in diffs]


def bench_region_error(n: int, width: int, height: int, threads: int) -> dict:
    import numpy as np
    from dig_core.difficulty import delta_e
    from dig_render_blender.region import rects_mask

    full, region = make_renderer(threads, rerender="full"), make_renderer(threads, rerender="region")
    shares, worst_px, region_share, missed, same_ids, t_full, t_region, t_one = [], [], [], [], 0, 0.0, 0.0, 0.0
    by_type: dict[str, list[float]] = {}
    noise: list[float] = []
    by_k: dict[int, list[float]] = {}
    for a, b, types in tqdm(sampled_pairs(n, width, height), total=n, desc="region vs full", leave=False):
        # CPU time of this process (Cycles' threads included): robust to other load on the machine
        t = time.process_time()
        full.render(a)  # = render_pair(a, b) with rerender: full, timed per image
        one = time.process_time() - t
        fb = full.render(b)
        t_full += time.process_time() - t
        t = time.process_time()
        ra, rb = region.render_pair(a, b)
        pair = time.process_time() - t
        t_one, t_region = t_one + one, t_region + pair
        by_k.setdefault(len(types), []).append(pair / one)
        other = b.copy()
        other.seed += 1  # reference: the same B with another seed (render noise alone)
        noise.append(float((delta_e(fb.image, full.render(other).image) > 5).mean()))
        de = delta_e(fb.image, rb.image)
        bad = de > 5
        shares.append(float(bad.mean()))
        worst_px.append(float(de.max()))
        inside = rects_mask(region.last_crops, width, height) if region.last_crops is not None else \
            np.ones(bad.shape, dtype=bool)
        region_share.append(float(inside.mean()))
        missed.append(float((bad & ~inside).mean()))
        same_ids += int(np.array_equal(fb.instances, rb.instances))
        for tp in set(types):
            by_type.setdefault(tp, []).append(shares[-1])
    full.close()
    region.close()
    return {"n": n, "mean_share": statistics.mean(shares), "worst_share": max(shares),
            "pairs_over_1pct": sum(x > 0.01 for x in shares), "worst_pixel": max(worst_px),
            "mean_region": statistics.mean(region_share), "missed": statistics.mean(missed),
            "same_ids": same_ids, "speedup": t_full / t_region, "region_vs_one": t_region / t_one,
            "full_vs_one": t_full / t_one, "seed_noise": statistics.mean(noise),
            "region_by_k": {k: (len(v), statistics.median(v)) for k, v in sorted(by_k.items())},
            "by_type": {k: (len(v), max(v)) for k, v in sorted(by_type.items())}}


#: ``rerender: region`` variants of part 6: (renderer params, leave the fill light's shadow out)
REGION_SETTINGS = {"default": ({}, False), "region_pad: 8": ({"region_pad": 8}, False),
                   "region_pad: 4": ({"region_pad": 4}, False), "region_bleed: 0.5": ({"region_bleed": 0.5}, False),
                   "no fill-light shadow hull": ({}, True)}


def bench_region_settings(n: int, width: int, height: int, threads: int) -> dict[str, dict[str, float]]:
    """Part 6: each REGION_SETTINGS variant on the same pairs against a full I_b."""
    import dataclasses
    from unittest import mock

    import dig_render_blender.region as region_mod
    from dig_core.difficulty import delta_e

    full = make_renderer(threads, rerender="full")
    variants = {k: (make_renderer(threads, rerender="region", **params), no_fill)
                for k, (params, no_fill) in REGION_SETTINGS.items()}
    hulls = region_mod.object_hulls

    def without_fill(o, scene, vocab, bleed, shadows=True):
        return hulls(o, dataclasses.replace(scene, lights=[li for li in scene.lights if li.name != "fill"]),
                     vocab, bleed, shadows)

    rows: dict[str, dict[str, list[float]]] = {k: {"ratio": [], "share": [], "error": []} for k in variants}
    for a, b, _ in tqdm(sampled_pairs(n, width, height), total=n, desc="region settings", leave=False):
        t = time.process_time()
        full.render(a)
        one = time.process_time() - t
        fb = full.render(b)
        for k, (r, no_fill) in variants.items():
            with mock.patch.object(region_mod, "object_hulls", without_fill if no_fill else hulls):
                t = time.process_time()
                _, rb = r.render_pair(a, b)
                rows[k]["ratio"].append((time.process_time() - t) / one)
            crops = r.last_crops
            rows[k]["share"].append(1.0 if crops is None else float(region_mod.rects_mask(crops, width, height).mean()))
            rows[k]["error"].append(float((delta_e(fb.image, rb.image) > 5).mean()))
    for r in [full, *(r for r, _ in variants.values())]:
        r.close()
    return {k: {"mean": statistics.mean(v["ratio"]), "median": statistics.median(v["ratio"]),
                "share": statistics.mean(v["share"]), "error": statistics.mean(v["error"]),
                "worst": max(v["error"])} for k, v in rows.items()}


def print_region_settings(rows: dict[str, dict[str, float]], n: int, width: int, height: int) -> None:
    print(f"rerender: region settings on the same {n} pairs ({width}x{height}, 1-3 edits; goal <= 1.4 renders per "
          "pair with dE > 5 on <= 0.01% of pixels):")
    print()
    print("| setting | renders per pair, mean | median | crop share | dE > 5, mean | worst pair |")
    print("|---|---|---|---|---|---|")
    for k, v in rows.items():
        print(f"| {k} | {v['mean']:.2f} | {v['median']:.2f} | {v['share']:.2f} | {v['error']:.4%} | {v['worst']:.4%} |")


# -- 2. workers x threads ------------------------------------------------------------------------
def _worker(threads: int, n_pairs: int, worker: int, barrier, out) -> None:
    r = make_renderer(threads)
    r.render_pair(fixed_scene(seed=500 + worker), color_edit(fixed_scene(seed=500 + worker), 1))  # warm-up
    barrier.wait()
    t = time.perf_counter()
    for i in range(n_pairs):
        a = fixed_scene(seed=1000 * worker + i)
        r.render_pair(a, color_edit(a, i))
    out.put((worker, time.perf_counter() - t))
    r.close()


def bench_split(workers: int, threads: int, n_pairs: int) -> float:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(threads, n_pairs, w, barrier, out)) for w in range(workers)]
    for p in procs:
        p.start()
    barrier.wait()
    t0 = time.perf_counter()
    results = [out.get() for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    assert len(results) == workers
    return workers * n_pairs / wall * 3600


# -- 3. memory over many pairs ---------------------------------------------------------------------
def bench_memory(n_pairs: int, threads: int) -> list[tuple[float, float]]:
    # memory does not depend on the sample count: 1 spp keeps this part short
    r = make_renderer(threads, samples=1)
    series = []
    for i in range(n_pairs):
        a, b = varied_pair(i)
        r.render_pair(a, b)
        series.append(rss_mb())
    r.close()
    return series


# -- 5. dig generate on the difficulty curriculum: rejected candidates, kept pairs ----------------------
def knobs_off() -> dict:
    """Every difficulty knob of a stage at its default, which filters nothing (dig_core.config.StageConfig)."""
    from dataclasses import fields

    from dig_core.config import StageConfig

    return {f.name: f.default for f in fields(StageConfig)
            if f.name not in ("name", "k_min", "k_max", "count_in_prompt", "pairs")}


class _Counted:
    """Counts a renderer's calls by kind: full pairs, screening renders, alone renders."""

    def __init__(self, renderer):
        self.calls = {"render_pair": 0, "render_preview": 0, "render_alone": 0}
        for name in self.calls:
            method = getattr(renderer, name)

            def counted(*a, _m=method, _n=name, **kw):
                self.calls[_n] += 1
                return _m(*a, **kw)
            setattr(renderer, name, counted)


def _timed_pairs(maker, items, reasons: dict) -> tuple[list[float], list[float], float]:
    """(rejected candidate seconds, kept candidate seconds, total seconds) of ``maker.make`` over
    ``items``: a candidate starts where the sampler draws its scene A; ``reasons`` counts rejections."""
    import dig_core.sampling as sampling

    starts: list[float] = []
    original = sampling.sample_scene

    def stamped(*a, **kw):
        starts.append(time.perf_counter())
        return original(*a, **kw)

    rejected, kept = [], []
    sampling.sample_scene = stamped
    t0 = time.perf_counter()
    try:
        for item in items:
            starts.clear()
            result = maker.make(item)
            end = time.perf_counter()
            for k, v in result.record["rejected"].items():
                reasons[k] = reasons.get(k, 0) + v
            bounds = [*starts, end]
            rejected += [b - a for a, b in zip(bounds[:-2], bounds[1:-1])]
            kept.append(end - starts[-1])
    finally:
        sampling.sample_scene = original
    return rejected, kept, time.perf_counter() - t0


def bench_generation(n_pairs: int, width: int, height: int, threads: int) -> dict:
    from dig_core.config import load_config, to_plain
    from dig_core.generate import PairMaker, plan

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs", "difficulty-curriculum.yaml")
    cfg = load_config(root, [f"scene.width={width}", f"scene.height={height}"], sections=("renderer",))
    cfg.validity.min_visible_pixels = max(4, round(cfg.validity.min_visible_pixels * width * height / (480 * 320)))
    free = cfg.copy()
    for st in free.curriculum.stages:
        st.update(knobs_off())
    makers = {"knobs": PairMaker(to_plain(cfg), threads), "free": PairMaker(to_plain(free), threads)}
    counter = _Counted(makers["knobs"].renderer)
    items = plan(cfg)
    for m in makers.values():  # warm-up: Blender's first render
        m.make(items[-1])
    counter.calls = dict.fromkeys(counter.calls, 0)
    out: dict = {"stages": [], "rejected": [], "kept": []}
    for st in cfg.curriculum.stages:
        todo = [it for it in items if it.stage == st.name][:n_pairs]
        row = {"stage": st.name, "pairs": len(todo), "reasons": {}}
        for key, maker in makers.items():
            rej, kept, total = _timed_pairs(maker, todo, row["reasons"] if key == "knobs" else {})
            row[key] = total / len(todo)
            if key == "knobs":
                out["rejected"] += rej
                out["kept"] += kept
                row["candidates"] = len(rej) + len(kept)
        out["stages"].append(row)
    out["calls"] = counter.calls
    for m in makers.values():
        m.close()
    # 480x320 over this size: one bare render of each (the projection's scale)
    r = make_renderer(threads)
    small, big = fixed_scene(width=width, height=height), fixed_scene()
    r.render_bare(small)
    r.render_bare(big)
    out["scale"] = statistics.median(r.render_bare(big) for _ in range(2)) / \
        statistics.median(r.render_bare(small) for _ in range(2))
    r.close()
    return out


def print_generation(g: dict, width: int, height: int) -> None:
    rej, kept = g["rejected"], g["kept"]
    print()
    print(f"dig generate, configs/difficulty-curriculum.yaml at {width}x{height} (visible pixels scaled), "
          f"{g['stages'][0]['pairs']} pairs per stage, screening and steering on (defaults):")
    print()
    print("| measure | value |")
    print("|---|---|")
    med_rej = statistics.median(rej) if rej else 0.0
    med_kept = statistics.median(kept)
    print(f"| kept pair, median s | {med_kept:.2f} |")
    print(f"| rejected candidate, median s ({len(rej)} rejected) | {med_rej:.3f} |")
    print(f"| rejected / kept (goal <= 0.10) | {med_rej / med_kept:.3f} |")
    calls = g["calls"]
    print(f"| full pair renders / screening renders / alone renders (all candidates) | "
          f"{calls['render_pair']} / {calls['render_preview']} / {calls['render_alone']} |")
    print()
    print("| stage | candidates | rejected by | s per kept pair | s per unconstrained pair | ratio (goal <= 1.5) | "
          "projected h for 1,200 at 480x320 |")
    print("|---|---|---|---|---|---|---|")
    hours = 0.0
    for row in g["stages"]:
        h = 1200 * row["knobs"] * g["scale"] / 3600
        hours += h
        why = ", ".join(f"{k} {v}" for k, v in sorted(row["reasons"].items()) if v) or "-"
        print(f"| {row['stage']} | {row['candidates']} | {why} | {row['knobs']:.2f} | {row['free']:.2f} | "
              f"{row['knobs'] / row['free']:.2f} | {h:.1f} |")
    print(f"| all 4 x 1,200 | | | | | | {hours:.1f} |")
    print(f"(480x320 / {width}x{height} render time: x{g['scale']:.2f}, one bare render each; one worker with "
          f"{os.cpu_count()} threads)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=3, help="timed pairs per row (median)")
    ap.add_argument("--error-pairs", type=int, default=50, help="varied pairs for region vs full I_b")
    ap.add_argument("--error-size", default="240x160", help="image size of the region-error pairs (WxH)")
    ap.add_argument("--split-pairs", type=int, default=2, help="timed pairs per worker for workers x threads")
    ap.add_argument("--memory-pairs", type=int, default=12, help="pairs for the RSS series")
    ap.add_argument("--skip-splits", action="store_true")
    ap.add_argument("--generation-pairs", type=int, default=3, help="pairs per difficulty-curriculum stage (0 = skip)")
    ap.add_argument("--generation-size", default="480x320", help="image size of the generation part (WxH)")
    ap.add_argument("--only", choices=("generation", "region-settings"), help="run only this part")
    args = ap.parse_args(argv)
    cpus = os.cpu_count() or 1
    gw, gh = (int(x) for x in args.generation_size.split("x"))
    if args.only == "generation":
        print_generation(bench_generation(args.generation_pairs, gw, gh, cpus), gw, gh)
        return 0
    if args.only == "region-settings":
        w, h = (int(x) for x in args.error_size.split("x"))
        print_region_settings(bench_region_settings(args.error_pairs, w, h, cpus), args.error_pairs, w, h)
        return 0

    r = make_renderer(cpus)
    info = r.info()
    r.close()
    s = info["settings"]
    print(f"# blender renderer benchmark: {cpus} CPUs, 480x320, 6 objects, color edit")
    print(f"Blender {info['blender']}, Cycles, samples={s['samples']}, denoise={s['denoise']}, "
          f"threads={info['threads']}, max_bounces={s['max_bounces']}")
    gpu, report = gpu_status()
    ROWS.extend(_time_rows("CPU", args.pairs, cpus, device="cpu"))
    if gpu:
        ROWS.extend(_time_rows(f"GPU {gpu}", args.pairs, cpus, device="gpu"))
    ROWS.extend(_kubric_rows(args.pairs, cpus))
    bare, bare_cpu = ROWS[0][1], ROWS[0][2]
    print()
    print(f"medians over {args.pairs} pairs; x bare = time / one bare CPU render (goal for a pair: <= 1.4); "
          "CPU s = this process's CPU time, robust to other load")
    print()
    print("| row | wall s | CPU s | x bare (wall) | x bare (CPU) | pairs/hour |")
    print("|---|---|---|---|---|---|")
    for name, wall, cpu in ROWS:
        per_hour = f"{3600 / wall:.0f}" if "pair" in name else ""
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {wall / bare:.2f} | {cpu / bare_cpu:.2f} | {per_hour} |")
    if not gpu:
        print(f"| GPU: none on this machine ({report}) | - | - | - | - | - |")

    w, h = (int(x) for x in args.error_size.split("x"))
    e = bench_region_error(args.error_pairs, w, h, cpus)
    print()
    print(f"rerender: region vs full I_b over {e['n']} varied pairs ({w}x{h}, 1-3 edits of every type, CIE76 dE):")
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| pixels with dE > 5, mean over pairs | {e['mean_share']:.4%} |")
    print(f"| pixels with dE > 5, worst pair | {e['worst_share']:.4%} |")
    print(f"| reference: full B vs full B with another seed, dE > 5, mean | {e['seed_noise']:.4%} |")
    print(f"| pairs with > 1% of pixels at dE > 5 | {e['pairs_over_1pct']} |")
    print(f"| worst pixel dE | {e['worst_pixel']:.1f} |")
    print(f"| of which outside the crops (missed shadows/reflections), mean share | {e['missed']:.4%} |")
    print(f"| frame share re-rendered (crops), mean | {e['mean_region']:.1%} |")
    print(f"| instance maps identical to a full render | {e['same_ids']}/{e['n']} |")
    print(f"| pair CPU time / one full render, rerender: full | {e['full_vs_one']:.2f} |")
    print(f"| pair CPU time / one full render, rerender: region | {e['region_vs_one']:.2f} |")
    for k, (count, med) in e["region_by_k"].items():
        print(f"| pair CPU time / one full render, rerender: region, K = {k} ({count} pairs, median) | {med:.2f} |")
    for tp, (k, worst) in e["by_type"].items():
        print(f"| worst dE > 5 share, pairs with a {tp} edit ({k}) | {worst:.4%} |")

    if not args.skip_splits:
        print()
        print("| workers x threads | pairs/hour |")
        print("|---|---|")
        splits = [(1, cpus)] + ([(cpus, 1)] if cpus > 1 else [])
        for w, t in splits:
            print(f"| {w} x {t} | {bench_split(w, t, args.split_pairs):.0f} |", flush=True)

    if args.memory_pairs:
        series = bench_memory(args.memory_pairs, cpus)
        print()
        print(f"RSS after each of {len(series)} varied pairs (3-10 objects, add/remove/shape edits), 1 spp, MiB:")
        print("  " + " ".join(f"{cur:.0f}" for cur, _ in series))
        first, last = series[0][0], series[-1][0]
        half = series[len(series) // 2][0]
        print(f"| RSS first pair | {first:.0f} MiB |\n| RSS middle | {half:.0f} MiB |\n| RSS last pair | {last:.0f} MiB |"
              f"\n| peak RSS (VmHWM) | {series[-1][1]:.0f} MiB |\n| growth middle -> last | {last - half:+.0f} MiB |")
    if args.generation_pairs:
        print_generation(bench_generation(args.generation_pairs, gw, gh, cpus), gw, gh)
    wall, cpu = next((w, c) for name, w, c in ROWS if name == "CPU: pair, rerender: region")
    return 0 if min(wall / bare, cpu / bare_cpu) <= 1.4 else 1


if __name__ == "__main__":
    sys.exit(main())
