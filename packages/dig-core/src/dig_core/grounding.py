"""Single-image grounding samples derived from DiG pairs: "box the small red metal cube".

What a pretrained VLM brings to the paper's study - reading where a described object is and writing
its box - a model trained from scratch has to learn first (the DiG-nano base-model stage,
docs/training.md). The samples come from the same renders and the same exact instance maps: a pair
record keeps every object's visible box in each image (``visible_a`` / ``visible_b``,
:func:`dig_core.render.visible_objects`), so every object of a scene is a sample -

* in I_a, each object with at least ``min_pixels`` visible pixels;
* in I_b, each such object whose description or box differs from its I_a sample (an edited, added
  or newly uncovered object; an unchanged one would repeat its I_a sample).

A description names size, color, material and shape; an object whose description another object of
the same scene shares is skipped (the answer would be ambiguous). Records without ``visible_*``
(datasets made before DiG recorded them) give no samples: regenerate them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dig_core.task import COORD_HINTS, GROUNDING_PROMPT

__all__ = ["ATTRIBUTES", "GROUNDING_PROMPT", "MIN_PIXELS", "GroundingSample", "describe", "grounding_answer",
           "grounding_prompt", "grounding_samples"]

ATTRIBUTES = ("size", "color", "material", "shape")
#: fewer visible pixels than this: too little of the object shows to ask for it (validity's default)
MIN_PIXELS = 100


@dataclass(frozen=True)
class GroundingSample:
    #: ``<pair id>/<a|b>/<object id>``
    id: str
    pair_id: str
    stage: str
    #: the dataset record's image key (``image_a`` / ``image_b``)
    image_key: str
    description: str
    box: tuple[float, float, float, float]
    width: int
    height: int


def describe(obj: Mapping[str, Any]) -> str:
    """``small red metal cube``: every attribute of an object spec, in :data:`ATTRIBUTES` order."""
    return " ".join(str(obj[k]) for k in ATTRIBUTES)


def grounding_samples(records: Iterable[Mapping[str, Any]], min_pixels: int = MIN_PIXELS) -> list[GroundingSample]:
    """The grounding samples of DiG dataset records (``metadata.jsonl`` lines), in record order,
    I_a's objects before I_b's, each image's in object id order."""
    out: list[GroundingSample] = []
    for rec in records:
        in_a: dict[Any, tuple[str, tuple[float, ...]]] = {}
        for which in ("a", "b"):
            objects = [o for o in (rec.get(f"scene_{which}") or {}).get("objects") or []
                       if all(k in o for k in ATTRIBUTES)]
            texts = [describe(o) for o in objects]
            by_id = {o.get("id"): text for o, text in zip(objects, texts) if texts.count(text) == 1}
            for vis in rec.get(f"visible_{which}") or []:
                oid, box = vis.get("id"), vis.get("box")
                if oid not in by_id or box is None or int(vis.get("pixels", 0)) < min_pixels:
                    continue
                sample = (by_id[oid], tuple(float(v) for v in box))
                if which == "a":
                    in_a[oid] = sample
                elif in_a.get(oid) == sample:
                    continue
                out.append(GroundingSample(f"{rec['id']}/{which}/{oid}", str(rec["id"]), str(rec["stage"]),
                                           f"image_{which}", sample[0], sample[1], int(rec["width"]),
                                           int(rec["height"])))
    return out


def grounding_prompt(task: Any, description: str, width: int, height: int) -> str:
    """The prompt of a grounding sample in ``task``'s coordinate convention (image size ``width``
    x ``height`` as the model sees it): the task's ``grounding_template`` (a task without one:
    :data:`~dig_core.task.GROUNDING_PROMPT`)."""
    coords = COORD_HINTS[task.config.coords].format(width=width, height=height)
    template = getattr(task.config, "grounding_template", GROUNDING_PROMPT)
    return template.format(expression=description, coords=coords)


def grounding_answer(task: Any, box: Any, width: float, height: float) -> str:
    """The exact answer: one box ``[x0, y0, x1, y1]`` in ``task``'s coordinates (``box`` in pixels
    of a ``width`` x ``height`` image)."""
    return task.format_boxes([box], width, height)[1:-1]
