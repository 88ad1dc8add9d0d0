"""How hard a difference is, measured on the rendered pair (docs/difficulty.md).

Per difference (``measure_difference``), from the two renders and their instance maps:

- ``area``: pixels of the difference's mask (the edited object's visible pixels in A and/or B);
  ``area_share``: that over the image's pixels.
- ``contrast``: mean CIE76 colour difference (ΔE on CIELAB, D65) between I_a and I_b inside the mask.
  A ΔE of about 2 is just noticeable; a gray -> green change on a shaded object is about 40-60.
- ``center_dist``: distance of the box centre to the image centre over the half-diagonal (0 = at the
  centre, 1 = in a corner); ``border_dist``: the box's smallest gap to an image edge over the image's
  shorter side (0 = touching an edge).
- ``occlusion``: 1 - the edited object's visible pixels over the pixels it would cover alone (the
  renderer's :meth:`~dig_core.render.Renderer.render_alone`), in the image(s) where it exists, the
  larger of A and B for an attribute edit; None when not measured (no stage sets an occlusion knob,
  or the renderer cannot render an object alone).

Stage knobs (``curriculum.stages[i]``: ``min_area`` / ``max_area``, ``min_contrast`` /
``max_contrast``, ``location``, ``min_occlusion`` / ``max_occlusion``) reject a rendered pair when any difference falls outside them
(:func:`knob_rejection`); ``min_color_distance`` / ``max_color_distance`` steer the ``color`` edit
before rendering (:func:`color_distance`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

#: ``location`` values of a stage: anywhere, box centre near the image centre, box near an edge
LOCATIONS = ("any", "center", "border")
#: ``location: center`` keeps differences whose ``center_dist`` is at most this
CENTER_MAX_DIST = 0.4
#: ``location: border`` keeps differences whose ``border_dist`` is at most this
BORDER_MAX_DIST = 0.08
#: the measures stored per difference, in this order
MEASURES = ("area", "area_share", "contrast", "center_dist", "border_dist", "occlusion")
#: why a measured pair is rejected by a stage's knobs
KNOB_REASONS = ("area", "contrast", "location", "occlusion")


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB values 0-255, any shape ``(..., 3)``."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124564, 0.3575761, 0.1804375],
                  [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def delta_e(rgb_a: np.ndarray, rgb_b: np.ndarray) -> np.ndarray:
    """CIE76 ΔE between two sRGB arrays (0-255) of the same shape ``(..., 3)``."""
    return np.linalg.norm(srgb_to_lab(rgb_a) - srgb_to_lab(rgb_b), axis=-1)


def color_distance(rgb_a: Sequence[int], rgb_b: Sequence[int]) -> float:
    """The distance of two vocabulary colours: CIE76 ΔE of their sRGB values (0 = identical;
    the default vocabulary's nearest pair, blue and purple, is 26; opposite hues 100 and more)."""
    return _color_distance(tuple(rgb_a), tuple(rgb_b))


@lru_cache(maxsize=4096)
def _color_distance(rgb_a: tuple[int, ...], rgb_b: tuple[int, ...]) -> float:
    # the color edit asks for every pair of vocabulary colours on every draw: computed once each
    return float(delta_e(np.asarray(rgb_a), np.asarray(rgb_b)))


def occlusion_share(visible: np.ndarray, alone: np.ndarray) -> float:
    """1 - visible pixels / pixels the object covers alone (0 = fully visible, 1 = fully hidden);
    0.0 when the object covers no pixel even alone."""
    n_alone = int(alone.sum())
    if n_alone == 0:
        return 0.0
    return round(min(1.0, max(0.0, 1.0 - int((visible & alone).sum()) / n_alone)), 4)


def has_occlusion_knob(stage: Any) -> bool:
    """Whether ``stage`` sets ``min_occlusion`` or ``max_occlusion``."""
    return stage.min_occlusion > 0 or stage.max_occlusion is not None


def measures_occlusion(stages: Sequence[Any]) -> bool:
    """Whether any stage sets an occlusion knob (then every pair of the dataset is measured)."""
    return any(has_occlusion_knob(st) for st in stages)


def measure_difference(mask: np.ndarray, box: Sequence[int] | None, image_a: np.ndarray | None,
                       image_b: np.ndarray | None, occlusion: float | None = None) -> dict[str, float | int | None]:
    """The measures of one difference: ``mask`` its pixels (A ∪ B), ``box`` its box, ``occlusion``
    as measured by the caller (None = not measured). Without images (a screening render, instance
    maps only) ``contrast`` is None: every other measure comes from the mask alone."""
    h, w = mask.shape
    area = int(mask.sum())
    contrast: float | None = None
    if image_a is not None and image_b is not None:
        contrast = round(float(delta_e(image_a[mask], image_b[mask]).mean()) if area else 0.0, 3)
    if box is None:
        center, border = 1.0, 0.0
    else:
        x0, y0, x1, y1 = box
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        center = float(np.hypot(cx - w / 2, cy - h / 2) / np.hypot(w / 2, h / 2))
        border = min(x0, y0, w - x1, h - y1) / min(w, h)
    return {"area": area, "area_share": round(area / (h * w), 6), "contrast": contrast,
            "center_dist": round(center, 4), "border_dist": round(float(border), 4),
            "occlusion": occlusion}


def mask_knob_rejection(measures: Sequence[dict[str, Any]], stage: Any, area_slack: float = 1.0,
                        dist_slack: float = 0.0, occlusion_slack: float = 0.0) -> str | None:
    """The first of the knobs decided on masks alone (``area``, ``location``, ``occlusion``) a
    difference violates under ``stage``, or None (an unmeasured occlusion passes). The slacks widen
    every bound (area by a factor, distances and occlusion by an amount) for the sampling sketch
    (:mod:`dig_core.sketch`); a rendered pair is judged without them."""
    for m in measures:
        if not (stage.min_area / area_slack <= m["area_share"] <= stage.max_area * area_slack):
            return "area"
    for m in measures:
        if stage.location == "center" and m["center_dist"] > CENTER_MAX_DIST + dist_slack:
            return "location"
        if stage.location == "border" and m["border_dist"] > BORDER_MAX_DIST + dist_slack:
            return "location"
    for m in measures:
        occ = m.get("occlusion")
        if occ is not None and (occ < stage.min_occlusion - occlusion_slack
                                or (stage.max_occlusion is not None and occ > stage.max_occlusion + occlusion_slack)):
            return "occlusion"
    return None


def steers_sampling(stage: Any) -> bool:
    """Whether ``stage`` sets a knob the sampling sketch can steer (area, location, occlusion)."""
    return stage.min_area > 0 or stage.max_area < 1 or stage.location != "any" or has_occlusion_knob(stage)


#: a preview's contrast (1 sample, no denoising, same seed for A and B) minus the final render's, in
#: ΔE: 1st-99th percentile -4.3 to +10.5 over 45 differences of 25 sampled 1-3-edit pairs at 240x160
#: (noise adds to ΔE); a preview rejects only beyond these margins (benchmarks/render.py, part 5)
PREVIEW_CONTRAST_SLACK = (6.0, 12.0)
#: ... and only for a difference of at least this many pixels: at 1 sample an edge pixel shows one
#: surface instead of a blend, which dominates a small mask's contrast
PREVIEW_MIN_AREA = 100


def contrast_rejection(measures: Sequence[dict[str, Any]], stage: Any, below: float = 0.0,
                       above: float = 0.0, min_area: int = 0) -> str | None:
    """``"contrast"`` when a difference's contrast is below ``stage.min_contrast - below`` or above
    ``stage.max_contrast + above``, else None (also when contrast is not measured, None, or the
    difference has fewer than ``min_area`` pixels)."""
    for m in measures:
        c = m["contrast"]
        if c is not None and m["area"] >= min_area and (c < stage.min_contrast - below
                              or (stage.max_contrast is not None and c > stage.max_contrast + above)):
            return "contrast"
    return None


def knob_rejection(measures: Sequence[dict[str, Any]], stage: Any) -> str | None:
    """The first of :data:`KNOB_REASONS` a difference of the pair violates under ``stage``'s knobs,
    or None when every difference is within them (a K=0 pair always is): the mask knobs first
    (:func:`mask_knob_rejection`), then contrast (:func:`contrast_rejection`)."""
    return mask_knob_rejection(measures, stage) or contrast_rejection(measures, stage)


def stage_knob_errors(st: Any, where: str) -> list[str]:
    """Config problems of a stage's difficulty knobs (for :func:`dig_core.config.semantic_errors`)."""
    errors = []
    if not (0.0 <= st.min_area <= st.max_area <= 1.0):
        errors.append(f"{where}: need 0 <= min_area <= max_area <= 1 (shares of the image), "
                      f"got min_area={st.min_area}, max_area={st.max_area}")
    if st.min_contrast < 0 or (st.max_contrast is not None and st.max_contrast < st.min_contrast):
        errors.append(f"{where}: need 0 <= min_contrast <= max_contrast (CIE ΔE), "
                      f"got min_contrast={st.min_contrast}, max_contrast={st.max_contrast}")
    if st.min_color_distance < 0 or (st.max_color_distance is not None
                                     and st.max_color_distance < st.min_color_distance):
        errors.append(f"{where}: need 0 <= min_color_distance <= max_color_distance (CIE ΔE), "
                      f"got min_color_distance={st.min_color_distance}, max_color_distance={st.max_color_distance}")
    if not (0.0 <= st.min_occlusion <= 1.0) or (st.max_occlusion is not None
                                                 and not st.min_occlusion <= st.max_occlusion <= 1.0):
        errors.append(f"{where}: need 0 <= min_occlusion <= max_occlusion <= 1 (shares of the object), "
                      f"got min_occlusion={st.min_occlusion}, max_occlusion={st.max_occlusion}")
    if st.location not in LOCATIONS:
        errors.append(f"{where}: location {st.location!r} is not one of {list(LOCATIONS)}")
    return errors


# -- filters (`dig show --where`, `dig audit --where`) ------------------------------------------------
_OPS = {"<=": float.__le__, ">=": float.__ge__, "!=": float.__ne__, "==": float.__eq__, "<": float.__lt__,
        ">": float.__gt__, "=": float.__eq__}
#: keys a ``--where`` condition may use: every measure, and ``k`` (the pair's number of differences)
WHERE_KEYS = (*MEASURES, "k")


def parse_where(conditions: Sequence[str]) -> list[tuple[str, str, float]]:
    """``["area<400", "contrast>=10"]`` -> ``[(key, op, value), ...]``; :class:`DigError` naming
    the condition and what is allowed otherwise."""
    from dig_core.errors import DigError

    out = []
    for text in conditions:
        for op in _OPS:  # two-character operators first
            key, sep, value = text.partition(op)
            if sep:
                break
        key = key.strip()
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or key not in WHERE_KEYS or number is None:
            raise DigError(f"--where {text!r}: expected KEY OP NUMBER with KEY one of {list(WHERE_KEYS)} and "
                           f"OP one of {sorted(_OPS)}, e.g. 'area<400'")
        out.append((key, op, number))
    return out


def pair_matches(rec: dict[str, Any], conditions: Sequence[tuple[str, str, float]]) -> bool:
    """True when ``k`` conditions hold for the pair and one of its differences meets every measure
    condition (a pair without measures, or with no difference, matches only ``k`` conditions; a
    measure that was not measured, e.g. ``occlusion`` None, meets no condition)."""
    pair = [c for c in conditions if c[0] == "k"]
    diff = [c for c in conditions if c[0] != "k"]
    if not all(_OPS[op](float(len(rec["boxes"])), v) for _, op, v in pair):
        return False
    if not diff:
        return True
    return any(all(m.get(key) is not None and _OPS[op](float(m[key]), v) for key, op, v in diff)
               for m in rec.get("measures") or [])
