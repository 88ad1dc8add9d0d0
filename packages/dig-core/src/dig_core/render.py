"""Renderer interface, and what core does with every renderer's output: masks -> boxes, validity.

A renderer plugin returns, per scene, an RGB image and an **instance map**: an integer array of the
image's shape whose value is ``object_id + 1`` where that object is the visible surface and 0 for
background. Core (not each renderer) turns instance maps into difference boxes and decides whether
a pair is valid, so every renderer labels the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from dig_core.perturbations.base import Difference
from dig_core.plugins.base import Plugin
from dig_core.spec import SceneSpec, Vocabulary


@dataclass
class RenderResult:
    #: (H, W, 3) uint8 RGB; may be None in a preview (:meth:`Renderer.render_preview`)
    image: np.ndarray | None
    instances: np.ndarray  # (H, W) int32: object_id + 1 of the visible object, 0 = background

    def mask(self, object_id: int) -> np.ndarray:
        return self.instances == (object_id + 1)


class SceneRejected(Exception):
    """Raised by :meth:`Renderer.prepare_scene` when a sampled scene cannot be used; generation
    counts ``reason`` (a short key, one of the renderer's :meth:`Renderer.rejection_reasons`) and
    draws another scene."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class Renderer(Plugin):
    """Base class of renderer plugins.

    Lifetime: one instance per worker process; :meth:`render_pair` is called for many pairs, so
    keep loaded state (a Blender scene) between calls. :meth:`close` is called when the worker ends.
    """

    #: True when the renderer shows ``scene.camera`` as the pinhole of :mod:`dig_core.sketch` (Blender's
    #: camera: horizontal sensor fit, up = +z) and the vocabulary's shapes as unit sphere / cylinder /
    #: cube meshes: ``dig generate`` may then steer sampling with the sketch (blender, kubric)
    PINHOLE: ClassVar[bool] = False

    def setup(self, vocab: Vocabulary, threads: int) -> None:
        """Called once per worker before rendering: the scene vocabulary (colors/sizes) and the CPU
        threads this worker may use."""

    def prepare_scene(self, scene: SceneSpec) -> SceneSpec:
        """Called on every sampled scene A before its edits are drawn: return the scene as this
        renderer will show it (e.g. physics-settled poses; B is then edited from it), or raise
        :class:`SceneRejected`. Default: ``scene`` unchanged."""
        return scene

    def rejection_reasons(self) -> tuple[str, ...]:
        """The reasons :meth:`prepare_scene` may raise (recorded with 0 counts on every pair)."""
        return ()

    def render(self, scene: SceneSpec) -> RenderResult:
        raise NotImplementedError(f"{type(self).__name__} must implement render()")

    def render_pair(self, scene_a: SceneSpec, scene_b: SceneSpec) -> tuple[RenderResult, RenderResult]:
        """Render both scenes. Override to reuse what rendering ``scene_a`` loaded."""
        return self.render(scene_a), self.render(scene_b)

    def render_preview(self, scene: SceneSpec) -> RenderResult | None:
        """A cheap render of ``scene``: the instance map :meth:`render` would return, pixel for pixel,
        and a rough image (e.g. 1 sample, no denoising; None if there is none). ``dig generate``
        screens every candidate pair with it: a candidate that breaks a rule decided on masks, or
        whose preview contrast is far outside a stage's bounds, is never rendered in full. None =
        this renderer cannot (every candidate is rendered in full)."""
        return None

    def render_alone(self, scene: SceneSpec, object_ids: list[int]) -> dict[int, np.ndarray] | None:
        """For each of ``object_ids``: the boolean mask of the pixels that object covers in ``scene``
        when it is the only object (same camera and resolution; no image needed, so render it as
        cheaply as possible). None = this renderer cannot (occlusion is then not measured)."""
        return None

    def worker_plan(self) -> tuple[int, str]:
        """Asked once by ``dig generate`` before workers start: the number of workers this renderer
        wants when ``generate.workers`` is 0 (e.g. one per GPU; 0 = choose from the CPU count) and a
        short device label for the progress line ("" = none)."""
        return 0, ""

    def info(self) -> dict[str, Any]:
        """Versions and settings recorded in the dataset manifest."""
        return {"name": self.PLUGIN_NAME}

    def close(self) -> None:
        pass


def mask_box(mask: np.ndarray) -> list[int] | None:
    """Tight pixel box ``[x0, y0, x1, y1]`` (x1/y1 exclusive) of a boolean mask, or None if empty."""
    ys = np.flatnonzero(mask.any(axis=1))
    if ys.size == 0:
        return None
    xs = np.flatnonzero(mask.any(axis=0))
    return [int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1]


def visible_objects(result: RenderResult) -> list[dict[str, Any]]:
    """Every object visible in a render, in id order: ``{"id", "box", "pixels"}`` with its tight
    pixel box (:func:`mask_box`) and its number of visible pixels, from the instance map. A pair
    record keeps them per image (``visible_a`` / ``visible_b``): exact single-object boxes, e.g.
    for :mod:`dig_core.grounding`."""
    values, counts = np.unique(result.instances, return_counts=True)
    return [{"id": int(v) - 1, "box": mask_box(result.mask(int(v) - 1)), "pixels": int(c)}
            for v, c in zip(values, counts) if v > 0]


def difference_mask(diff: Difference, a: RenderResult, b: RenderResult) -> np.ndarray:
    """Union of the edited object's visible pixels in A (if it exists there) and B (if it does)."""
    m = np.zeros(a.instances.shape, dtype=bool)
    if diff.in_a:
        m |= a.mask(diff.object_id)
    if diff.in_b:
        m |= b.mask(diff.object_id)
    return m


def alone_masks(diffs: list[Difference], scene_a: SceneSpec, scene_b: SceneSpec,
                renderer: Renderer) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]] | None:
    """Each edited object's mask when alone (:meth:`Renderer.render_alone`), in A for those that
    exist in A and in B for those in B: one call per image; None if the renderer cannot."""
    ids_a = sorted({d.object_id for d in diffs if d.in_a})
    ids_b = sorted({d.object_id for d in diffs if d.in_b})
    alone_a = renderer.render_alone(scene_a, ids_a) if ids_a else {}
    alone_b = renderer.render_alone(scene_b, ids_b) if ids_b else {}
    if alone_a is None or alone_b is None:
        return None
    return alone_a, alone_b


def occlusion_from_masks(diffs: list[Difference], a: RenderResult, b: RenderResult,
                         alone: tuple[dict[int, np.ndarray], dict[int, np.ndarray]] | None) -> list[float | None]:
    """Per difference, the occluded share of the edited object (:func:`dig_core.difficulty.occlusion_share`)
    in the image where it exists: B for an add, A for a remove, the larger of A and B for an
    attribute edit; ``alone`` from :func:`alone_masks` (all None when it is None)."""
    from dig_core.difficulty import occlusion_share

    if alone is None:
        return [None] * len(diffs)
    alone_a, alone_b = alone
    out: list[float | None] = []
    for d in diffs:
        shares = [occlusion_share(res.mask(d.object_id), masks[d.object_id])
                  for present, res, masks in ((d.in_a, a, alone_a), (d.in_b, b, alone_b)) if present]
        out.append(max(shares) if shares else None)
    return out


def difference_occlusion(diffs: list[Difference], scene_a: SceneSpec, scene_b: SceneSpec, a: RenderResult,
                         b: RenderResult, renderer: Renderer) -> list[float | None]:
    """:func:`occlusion_from_masks` with the masks :func:`alone_masks` renders."""
    return occlusion_from_masks(diffs, a, b, alone_masks(diffs, scene_a, scene_b, renderer))


@dataclass
class Validity:
    """Thresholds a rendered pair must pass (``validity`` config section)."""

    min_visible_pixels: int = 100
    min_box_change: float = 8.0  # mean |I_a - I_b| inside a box, 0-255 scale, averaged over channels


def label_masks(
    diffs: list[Difference], a: RenderResult, b: RenderResult, validity: Validity
) -> tuple[list[Difference], str | None]:
    """Fill every difference's ``box`` from the instance maps alone; ``(diffs, "not_visible")`` when
    an edited object shows fewer than ``min_visible_pixels`` where it exists (or nowhere), else
    ``(diffs, None)``. Works on screening results (no image)."""
    out: list[Difference] = []
    reason: str | None = None
    for d in diffs:
        for present, res in ((d.in_a, a), (d.in_b, b)):
            if present and int(res.mask(d.object_id).sum()) < validity.min_visible_pixels:
                reason = "not_visible"
        box = mask_box(difference_mask(d, a, b))
        out.append(Difference(d.type, d.object_id, d.before, d.after, box))
        if box is None:
            reason = "not_visible"
    return out, reason


def box_change_rejection(diffs: list[Difference], a: RenderResult, b: RenderResult, validity: Validity) -> str | None:
    """``"no_change"`` when the mean |I_a - I_b| inside a labelled box is under ``min_box_change``
    (needs the images), else None."""
    diff_img = np.abs(a.image.astype(np.int16) - b.image.astype(np.int16)).mean(axis=2)
    for d in diffs:
        x0, y0, x1, y1 = d.box
        if float(diff_img[y0:y1, x0:x1].mean()) < validity.min_box_change:
            return "no_change"
    return None


def label_pair(
    diffs: list[Difference], a: RenderResult, b: RenderResult, validity: Validity
) -> tuple[list[Difference], str | None]:
    """Fill every difference's ``box``; return ``(diffs, None)`` if the pair is valid, else
    ``(diffs, reason)`` where reason is a short key for reports: ``not_visible`` (decided on the
    instance maps, :func:`label_masks`) before ``no_change`` (on the images, :func:`box_change_rejection`)."""
    out, reason = label_masks(diffs, a, b, validity)
    return out, reason or box_change_rejection(out, a, b, validity)
