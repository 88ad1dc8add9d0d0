"""The ``color`` perturbation: change an object's color to another color of the vocabulary.

The new color differs visibly: a vocabulary color with the same RGB as the old one is never picked
(such an edit would change nothing), and when the edit context's ``extra["color_distance"]`` is
``(lo, hi)`` (a stage's ``min_color_distance`` / ``max_color_distance``; ``hi`` may be None) only
colors at a CIE ΔE in ``[lo, hi]`` from the old one are (see :func:`dig_core.difficulty.color_distance`).
"""

from __future__ import annotations

from dig_core.difficulty import color_distance
from dig_core.perturbations.attribute import AttributeChange
from dig_core.perturbations.base import EditContext
from dig_core.spec import ObjectSpec


class ColorChange(AttributeChange):
    PLUGIN_NAME = "color"
    ATTRIBUTE = "color"

    def candidates(self, obj: ObjectSpec, ctx: EditContext) -> list[str]:
        colors = ctx.vocab.colors
        lo, hi = ctx.extra.get("color_distance") or (0.0, None)
        out = []
        for name in super().candidates(obj, ctx):
            d = color_distance(colors[obj.color], colors[name]) if obj.color in colors else float("inf")
            if d > 0 and d >= lo and (hi is None or d <= hi):
                out.append(name)
        return out
