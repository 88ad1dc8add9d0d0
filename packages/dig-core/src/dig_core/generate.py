"""``dig generate``: scenes -> edits -> renders -> labelled pairs -> dataset folder.

The driver plans one work item per pair (id, stage, K range, seed derived from the config seed, the
stage and the index, and ``seed_namespace`` when set), hands them to an executor, and writes results
in item order. Everything a pair contains depends only on its item, so the dataset is the same for
any number of workers, and a rerun after a crash skips the pairs already written. When the last
pair is written, the manifest records the dataset's content hash (``dig verify`` checks it) and
``difficulty.png`` shows the histograms of the difficulty measures per stage.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dig_core import __version__, interrupt
from dig_core.config import DigConfig, instantiate, to_plain
from dig_core.data.dataset import (
    FORMAT_VERSION,
    DatasetWriter,
    check_output_folder,
    content_hash,
    image_names,
    read_annotations,
)
from dig_core.data.pairs import encode_png
from dig_core.difficulty import (
    KNOB_REASONS,
    PREVIEW_CONTRAST_SLACK,
    PREVIEW_MIN_AREA,
    contrast_rejection,
    has_occlusion_knob,
    knob_rejection,
    mask_knob_rejection,
    measure_difference,
    measures_occlusion,
    steers_sampling,
)
from dig_core.errors import DigError, Interrupted, OutputError, SamplingError
from dig_core.plugins import get_plugin_manager
from dig_core.render import (
    RenderResult,
    SceneRejected,
    Validity,
    alone_masks,
    box_change_rejection,
    difference_mask,
    label_masks,
    occlusion_from_masks,
    visible_objects,
)
from dig_core.seeds import derive_seed
from dig_core.sketch import AREA_SLACK, DIST_SLACK, OCCLUSION_SLACK, sketch_alone, sketch_instances

#: edit sets drawn on one scene A, when a stage's area / location / occlusion knobs steer sampling,
#: before the scene counts as rejected (each draw is judged on the geometric sketch, no render)
STEER_DRAWS = 30

#: why a draw was thrown away: no K edits possible ("edit"), label_pair's verdict on the renders
#: ("no_change", "not_visible"), or a stage's difficulty knobs ("area", "contrast", "location", "occlusion");
#: every pair records all of them (0 when none), so every line has the same fields. A draw failing
#: several rules counts the first of RULE_ORDER: those a preview decides first (the mask rules, then
#: contrast), so screening on or off counts the same reasons
RULE_ORDER = ("not_visible", "area", "location", "occlusion", "contrast", "no_change")
REJECTION_REASONS = tuple(sorted(("edit", "no_change", "not_visible", *KNOB_REASONS)))


@dataclass(frozen=True)
class WorkItem:
    index: int
    id: str
    stage: str
    k_min: int
    k_max: int
    count_in_prompt: bool
    seed: int
    #: K planned for this pair (-1: drawn while sampling edits, the ``feasible`` balance)
    k: int = -1
    #: edit types planned for this pair by the stage's quota (``quota`` balance)
    types: tuple[str, ...] = ()


@dataclass
class PairResult:
    record: dict[str, Any]
    images: dict[str, bytes]
    rejected: dict[str, int] = field(default_factory=dict)
    renderer_info: dict[str, Any] = field(default_factory=dict)


def pair_seed(cfg: DictConfig, stage: str, index: int | str) -> int:
    """The seed of pair ``index`` of ``stage``. A non-empty
    ``seed_namespace`` is mixed in, so a held-out set (configs/dig-bench.yaml) shares no seed with
    data from the same seed and stage names; without one the seeds are those of earlier versions
    (same datasets, byte for byte)."""
    return derive_seed(*seed_head(cfg), stage, index)


def seed_head(cfg: DictConfig) -> tuple[Any, ...]:
    """What every pair seed of ``cfg`` starts from: ``(seed,)``, or ``(seed_namespace, seed)``."""
    ns, seed = cfg.get("seed_namespace") or "", cfg.seed
    return (ns, seed) if ns else (seed,)


def planned_k(seed: int, k_min: int, k_max: int) -> int:
    """The K of a pair whose K is planned (``quota`` balance, or a stage with control pairs)."""
    return random.Random(derive_seed(seed, "k")).randint(k_min, k_max)


def pair_record(item: WorkItem, scene_a: Any, scene_b: Any, differences: list[dict[str, Any]],
                measures: list[dict[str, Any]], seed: int, rejected: Mapping[str, int],
                visible: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> dict[str, Any]:
    """The metadata line of a finished pair, keys in a fixed order (datasets are byte-identical
    across runs): ``differences`` as ``Difference.to_dict()`` (each with its ``box``), one
    ``measures`` entry per difference, every object's visible box in I_a and I_b
    (:func:`dig_core.render.visible_objects`) and every rejection reason counted (0 when none)."""
    name_a, name_b = image_names(item.id)
    return {
        "id": item.id,
        "stage": item.stage,
        "image_a": name_a,
        "image_b": name_b,
        "width": scene_a.width,
        "height": scene_a.height,
        "boxes": [d["box"] for d in differences],
        "differences": differences,
        "measures": measures,
        "count_in_prompt": item.count_in_prompt,
        "scene_a": scene_a.to_dict(),
        "scene_b": scene_b.to_dict(),
        "visible_a": visible[0],
        "visible_b": visible[1],
        "seed": seed,
        "rejected": dict(sorted({**dict.fromkeys(REJECTION_REASONS, 0), **rejected}.items())),
    }


def pair_id(stage: str, index: int) -> str:
    """The id of pair ``index`` of ``stage`` (also its image files' names, :func:`dig_core.data.dataset.image_names`)."""
    return f"{stage}-{index:05d}"


def plan(cfg: DictConfig) -> Plan:
    """Every pair the config asks for, in dataset order (a :class:`Plan`: items made when read)."""
    return Plan(cfg)


class PlanIds(Sequence[str]):
    """The ids of a plan's pairs in dataset order, ``f"{stage}-{i:05d}"``: length, lookup and ``in``
    in constant time (a million-pair plan lists none of them)."""

    def __init__(self, stages: Sequence[tuple[str, int]]):
        self.names = [name for name, _ in stages]
        #: index of each stage's first pair, and the plan's length last
        self.starts = list(itertools.accumulate((n for _, n in stages), initial=0))
        self._pairs = dict(stages)  # stage names are unique (config check)

    def __len__(self) -> int:
        return self.starts[-1]

    def locate(self, index: int) -> tuple[int, int]:
        """``(stage position, pair index within the stage)`` of plan index ``index`` (negative: from the end)."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"plan index {index} out of range (the plan has {n} pairs)")
        index %= n
        s = bisect.bisect_right(self.starts, index) - 1
        return s, index - self.starts[s]

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[j] for j in range(*index.indices(len(self)))]
        s, i = self.locate(index)
        return pair_id(self.names[s], i)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        name, _, num = value.rpartition("-")
        if not (num.isascii() and num.isdigit()):
            return False
        i = int(num)
        return pair_id(name, i) == value and i < self._pairs.get(name, 0)


class Plan(Sequence[WorkItem]):
    """Every pair a config asks for, in dataset order, each :class:`WorkItem` made when it is read:
    building a plan costs the same for ten pairs or a million.

    With ``perturbations.balance: quota`` each pair's K is drawn from its seed and the stage's edit
    types are dealt out over its pairs in order by :func:`dig_core.sampling.quota_stream`, so a
    stage's type counts follow the weights (dealt, and kept, as far as the stage is read: reading
    pair i deals its pairs 0..i); ``feasible`` leaves K and types to the edit sampler (a stage with
    ``k_min: 0`` still plans K, so its control pairs are known up front)."""

    def __init__(self, cfg: DictConfig):
        self.quota = cfg.perturbations.get("balance", "quota") == "quota"
        self.weights = {k: float(v) for k, v in cfg.perturbations.weights.items() if v and v > 0}
        self.head = seed_head(cfg)
        # plain values: 100x faster per pair than the node
        self.stages = [SimpleNamespace(**OmegaConf.to_container(node)) for node in cfg.curriculum.stages]
        self.ids = PlanIds([(st.name, st.pairs) for st in self.stages])
        self._dealt: dict[int, _Dealt] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[j] for j in range(*index.indices(len(self)))]
        s, i = self.ids.locate(index)
        st = self.stages[s]
        seed = derive_seed(*self.head, st.name, i)
        k, types = -1, ()
        if self.quota:
            if s not in self._dealt:
                self._dealt[s] = _Dealt(self, st)
            k, types = self._dealt[s].pair(i)
        elif st.k_min == 0:
            k = planned_k(seed, st.k_min, st.k_max)
        return WorkItem(self.ids.starts[s] + i, pair_id(st.name, i), st.name, st.k_min, st.k_max,
                        st.count_in_prompt, seed, k, types)

    def __iter__(self) -> Iterator[WorkItem]:
        return self.iter_from(0)

    def iter_from(self, start: int) -> Iterator[WorkItem]:
        """The items from plan index ``start`` on, each made when the iterator reaches it."""
        return map(self.__getitem__, range(start, len(self)))


class _Dealt:
    """A quota stage's planned K and edit types, dealt pair by pair as far as read."""

    def __init__(self, plan: Plan, st: SimpleNamespace):
        from dig_core.sampling import quota_stream

        self.seed = functools.partial(derive_seed, *plan.head, st.name)
        self.k_range = st.k_min, st.k_max
        self.ks: list[int] = []
        self.types: list[str] = []
        self.bounds = [0]  # where each pair's types start in self.types, then where the last one ends
        self.stream = quota_stream(plan.weights, random.Random(self.seed("types")))

    def pair(self, i: int) -> tuple[int, tuple[str, ...]]:
        while len(self.ks) <= i:
            k = planned_k(self.seed(len(self.ks)), *self.k_range)
            self.ks.append(k)
            self.types.extend(itertools.islice(self.stream, k))
            self.bounds.append(len(self.types))
        return self.ks[i], tuple(self.types[self.bounds[i]:self.bounds[i + 1]])


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
        self.stages = {st.name: st for st in self.cfg.curriculum.stages}
        self.renderer = instantiate(self.cfg, "renderer", "renderer", pm)
        self.renderer.setup(self.vocab, threads)
        #: occlusion costs extra renders: measured (for every pair) only when a stage has a knob on it
        self.occlusion = measures_occlusion(self.cfg.curriculum.stages)
        self.screen = bool(self.cfg.generate.get("screen", True))
        self.steer = bool(self.cfg.generate.get("steer", True)) and self.renderer.PINHOLE

    def judge(self, diffs: list[Any], scene_a: Any, scene_b: Any, ra: RenderResult, rb: RenderResult, stage: Any,
              alone: Any, preview: bool = False) -> tuple[list[Any], list[dict[str, Any]], str | None, Any]:
        """``(labelled diffs, measures, first rule of RULE_ORDER the draw breaks or None, alone masks)``.
        On the final render every rule is decided, from that render's own instance maps and images.
        On a ``preview`` (:meth:`~dig_core.render.Renderer.render_preview`: exact instance maps, a
        rough image) the mask rules are, and contrast only beyond PREVIEW_CONTRAST_SLACK on differences
        of PREVIEW_MIN_AREA pixels or more. ``alone``:
        the edited objects' masks when alone, reused from the preview (measured here when None, for a
        preview only when the stage has an occlusion knob)."""
        diffs, reason = label_masks(diffs, ra, rb, self.validity)
        if reason:
            return diffs, [], reason, alone
        if self.occlusion and alone is None and diffs and (not preview or has_occlusion_knob(stage)):
            alone = alone_masks(diffs, scene_a, scene_b, self.renderer)
            if alone is None:
                raise DigError(f"curriculum: a stage sets min_occlusion/max_occlusion but renderer "
                               f"{self.cfg.renderer.name!r} cannot render an object alone (render_alone), so "
                               f"occlusion cannot be measured; remove those knobs or use the blender renderer")
        occ = occlusion_from_masks(diffs, ra, rb, alone)
        measures = [measure_difference(difference_mask(d, ra, rb), d.box, ra.image, rb.image, o)
                    for d, o in zip(diffs, occ)]
        if preview:
            return diffs, measures, (mask_knob_rejection(measures, stage) or contrast_rejection(
                measures, stage, *PREVIEW_CONTRAST_SLACK, PREVIEW_MIN_AREA)), alone
        return (diffs, measures, knob_rejection(measures, stage)
                or box_change_rejection(diffs, ra, rb, self.validity), alone)

    def draw_edits(self, item: WorkItem, scene_a: Any, k_min: int, k_max: int, ctx: Any, rng: random.Random,
                   max_attempts: int) -> tuple[Any, list[Any]]:
        """Scene B and its differences: the item's planned edit types, else K in [k_min, k_max] by
        weight; A itself for a control pair (K = 0). :class:`SamplingError` when impossible."""
        from dig_core.sampling import sample_edits, sample_typed_edits

        if item.k == 0:  # a control pair: the same spec rendered twice
            return scene_a, []
        if item.types:
            return sample_typed_edits(scene_a, list(item.types), self.perturbations, ctx, rng, max_attempts)
        return sample_edits(scene_a, k_min, k_max, self.weights, self.perturbations, ctx, rng, max_attempts)

    def sketch_rejection(self, diffs: list[Any], scene_a: Any, scene_b: Any, sketch_a: RenderResult,
                         stage: Any) -> str | None:
        """The mask rule a draw breaks on the geometric sketch (:mod:`dig_core.sketch`) of A and B,
        every bound widened by the sketch's slack; None = render it."""
        sketch_b = RenderResult(None, sketch_instances(scene_b, self.vocab))
        visible = max(1, int(self.validity.min_visible_pixels / AREA_SLACK))
        diffs, reason = label_masks(diffs, sketch_a, sketch_b, Validity(visible, 0.0))
        if reason:
            return reason
        alone = None
        if has_occlusion_knob(stage):
            alone = (sketch_alone(scene_a, self.vocab, sorted({d.object_id for d in diffs if d.in_a})),
                     sketch_alone(scene_b, self.vocab, sorted({d.object_id for d in diffs if d.in_b})))
        occ = occlusion_from_masks(diffs, sketch_a, sketch_b, alone)
        measures = [measure_difference(difference_mask(d, sketch_a, sketch_b), d.box, None, None, o)
                    for d, o in zip(diffs, occ)]
        return mask_knob_rejection(measures, stage, AREA_SLACK, DIST_SLACK, OCCLUSION_SLACK)

    def make(self, item: WorkItem) -> PairResult:
        import dataclasses

        from dig_core.sampling import sample_scene

        stage = self.stages[item.stage]
        ctx = self.ctx
        if stage.min_color_distance > 0 or stage.max_color_distance is not None:
            ctx = dataclasses.replace(ctx, extra={**ctx.extra, "color_distance": (
                stage.min_color_distance, stage.max_color_distance)})
        max_attempts = self.cfg.perturbations.max_attempts
        rejected: Counter[str] = Counter(dict.fromkeys(self.renderer.rejection_reasons(), 0))
        edit_error = ""
        k_min, k_max = (item.k, item.k) if item.k > 0 else (item.k_min, item.k_max)
        for attempt in range(self.cfg.validity.max_resamples):
            seed = attempt_seed(item, attempt)
            scene_a = sample_scene(self.cfg.scene, self.vocab, seed)  # an impossible config raises
            try:
                scene_a = self.renderer.prepare_scene(scene_a)  # e.g. physics-settled poses
            except SceneRejected as e:
                rejected[e.reason] += 1
                continue
            rng = random.Random(seed)
            steer = self.steer and item.k != 0 and steers_sampling(stage)
            sketch_a, reason = None, None
            try:
                for _ in range(STEER_DRAWS if steer else 1):
                    scene_b, diffs = self.draw_edits(item, scene_a, k_min, k_max, ctx, rng, max_attempts)
                    if not steer:
                        break
                    sketch_a = sketch_a or RenderResult(None, sketch_instances(scene_a, self.vocab))
                    reason = self.sketch_rejection(diffs, scene_a, scene_b, sketch_a, stage)
                    if not reason:
                        break
            except SamplingError as e:
                rejected["edit"] += 1
                edit_error = str(e)
                continue
            if reason:
                rejected[reason] += 1
                continue
            alone = None
            if self.screen and diffs:  # a control pair has no rule to screen
                pa, pb = self.renderer.render_preview(scene_a), self.renderer.render_preview(scene_b)
                if pa is not None and pb is not None:
                    _, _, reason, alone = self.judge(diffs, scene_a, scene_b, pa, pb, stage, None, preview=True)
                    if reason:
                        rejected[reason] += 1
                        continue
            ra, rb = self.renderer.render_pair(scene_a, scene_b)
            diffs, measures, reason, _ = self.judge(diffs, scene_a, scene_b, ra, rb, stage, alone)
            if reason:
                rejected[reason] += 1
                continue
            record = pair_record(item, scene_a, scene_b, [d.to_dict() for d in diffs], measures, seed, rejected,
                                 (visible_objects(ra), visible_objects(rb)))
            name_a, name_b = record["image_a"], record["image_b"]
            images = {name_a: encode_png(ra.image), name_b: encode_png(rb.image)}
            return PairResult(record, images, dict(rejected), self.renderer.info())
        if rejected["edit"] and rejected["edit"] == sum(rejected.values()):  # no draw got as far as a render: say why
            dealt = (f"edit types {list(item.types)} (dealt by perturbations.balance: quota)" if item.types
                     else f"{k_min} edits" if k_min == k_max else f"{k_min}..{k_max} edits")
            raise SamplingError(
                f"pair {item.id}: none of validity.max_resamples={self.cfg.validity.max_resamples} scenes "
                f"allowed {dealt}; last reason: {edit_error}. Change the scene settings (scene.min_objects / "
                "max_objects), perturbations.weights, or set perturbations.balance: feasible")
        raise SamplingError(
            f"pair {item.id}: no valid pair after validity.max_resamples={self.cfg.validity.max_resamples} "
            f"tries (rejected: {dict(rejected)}); loosen validity.min_visible_pixels / min_box_change, "
            f"the difficulty knobs of stage {item.stage!r} or scene settings"
        )

    def close(self) -> None:
        self.renderer.close()


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
