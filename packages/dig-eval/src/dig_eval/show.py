"""``dig show-predictions``: predicted vs ground-truth boxes on DiG pairs (paper Fig. 4); one row
per pair, one column per run (checkpoint), each cell I_a | I_b."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dig_core.data.dataset import read_annotations, refuse_output_in_dataset
from dig_core.data.pairs import load_pair
from dig_core.errors import DigError
from dig_core.visualize import CAPTION, PairCanvas, pair_caption, stack_rows, type_color, write_png

from dig_eval.run import SCORES

GT_COLOR = (64, 255, 64)
PRED_COLOR = (255, 48, 48)


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
    canvas = PairCanvas(a, b)
    for diff in rec["differences"]:
        canvas.box(diff["box"], GT_COLOR, width=1, label=diff["type"], label_color=type_color(diff["type"]),
                   label_below=True)
    if score is None:
        canvas.text(f"{title}: no prediction")
        return canvas.image
    for box in score.get("pred", []):
        canvas.box(box, PRED_COLOR)
    canvas.text(f"{title}: F1 {score.get('f1', 0):.2f}  mIoU {score.get('miou', 0):.2f}  "
                f"{score.get('n_pred', 0)} box(es)")
    return canvas.image


def prediction_sheet(runs: Sequence[str | Path], dataset: str | Path, out: str | Path, n: int = 8,
                     ids: Sequence[str] | None = None, benchmark: str = "dig") -> int:
    """Write the sheet to ``out`` (atomically); return the number of rows (pairs)."""
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
        ImageDraw.Draw(row).text((4, 2), pair_caption(rec), fill=(255, 255, 255))
        x = 0
        for c in cells:
            row.paste(c, (x, CAPTION))
            x += c.width + 12
        rows.append(row)
    legend_h = 18
    sheet = stack_rows(rows, top=legend_h)
    d = ImageDraw.Draw(sheet)
    d.rectangle([4, 4, 14, 14], outline=GT_COLOR, width=2)
    d.text((18, 3), "ground truth", fill=GT_COLOR)
    d.rectangle([110, 4, 120, 14], outline=PRED_COLOR, width=2)
    d.text((124, 3), "prediction", fill=PRED_COLOR)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_png(sheet, out)
    return len(rows)
