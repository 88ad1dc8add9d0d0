"""``dig generate``: scenes -> edits -> renders -> labelled pairs -> dataset folder.

The driver plans one work item per pair (id, stage, K range, seed derived from the config seed, the
stage and the index, and ``seed_namespace`` when set), hands them to an executor, and writes results
in item order. Everything a pair contains depends only on its item, so the dataset is the same for
any number of workers, and a rerun after a crash skips the pairs already written. When the last
pair is written, the manifest records the dataset's content hash (``dig verify`` checks it).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dig_core import __version__
from dig_core.config import DigConfig, instantiate, to_plain
from dig_core.dataset import FORMAT_VERSION, DatasetWriter, content_hash, image_names, read_annotations
from dig_core.errors import DatasetError, SamplingError
from dig_core.pairs import encode_png
from dig_core.plugins import get_plugin_manager
from dig_core.render import Validity, label_pair
from dig_core.seeds import derive_seed

#: why a draw was thrown away: no K edits possible ("edit"), or label_pair's verdict on the renders;
#: every pair records all of them (0 when none), so every line has the same fields
REJECTION_REASONS = ("edit", "no_change", "not_visible")


@dataclass(frozen=True)
class WorkItem:
    index: int
    id: str
    stage: str
    k_min: int
    k_max: int
    count_in_prompt: bool
    seed: int


@dataclass
class PairResult:
    record: dict[str, Any]
    images: dict[str, bytes]
    rejected: dict[str, int] = field(default_factory=dict)
    renderer_info: dict[str, Any] = field(default_factory=dict)


def pair_seed(cfg: DictConfig, stage: str, index: int) -> int:
    """The seed of pair ``index`` of ``stage``. A non-empty ``seed_namespace`` is mixed in, so a
    held-out set (configs/dig-bench.yaml) shares no seed with data from the same seed and stage
    names; without one the seeds are those of earlier versions (same datasets, byte for byte)."""
    ns = cfg.get("seed_namespace") or ""
    return derive_seed(ns, cfg.seed, stage, index) if ns else derive_seed(cfg.seed, stage, index)


def plan(cfg: DictConfig) -> list[WorkItem]:
    """Every pair the config asks for, in dataset order."""
    items: list[WorkItem] = []
    for st in cfg.curriculum.stages:
        for i in range(st.pairs):
            items.append(WorkItem(len(items), f"{st.name}-{i:05d}", st.name, st.k_min, st.k_max,
                                  st.count_in_prompt, pair_seed(cfg, st.name, i)))
    return items


def attempt_seed(item: WorkItem, attempt: int) -> int:
    """The seed of a pair's ``attempt``-th draw (scene and edits); attempt 0 unless rejected."""
    return derive_seed(item.seed, attempt)


class PairMaker:
    """Worker side: builds its renderer once, then makes one valid pair per work item."""

    def __init__(self, config: dict[str, Any], threads: int):
        from dig_core.sampling import build_perturbations, edit_context, vocabulary_from_config

        self.cfg = OmegaConf.merge(OmegaConf.structured(DigConfig), config)
        pm = get_plugin_manager()
        self.vocab = vocabulary_from_config(self.cfg.scene)
        self.ctx = edit_context(self.cfg.scene, self.vocab)
        self.perturbations = build_perturbations(self.cfg, pm)
        self.weights = {k: float(v) for k, v in self.cfg.perturbations.weights.items() if v > 0}
        v = self.cfg.validity
        self.validity = Validity(v.min_visible_pixels, v.min_box_change)
        self.renderer = instantiate(self.cfg, "renderer", "renderer", pm)
        self.renderer.setup(self.vocab, threads)

    def make(self, item: WorkItem) -> PairResult:
        from dig_core.sampling import sample_edits, sample_scene

        rejected: Counter[str] = Counter()
        for attempt in range(self.cfg.validity.max_resamples):
            seed = attempt_seed(item, attempt)
            scene_a = sample_scene(self.cfg.scene, self.vocab, seed)  # an impossible config raises
            try:
                scene_b, diffs = sample_edits(
                    scene_a, item.k_min, item.k_max, self.weights, self.perturbations, self.ctx,
                    random.Random(seed), self.cfg.perturbations.max_attempts,
                )
            except SamplingError:
                rejected["edit"] += 1
                continue
            ra, rb = self.renderer.render_pair(scene_a, scene_b)
            diffs, reason = label_pair(diffs, ra, rb, self.validity)
            if reason:
                rejected[reason] += 1
                continue
            name_a, name_b = image_names(item.id)
            record = {
                "id": item.id,
                "stage": item.stage,
                "image_a": name_a,
                "image_b": name_b,
                "width": scene_a.width,
                "height": scene_a.height,
                "boxes": [d.box for d in diffs],
                "differences": [d.to_dict() for d in diffs],
                "count_in_prompt": item.count_in_prompt,
                "scene_a": scene_a.to_dict(),
                "scene_b": scene_b.to_dict(),
                "seed": seed,
                "rejected": dict(sorted({**dict.fromkeys(REJECTION_REASONS, 0), **rejected}.items())),
            }
            images = {name_a: encode_png(ra.image), name_b: encode_png(rb.image)}
            return PairResult(record, images, dict(rejected), self.renderer.info())
        raise SamplingError(
            f"pair {item.id}: no valid pair after validity.max_resamples={self.cfg.validity.max_resamples} "
            f"tries (rejected: {dict(rejected)}); loosen validity.min_visible_pixels / min_box_change "
            "or scene settings"
        )

    def close(self) -> None:
        self.renderer.close()


def split_workers(cfg: DictConfig) -> tuple[int, int]:
    """(worker processes, renderer threads per worker). Auto: one worker per 2 cores, 2 threads each
    (measured fastest on 2 cores; see benchmarks/render.py)."""
    cpus = os.cpu_count() or 1
    g = cfg.generate
    workers = g.workers or max(1, cpus // 2)
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
    """Counts recorded in the manifest: pairs by stage, K and type, rejected renders by reason."""
    by_stage: Counter[str] = Counter()
    by_k: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    n = 0
    for rec in read_annotations(root):
        n += 1
        by_stage[rec["stage"]] += 1
        by_k[str(len(rec["boxes"]))] += 1
        by_type.update(d["type"] for d in rec["differences"])
        rejected.update(rec.get("rejected", {}))
    return {"pairs": n, "by_stage": dict(by_stage), "by_k": dict(sorted(by_k.items())),
            "by_type": dict(sorted(by_type.items())), "rejected": dict(sorted(rejected.items()))}


def generate(cfg: DictConfig, out: str | Path, progress: bool | None = None) -> dict[str, Any]:
    """Generate (or resume) the dataset ``cfg`` describes into ``out``; return the manifest."""
    from functools import partial

    from tqdm import tqdm

    pm = get_plugin_manager()
    out = Path(out)
    items = plan(cfg)
    plain = to_plain(cfg)
    # what the data depends on; `generate` (workers, executor, progress) only says how it was run
    data_config = {k: v for k, v in plain.items() if k != "generate"}
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "status": "in_progress",
        "seed": cfg.seed,
        "config": data_config,
        "versions": _versions(),
    }
    writer = DatasetWriter(out).open(manifest)
    done = writer.done
    if done != [it.id for it in items[: len(done)]]:
        writer.close()
        raise DatasetError(f"{out}: its pairs are not a prefix of this config's plan; choose a new --out")
    todo = items[len(done):]
    workers, threads = split_workers(cfg)
    executor = pm.get("executor", cfg.generate.executor)(cfg.generate)
    show = cfg.generate.progress if progress is None else progress
    rejected: Counter[str] = Counter()
    started = time.time()
    renderer_info: dict[str, Any] = {}
    with writer, tqdm(total=len(items), initial=len(done), unit="pair", disable=not show,
                      desc=f"dig generate ({workers}x{threads})", dynamic_ncols=True) as bar:
        factory = partial(PairMaker, plain, threads)
        for result in executor.map(factory, todo, workers):
            writer.write_pair(result.record, result.images)
            renderer_info = result.renderer_info or renderer_info
            rejected.update(result.rejected)
            bar.update(1)
            if rejected:
                bar.set_postfix_str("rejected " + ", ".join(f"{k}={v}" for k, v in sorted(rejected.items())))
    renderer_info = renderer_info or (writer.previous or {}).get("renderer", {})
    manifest.update(status="complete", counts=summarize(out), renderer=renderer_info,
                    last_run={"workers": workers, "threads": threads, "seconds": round(time.time() - started, 1),
                              "pairs": len(todo)},
                    content_hash=content_hash(out, progress=show))
    writer.write_manifest(manifest)
    return manifest
