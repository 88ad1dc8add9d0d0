"""The ``label`` of a training prompt: everything the reward needs for one image pair. Every trainer
plugin uses it (``dig-train-openrlhf`` exports it, ``dig-train-trl`` puts it in a dataset column).

It travels as a compact JSON *string* (OpenRLHF's ``PromptDataset`` hands ``data[label_key]`` to
``reward_func`` unchanged; a string also survives the Arrow round trip of ``datasets``, where a
dict would become a struct with every row's keys)::

    {"v": 1, "id": "dig-1-000003", "stage": "dig-1", "k": 1,
     "boxes": [[x0, y0, x1, y1], ...],           # ground truth, original-image pixels
     "width": 480, "height": 320,                 # original image size
     "coords": "pixels" | "rel1000" | "rel1",     # how the model answers
     "scale": [sx, sy] | null}                    # model input / original size (pixels only)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from dig_core.task import COORDS

LABEL_VERSION = 1


@dataclass(frozen=True, slots=True)
class Label:
    id: str
    stage: str
    k: int
    boxes: tuple[tuple[float, float, float, float], ...]
    width: float
    height: float
    coords: str
    scale: tuple[float, float] | None

    def to_json(self) -> str:
        return json.dumps(
            {"v": LABEL_VERSION, "id": self.id, "stage": self.stage, "k": self.k,
             "boxes": [list(b) for b in self.boxes], "width": self.width, "height": self.height,
             "coords": self.coords, "scale": None if self.scale is None else list(self.scale)},
            separators=(",", ":"), allow_nan=False,
        )


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse_label(raw: Any) -> Label:
    """A :class:`Label` from its JSON string (or the decoded dict); ``ValueError`` naming the
    problem for anything else."""
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise ValueError(f"label is not JSON ({e}): {raw[:80]!r}") from None
    else:
        data = raw
    if not isinstance(data, dict):
        raise ValueError(f"label must be a JSON object, got {type(data).__name__}: {str(raw)[:80]!r}")
    missing = [k for k in ("id", "boxes", "width", "height", "coords") if k not in data]
    if missing:
        raise ValueError(f"label lacks key(s) {missing}")
    pid, stage, coords = data["id"], data.get("stage"), data["coords"]
    if not isinstance(pid, str):
        raise ValueError(f"label id must be a string, got {pid!r}")
    if stage is not None and not isinstance(stage, str):
        raise ValueError(f"label {pid!r}: stage must be a string, got {stage!r}")
    if coords not in COORDS:
        raise ValueError(f"label {pid!r}: coords {coords!r} not one of {list(COORDS)}")
    w, h = data["width"], data["height"]
    if not (_number(w) and _number(h) and w > 0 and h > 0):
        raise ValueError(f"label {pid!r}: width/height must be positive numbers, got {w!r}x{h!r}")
    boxes = data["boxes"]
    if not isinstance(boxes, list) or not all(
            isinstance(b, list) and len(b) == 4 and all(_number(v) for v in b) and b[0] < b[2] and b[1] < b[3]
            for b in boxes):
        raise ValueError(f"label {pid!r}: boxes must be a list of [x0, y0, x1, y1] with x0 < x1, y0 < y1, "
                         f"got {str(boxes)[:80]}")
    scale = data.get("scale")
    if scale is not None:
        if _number(scale):
            scale = [scale, scale]
        if not (isinstance(scale, list) and len(scale) == 2 and all(_number(v) and v > 0 for v in scale)):
            raise ValueError(f"label {pid!r}: scale must be null, a positive number or [sx, sy], got {scale!r}")
        scale = (float(scale[0]), float(scale[1]))
    k = data.get("k", len(boxes))
    if not (isinstance(k, int) and not isinstance(k, bool)):
        raise ValueError(f"label {pid!r}: k must be an integer, got {k!r}")
    return Label(pid, stage or "", k, tuple(tuple(float(v) for v in b) for b in boxes), float(w), float(h),
                 coords, scale)
