"""``dig show-predictions``: predicted vs ground-truth boxes on DiG pairs (paper Fig. 4); one row
per pair, one column per run (checkpoint), each cell I_a | I_b."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dig_core.dataset import atomic_write_bytes, read_annotations, refuse_output_in_dataset
from dig_core.errors import DigError
from dig_core.pairs import encode_png, load_pair
from dig_core.visualize import type_color

from dig_eval.run import SCORES

GT_COLOR = (64, 255, 64)
PRED_COLOR = (255, 48, 48)
CAPTION = 16
GAP = 6


def read_scores(run: str | Path, benchmark: str) -> dict[str, dict[str, Any]]:
    """``{id: record}`` of ``RUN/<benchmark>/scores.jsonl`` (predicted boxes in original pixels)."""
    path = Path(run) / benchmark / SCORES
    if not path.is_file():
        raise DigError(f"{path}: not found (is {run} a dig eval run with benchmark {benchmark!r}?)")
    out: dict[str, dict[str, Any]] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rec = json.loads(line)
                if not rec.get("missing"):  # no answer (scored as wrong): nothing to draw
                    out[rec["id"]] = rec
            except (json.JSONDecodeError, KeyError, TypeError):
                raise DigError(f"{path}:{lineno}: corrupt score line") from None
    return out


def _cell(a, b, rec: dict[str, Any], score: dict[str, Any] | None, title: str):
    from PIL import Image, ImageDraw

    h, w = a.shape[:2]
    img = Image.new("RGB", (2 * w + GAP, h + CAPTION), (24, 24, 24))
    img.paste(Image.fromarray(a), (0, CAPTION))
    img.paste(Image.fromarray(b), (w + GAP, CAPTION))
    d = ImageDraw.Draw(img)
    for diff in rec["differences"]:
        x0, y0, x1, y1 = diff["box"]
        for off in (0, w + GAP):
            d.rectangle([x0 + off, y0 + CAPTION, x1 - 1 + off, y1 - 1 + CAPTION], outline=GT_COLOR, width=1)
            d.text((x0 + off + 2, y1 + CAPTION - 11), diff["type"], fill=type_color(diff["type"]))
    if score is None:
        d.text((4, 2), f"{title}: no prediction", fill=(230, 230, 230))
        return img
    for x0, y0, x1, y1 in score.get("pred", []):
        for off in (0, w + GAP):
            d.rectangle([x0 + off, y0 + CAPTION, max(x0, x1 - 1) + off, max(y0, y1 - 1) + CAPTION],
                        outline=PRED_COLOR, width=2)
    d.text((4, 2), f"{title}: F1 {score.get('f1', 0):.2f}  mIoU {score.get('miou', 0):.2f}  "
                   f"{score.get('n_pred', 0)} box(es)", fill=(230, 230, 230))
    return img


def prediction_sheet(runs: Sequence[str | Path], dataset: str | Path, out: str | Path, n: int = 8,
                     ids: Sequence[str] | None = None, benchmark: str = "dig") -> int:
    """Write the sheet to ``out`` (atomically); return the number of rows (pairs)."""
    import numpy as np
    from PIL import Image, ImageDraw

    if not runs:
        raise DigError("show-predictions needs at least one run folder")
    refuse_output_in_dataset(out, dataset)
    scores = [read_scores(r, benchmark) for r in runs]
    records = {rec["id"]: rec for rec in read_annotations(dataset)}
    if ids:
        missing = [i for i in ids if i not in records]
        if missing:
            raise DigError(f"no pair with id {', '.join(missing)} in {dataset}")
        chosen = list(ids)
    else:
        predicted = [i for i in records if any(i in s for s in scores)]
        if not predicted:
            raise DigError(f"none of the runs has predictions for a pair of {dataset} (benchmark {benchmark!r})")
        chosen = predicted[: max(n, 1)]
    titles = [Path(r).name or str(r) for r in runs]
    rows = []
    for pid in chosen:
        rec = records[pid]
        a, b = load_pair(dataset, rec)
        cells = [_cell(a, b, rec, s.get(pid), t) for s, t in zip(scores, titles)]
        row = Image.new("RGB", (sum(c.width for c in cells) + 12 * (len(cells) - 1), cells[0].height + CAPTION),
                        (0, 0, 0))
        kinds = ", ".join(d["type"] for d in rec["differences"])
        ImageDraw.Draw(row).text((4, 2), f"{pid}  K={len(rec['differences'])}: {kinds}", fill=(255, 255, 255))
        x = 0
        for c in cells:
            row.paste(c, (x, CAPTION))
            x += c.width + 12
        rows.append(row)
    legend_h = 18
    width = max(r.width for r in rows)
    sheet = Image.new("RGB", (width, legend_h + sum(r.height for r in rows) + 4 * (len(rows) - 1)), (0, 0, 0))
    d = ImageDraw.Draw(sheet)
    d.rectangle([4, 4, 14, 14], outline=GT_COLOR, width=2)
    d.text((18, 3), "ground truth", fill=GT_COLOR)
    d.rectangle([110, 4, 120, 14], outline=PRED_COLOR, width=2)
    d.text((124, 3), "prediction", fill=PRED_COLOR)
    y = legend_h
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + 4
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, encode_png(np.asarray(sheet)))
    return len(rows)
