"""One pair, worker side: :class:`PairMaker` builds its renderer once, then turns each work item into a
valid, labelled pair (draw scene and edits, steer them on a geometric sketch, screen them on a
1-sample preview, render, label, judge; resample when a rule rejects the draw)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from omegaconf import OmegaConf

from dig_core.config import DigConfig, instantiate
from dig_core.data.dataset import image_names
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
from dig_core.errors import DigError, SamplingError
from dig_core.generate.planning import WorkItem, attempt_seed
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


@dataclass
class PairResult:
    record: dict[str, Any]
    images: dict[str, bytes]
    rejected: dict[str, int] = field(default_factory=dict)
    renderer_info: dict[str, Any] = field(default_factory=dict)


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
