"""Benchmark of the ``kubric`` renderer plugin against its own bare render and the ``blender`` plugin.

For one fixed CLEVR-like scene (6 objects, 480x320 unless ``--width/--height``) and a color edit per
pair, both renderers at their default settings (16 spp + OIDN), measured in this one run:

- seconds per pair through each plugin (``render_pair``: sync + 2 renders + readback), wall and CPU;
- seconds of two bare Cycles renders of the same scenes through the same plugin's Blender scene
  (``bpy.ops.render.render``, no readback; for Kubric that includes its 1-sample segmentation layer);
- the ratios plugin pair / its own bare renders, and each pair / the blender plugin's (at its defaults;
  where it has ``rerender``, once more with ``rerender: full``, which re-renders all of B as kubric does);
- PyBullet settling (``physics: true``) per scene.

The Blender plugin runs first and is closed before Kubric starts (Kubric resets Blender's session).

Usage: ``python benchmarks/render_kubric.py [--pairs 3] [--width 480 --height 320]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from dig_core.plugins import get_plugin_manager
from dig_core.spec import Camera, Light, ObjectSpec, SceneSpec, Vocabulary

VOCAB = Vocabulary.default()
SPOTS = [(0.0, 0.0), (-2.0, 1.5), (1.8, -1.6), (2.2, 1.2), (-1.5, -2.0), (0.5, 2.4)]
OBJECTS = [("cube", "rubber", "red", "large", 30.0), ("sphere", "metal", "blue", "large", 0.0),
           ("cylinder", "rubber", "green", "small", 0.0), ("sphere", "rubber", "yellow", "small", 0.0),
           ("cube", "metal", "purple", "small", 10.0), ("cylinder", "metal", "cyan", "large", 0.0)]


def fixed_scene(width: int, height: int, seed: int = 0) -> SceneSpec:
    objs = [ObjectSpec(i, shape, mat, color, size, [x, y, VOCAB.rest_height(shape, size)], rot)
            for i, ((x, y), (shape, mat, color, size, rot)) in enumerate(zip(SPOTS, OBJECTS))]
    return SceneSpec(width, height, Camera([7.48, -6.51, 5.34], [0.0, 0.0, 0.0], 35.0, 32.0),
                     [Light("key", [6.44, -2.91, 6.0], 400.0, 1.0), Light("fill", [-4.67, -4.01, 3.01], 120.0, 1.0),
                      Light("back", [-1.15, 4.4, 5.5], 200.0, 1.0)], objs, seed=seed)


def color_edit(scene: SceneSpec, k: int) -> SceneSpec:
    o = scene.objects[k % len(scene.objects)]
    return scene.with_object(o.replace(color=next(c for c in VOCAB.colors if c != o.color)))


def measure(name: str, pairs: int, width: int, height: int, threads: int, **params: object) -> dict[str, float]:
    """Seconds per pair through the plugin and for two bare renders, after one warm-up pair."""
    cls = get_plugin_manager().get("renderer", name)
    r = cls(cls.Config(**params))
    r.setup(VOCAB, threads)
    a = fixed_scene(width, height)
    r.render_pair(a, color_edit(a, 0))  # warm-up: builds the scene, first-render costs
    plugin, bare, plugin_cpu, bare_cpu = [], [], [], []
    for k in range(1, pairs + 1):
        a = fixed_scene(width, height, seed=k)
        b = color_edit(a, k)
        t, c = time.perf_counter(), time.process_time()
        r.render_pair(a, b)
        plugin.append(time.perf_counter() - t)
        plugin_cpu.append(time.process_time() - c)
        c = time.process_time()
        bare.append(r.render_bare(a) + r.render_bare(b))
        bare_cpu.append(time.process_time() - c)
    out = {"pair": statistics.median(plugin), "bare": statistics.median(bare),
           "pair_cpu": statistics.median(plugin_cpu), "bare_cpu": statistics.median(bare_cpu)}
    if name == "kubric":
        settle = []
        for k in range(pairs):
            t = time.perf_counter()
            r.settle(fixed_scene(width, height, seed=k))
            settle.append(time.perf_counter() - t)
        out["settle"] = statistics.median(settle)
    r.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=3, help="timed pairs per renderer (median reported)")
    ap.add_argument("--width", type=int, default=480)
    ap.add_argument("--height", type=int, default=320)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="Cycles threads")
    args = ap.parse_args()
    blender_cls = get_plugin_manager().get("renderer", "blender")
    rows = [("blender", measure("blender", args.pairs, args.width, args.height, args.threads))]
    if "rerender" in blender_cls.Config.__dataclass_fields__:  # B re-rendered in full, like kubric does
        rows.append(("blender, rerender: full", measure("blender", args.pairs, args.width, args.height,
                                                        args.threads, rerender="full")))
    rows.append(("kubric", measure("kubric", args.pairs, args.width, args.height, args.threads)))
    base = rows[0][1]["pair"]
    print(f"{args.width}x{args.height}, 6 objects, color edit, default settings (16 spp + OIDN), "
          f"{args.threads} threads, median of {args.pairs} pairs")
    base_cpu = rows[0][1]["pair_cpu"]
    print("wall s: elapsed; CPU s: this process's CPU time over all threads (robust to other load)")
    print("| renderer | s/pair (plugin) | s/pair (2 bare renders) | plugin / bare | vs blender plugin "
          "| CPU s/pair | CPU s bare | CPU plugin / bare | CPU vs blender |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, m in rows:
        print(f"| {name} | {m['pair']:.2f} | {m['bare']:.2f} | {m['pair'] / m['bare']:.3f} | {m['pair'] / base:.3f} "
              f"| {m['pair_cpu']:.2f} | {m['bare_cpu']:.2f} | {m['pair_cpu'] / m['bare_cpu']:.3f} "
              f"| {m['pair_cpu'] / base_cpu:.3f} |")
    print(f"kubric physics settle (PyBullet, per scene A): {rows[-1][1]['settle']:.3f} s")


if __name__ == "__main__":
    main()
