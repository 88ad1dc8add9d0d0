"""Checking labels against pixels: how much each box's content changed, and how much of all pixel
change between I_a and I_b falls inside the boxes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dig_core.data.pairs import load_pair


@dataclass
class PairAudit:
    id: str
    box_change: list[float]  # mean |I_a - I_b| (0-255) inside each GT box
    inside_share: float  # share of total |I_a - I_b| inside the union of the boxes (1.0 if no change)
    changed_pixels: int  # pixels whose mean channel change exceeds the noise threshold
    reasons: list[str]

    @property
    def suspicious(self) -> bool:
        return bool(self.reasons)


def audit_pair(root: str | Path, rec: dict[str, Any], min_box_change: float = 8.0,
               min_inside_share: float = 0.5, noise: float = 4.0) -> PairAudit:
    a, b = load_pair(root, rec)
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(axis=2)
    diff = np.where(diff > noise, diff, 0.0)  # renderer noise is not change
    inside = np.zeros(diff.shape, dtype=bool)
    box_change = []
    for x0, y0, x1, y1 in rec["boxes"]:
        inside[y0:y1, x0:x1] = True
        region = diff[y0:y1, x0:x1]
        box_change.append(round(float(region.mean()) if region.size else 0.0, 2))
    total = float(diff.sum())
    share = float(diff[inside].sum()) / total if total > 0 else 1.0
    reasons = [f"box {i} changed only {c:.1f} < {min_box_change}" for i, c in enumerate(box_change) if c < min_box_change]
    if share < min_inside_share:
        reasons.append(f"only {share:.0%} of pixel change is inside the boxes (< {min_inside_share:.0%})")
    return PairAudit(rec["id"], box_change, round(share, 4), int((diff > 0).sum()), reasons)


def audit_dataset(root: str | Path, records, **kw: Any) -> Iterator[PairAudit]:
    for rec in records:
        yield audit_pair(root, rec, **kw)
