"""Single-image grounding samples derived from DiG pairs: "box the small red metal cube".

What a pretrained VLM brings to the paper's study - reading where a described object is and writing
its box - a model trained from scratch has to learn first (the DiG-nano base-model stage,
docs/training.md). The samples come from the same renders and the same exact instance-map boxes:
a pair's difference box is exactly one object's visible box in one image when

* the edit is ``color`` or ``material`` (same geometry): the object before the edit in I_a and
  after it in I_b;
* the edit is ``remove``: the object in I_a; ``add``: the object in I_b;

and the pair has one difference (with several, another edit can change what is visible of it).
``shape`` and ``size`` edits are skipped: their box covers both versions. A description names
size, color, material and shape; an object whose description another object of the same image
shares is skipped (the answer would be ambiguous).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: the prompt of a grounding sample ({expression}: the description, {coords}: the coordinate hint);
#: the ``refcoco`` evaluator's prompt too, so a model trained on these samples is asked what it learnt
GROUNDING_PROMPT = ('Locate the object described by "{expression}" in the image and give its bounding box. '
                    "{coords} Answer with exactly one box in the form [x0, y0, x1, y1].")
ATTRIBUTES = ("size", "color", "material", "shape")
#: image of the pair ("a" = I_a, "b" = I_b) where each edit type's object has its exact box
IMAGES = {"color": ("a", "b"), "material": ("a", "b"), "remove": ("a",), "add": ("b",)}


@dataclass(frozen=True)
class GroundingSample:
    #: ``<pair id>/<a|b>``
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


def _scene_object(rec: Mapping[str, Any], which: str, object_id: Any) -> Mapping[str, Any] | None:
    for obj in (rec.get(f"scene_{which}") or {}).get("objects") or []:
        if obj.get("id") == object_id:
            return obj
    return None


def grounding_samples(records: Iterable[Mapping[str, Any]]) -> list[GroundingSample]:
    """The grounding samples of DiG dataset records (``metadata.jsonl`` lines), in record order."""
    out: list[GroundingSample] = []
    for rec in records:
        diffs = rec.get("differences") or []
        if len(diffs) != 1:
            continue
        d = diffs[0]
        for which in IMAGES.get(d.get("type"), ()):
            obj = _scene_object(rec, which, d.get("object_id"))
            if obj is None or not all(k in obj for k in ATTRIBUTES):
                continue
            text = describe(obj)
            others = [describe(o) for o in (rec.get(f"scene_{which}") or {}).get("objects") or []
                      if o.get("id") != obj.get("id") and all(k in o for k in ATTRIBUTES)]
            if text in others:
                continue
            box = tuple(float(v) for v in d["box"])
            out.append(GroundingSample(f"{rec['id']}/{which}", str(rec["id"]), str(rec["stage"]),
                                       f"image_{which}", text, box, int(rec["width"]), int(rec["height"])))
    return out


def grounding_prompt(task: Any, description: str, width: int, height: int) -> str:
    """The prompt of a grounding sample in ``task``'s coordinate convention (image size ``width``
    x ``height`` as the model sees it)."""
    from dig_core.task import COORD_HINTS

    coords = COORD_HINTS[task.config.coords].format(width=width, height=height)
    return GROUNDING_PROMPT.format(expression=description, coords=coords)


def grounding_answer(task: Any, box: Any, width: float, height: float) -> str:
    """The exact answer: one box ``[x0, y0, x1, y1]`` in ``task``'s coordinates (``box`` in pixels
    of a ``width`` x ``height`` image)."""
    return task.format_boxes([box], width, height)[1:-1]
