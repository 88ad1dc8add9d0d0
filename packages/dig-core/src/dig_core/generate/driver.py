"""``dig generate``'s driver: plan the pairs, hand them to an executor, write the results in item order.

Everything a pair contains depends only on its item, so the dataset is the same for any number of
workers, and a rerun after a crash skips the pairs already written. When the last pair is written,
the manifest records the dataset's content hash (``dig verify`` checks it) and ``difficulty.png``
shows the histograms of the difficulty measures per stage.
"""

from __future__ import annotations

import functools
import os
import signal
import time
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from dig_core import __version__, interrupt
from dig_core.config import instantiate, to_plain
from dig_core.data.dataset import (
    FORMAT_VERSION,
    DatasetWriter,
    check_output_folder,
    content_hash,
    read_annotations,
)
from dig_core.difficulty import steers_sampling
from dig_core.errors import Interrupted, OutputError
from dig_core.generate.planning import Plan, plan
from dig_core.generate.worker import PairMaker
from dig_core.plugins import get_plugin_manager


def split_workers(cfg: DictConfig, renderer_workers: int = 0) -> tuple[int, int]:
    """(worker processes, renderer threads per worker). Auto: the renderer's wish
    (:meth:`~dig_core.render.Renderer.worker_plan`, e.g. one per GPU), else one worker per 2 cores,
    2 threads each (measured fastest on 2 cores; see benchmarks/render.py)."""
    cpus = os.cpu_count() or 1
    g = cfg.generate
    workers = g.workers or renderer_workers or max(1, cpus // 2)
    threads = g.threads or max(1, cpus // workers)
    return workers, threads


def _versions() -> dict[str, str]:
    out = {"dig-core": __version__}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and (name.startswith("dig-") or name in ("bpy", "numpy", "ray")):
            out[name] = dist.version
    return dict(sorted(out.items()))


def summarize(root: str | Path) -> dict[str, Any]:
    """Counts recorded in the manifest: pairs by stage, K and type, realised edit types per stage,
    rejected renders by reason."""
    by_stage: Counter[str] = Counter()
    stage_types: dict[str, Counter[str]] = {}
    by_k: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    n = 0
    for rec in read_annotations(root):
        n += 1
        by_stage[rec["stage"]] += 1
        by_k[str(len(rec["boxes"]))] += 1
        by_type.update(d["type"] for d in rec["differences"])
        stage_types.setdefault(rec["stage"], Counter()).update(d["type"] for d in rec["differences"])
        rejected.update(rec.get("rejected", {}))
    return {"pairs": n, "by_stage": dict(by_stage), "by_k": dict(sorted(by_k.items())),
            "by_type": dict(sorted(by_type.items())),
            "by_stage_type": {s: dict(sorted(c.items())) for s, c in stage_types.items()},
            "rejected": dict(sorted(rejected.items()))}


def data_config_of(cfg: DictConfig, plain: dict[str, Any]) -> dict[str, Any]:
    """What the data depends on, as the manifest records it (a resume must match it): the config
    without ``generate`` (workers, executor, progress only say how it was run), except
    ``generate.steer`` when it changes the draws (on, and a stage with pairs has a knob it steers).
    A dataset of an earlier version, made without steering, resumes only with ``generate.steer=false``."""
    out = {k: v for k, v in plain.items() if k != "generate"}
    if cfg.generate.get("steer", True) and any(st.pairs > 0 and steers_sampling(st) for st in cfg.curriculum.stages):
        out["generate"] = {"steer": True}
    return out


def generate(cfg: DictConfig, out: str | Path, progress: bool | None = None) -> dict[str, Any]:
    """Generate (or resume) the dataset ``cfg`` describes into ``out``; return the manifest.
    SIGINT / SIGTERM stop it within one pair (:class:`~dig_core.errors.Interrupted`)."""
    if not str(out).strip():
        raise OutputError("--out is empty: give the dataset folder to write, e.g. --out data/demo")
    out = Path(out)
    items = plan(cfg)
    plain = to_plain(cfg)
    data_config = data_config_of(cfg, plain)
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "status": "in_progress",
        "seed": cfg.seed,
        "config": data_config,
        "versions": _versions(),
    }
    check_output_folder(out)  # a folder that is not DiG's is refused before the renderer starts
    with interrupt.stop_on_signals():
        return _render(cfg, plain, out, items, manifest, progress)


def _render(cfg: DictConfig, plain: dict[str, Any], out: Path, items: Plan, manifest: dict[str, Any],
            progress: bool | None) -> dict[str, Any]:
    from tqdm import tqdm

    pm = get_plugin_manager()
    # asked before the output is touched: a GPU that is asked for but absent is a clear error here
    wanted, device = instantiate(cfg, "renderer", "renderer", pm).worker_plan()
    if interrupt.requested():
        raise _stopped(interrupt.requested(), 0, len(items), out)
    # checks the folder (DiG's or empty), locks it, checks the pairs on disk are a prefix of the
    # plan, and only then repairs it and writes the manifest
    writer = DatasetWriter(out).open(manifest, items.ids)
    resumed = len(writer.done)  # pairs already on disk (writer.done grows as pairs are written)
    todo = items.iter_from(resumed)  # each item made when the executor takes it
    workers, threads = split_workers(cfg, wanted)
    show = cfg.generate.progress if progress is None else progress
    rejected: Counter[str] = Counter()
    started = time.time()
    renderer_info: dict[str, Any] = {}
    with writer:
        executor = pm.get("executor", cfg.generate.executor)(cfg.generate)
        with tqdm(total=len(items), initial=resumed, unit="pair", disable=not show,
                  desc=f"dig generate ({workers}x{threads}{', ' + device if device else ''})",
                  dynamic_ncols=True) as bar:
            results = executor.map(functools.partial(PairMaker, plain, threads), todo, workers)
            try:
                for result in results:
                    writer.write_pair(result.record, result.images)
                    renderer_info = result.renderer_info or renderer_info
                    rejected.update(result.rejected)
                    bar.update(1)
                    if any(rejected.values()):
                        bar.set_postfix_str("rejected " + ", ".join(f"{k}={v}" for k, v in sorted(rejected.items()) if v))
                    if interrupt.received() > 1:  # a second signal: stop now (the executor should have already)
                        break
            finally:
                getattr(results, "close", lambda: None)()  # the workers stop and clean up now, not at GC
        stopped = interrupt.requested()
        if stopped is None:
            renderer_info = renderer_info or (writer.previous or {}).get("renderer", {})
            manifest.update(status="complete", counts=summarize(out), renderer=renderer_info,
                            last_run={"workers": workers, "threads": threads,
                                      "seconds": round(time.time() - started, 1), "pairs": len(items) - resumed},
                            content_hash=content_hash(out, progress=show))
            writer.write_manifest(manifest)
            from dig_core.visualize import write_difficulty_histograms

            write_difficulty_histograms(out)  # out/difficulty.png, redrawn from the metadata
    if stopped is not None:
        raise _stopped(stopped, len(writer.done), len(items), out)
    return manifest


def _stopped(signum: int, done: int, total: int, out: Path) -> Interrupted:
    return Interrupted(signum, f"stopped by {signal.Signals(signum).name}: {done} of {total} pairs are in {out} "
                               "(what finished is kept); rerun the same command to resume")
