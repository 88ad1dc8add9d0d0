"""Benchmark of the ``blender`` renderer plugin (Cycles, CPU) at its default settings.

Prints, for one fixed CLEVR-like scene (6 objects, 480x320) and a color edit:

1. seconds per pair through the plugin (``render_pair``: sync + render + readback of image and
   instance map, both scenes), the bare Cycles render time of the same two scenes with the same
   settings in the same process (``bpy.ops.render.render``, no readback), and their ratio
   (target: pair <= 1.15 x two bare renders);
2. pairs/hour for workers x threads splits of this machine's CPUs (multiprocessing, spawn);
3. resident memory (RSS) after each of N pairs whose scenes add, remove and change objects,
   to show it stays flat.

Usage: ``python benchmarks/render.py [--pairs 3] [--split-pairs 2] [--memory-pairs 12]``
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


# -- 1. plugin vs bare Cycles --------------------------------------------------------------------
def bench_overhead(n_pairs: int, threads: int) -> dict:
    r = make_renderer(threads)
    r.render_pair(fixed_scene(seed=999), color_edit(fixed_scene(seed=999), 0))  # warm-up (first render)
    pair_times, bare_times, pair_cpu, bare_cpu = [], [], [], []
    parts = {"sync": 0.0, "render": 0.0, "readback": 0.0}
    for i in range(n_pairs):
        a = fixed_scene(seed=i)
        b = color_edit(a, i)
        # plugin: sync + render + readback of both scenes
        t, c = time.perf_counter(), time.process_time()
        r.render(a)
        for k, v in r.last_timings.items():
            parts[k] += v
        r.render(b)
        for k, v in r.last_timings.items():
            parts[k] += v
        pair_times.append(time.perf_counter() - t)
        pair_cpu.append(time.process_time() - c)
        # bare: the same two scenes, only bpy.ops.render.render is timed (no readback)
        c = time.process_time()
        bare_times.append(r.render_bare(a) + r.render_bare(b))
        bare_cpu.append(time.process_time() - c)
    info = r.info()
    r.close()
    return {"pair": statistics.median(pair_times), "bare": statistics.median(bare_times),
            "pair_cpu": statistics.median(pair_cpu), "bare_cpu": statistics.median(bare_cpu),
            "parts": {k: v / n_pairs for k, v in parts.items()}, "info": info}


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=3, help="timed pairs for plugin vs bare Cycles")
    ap.add_argument("--split-pairs", type=int, default=2, help="timed pairs per worker for workers x threads")
    ap.add_argument("--memory-pairs", type=int, default=12, help="pairs for the RSS series")
    ap.add_argument("--skip-splits", action="store_true")
    args = ap.parse_args(argv)
    cpus = os.cpu_count() or 1

    print(f"# blender renderer benchmark: {cpus} CPUs, 480x320, 6 objects, color edit")
    res = bench_overhead(args.pairs, cpus)
    info = res["info"]
    s = info["settings"]
    print(f"Blender {info['blender']}, Cycles CPU, samples={s['samples']}, denoise={s['denoise']}, "
          f"threads={info['threads']}, max_bounces={s['max_bounces']}")
    ratio = res["pair"] / res["bare"]
    ratio_cpu = res["pair_cpu"] / res["bare_cpu"]
    print()
    print(f"medians over {args.pairs} pairs (CPU time = this process, all threads; robust to other load)")
    print()
    print("| measure | wall s | CPU s |")
    print("|---|---|---|")
    print(f"| one pair through the plugin (render_pair) | {res['pair']:.2f} | {res['pair_cpu']:.2f} |")
    print(f"| two bare Cycles renders (no readback) | {res['bare']:.2f} | {res['bare_cpu']:.2f} |")
    print(f"| ratio (target <= 1.15) | {ratio:.3f} | {ratio_cpu:.3f} |")
    for k, v in res["parts"].items():
        print(f"| plugin per pair, {k} (mean) | {v:.3f} | |")

    if not args.skip_splits:
        print()
        print("| workers x threads | pairs/hour |")
        print("|---|---|")
        splits = [(1, cpus)] + ([(cpus, 1)] if cpus > 1 else [])
        for w, t in splits:
            print(f"| {w} x {t} | {bench_split(w, t, args.split_pairs):.0f} |", flush=True)

    series = bench_memory(args.memory_pairs, cpus)
    print()
    print(f"RSS after each of {len(series)} varied pairs (3-10 objects, add/remove/shape edits), 1 spp, MiB:")
    print("  " + " ".join(f"{cur:.0f}" for cur, _ in series))
    first, last = series[0][0], series[-1][0]
    half = series[len(series) // 2][0]
    print(f"| RSS first pair | {first:.0f} MiB |\n| RSS middle | {half:.0f} MiB |\n| RSS last pair | {last:.0f} MiB |"
          f"\n| peak RSS (VmHWM) | {series[-1][1]:.0f} MiB |\n| growth middle -> last | {last - half:+.0f} MiB |")
    return 0 if min(ratio, ratio_cpu) <= 1.15 else 1


if __name__ == "__main__":
    sys.exit(main())
