"""Contact sheets: I_a | I_b side by side with ground-truth boxes and difference types drawn."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dig_core.dataset import HISTOGRAMS
from dig_core.pairs import load_pair

#: one colour per difference type (others cycle through the rest)
TYPE_COLORS = {
    "shape": (255, 64, 64), "color": (255, 200, 0), "size": (64, 160, 255), "material": (200, 64, 255),
    "add": (64, 220, 64), "remove": (255, 128, 0), "move": (0, 220, 220),
}
_SPARE = [(255, 105, 180), (160, 255, 160), (255, 255, 255)]


def type_color(t: str) -> tuple[int, int, int]:
    return TYPE_COLORS.get(t, _SPARE[sum(map(ord, t)) % len(_SPARE)])


def draw_pair(root: str | Path, rec: dict[str, Any], gap: int = 6):
    """One row: I_a and I_b with every difference's box (in both images) and a caption."""
    from PIL import Image, ImageDraw

    a, b = load_pair(root, rec)
    h, w = a.shape[:2]
    caption_h = 16
    row = Image.new("RGB", (2 * w + gap, h + caption_h), (24, 24, 24))
    row.paste(Image.fromarray(a), (0, caption_h))
    row.paste(Image.fromarray(b), (w + gap, caption_h))
    draw = ImageDraw.Draw(row)
    for d in rec["differences"]:
        x0, y0, x1, y1 = d["box"]
        col = type_color(d["type"])
        for off in (0, w + gap):
            draw.rectangle([x0 + off, y0 + caption_h, x1 - 1 + off, y1 - 1 + caption_h], outline=col, width=2)
            draw.text((x0 + off + 2, max(caption_h, y0 + caption_h - 11)), d["type"], fill=col)
    kinds = ", ".join(d["type"] for d in rec["differences"])
    draw.text((4, 2), f"{rec['id']}  K={len(rec['differences'])}: {kinds}", fill=(230, 230, 230))
    draw.text((w + gap + 4, 2), "I_b", fill=(230, 230, 230))
    return row


def contact_sheet(root: str | Path, records: Iterable[dict[str, Any]], out: str | Path) -> int:
    """Stack rows for ``records`` into one PNG at ``out`` (written atomically); return the row count."""
    import numpy as np
    from PIL import Image

    from dig_core.dataset import atomic_write_bytes
    from dig_core.pairs import encode_png

    rows = [draw_pair(root, r) for r in records]
    if not rows:
        return 0
    width = max(r.width for r in rows)
    sheet = Image.new("RGB", (width, sum(r.height for r in rows) + 4 * (len(rows) - 1)), (0, 0, 0))
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + 4
    atomic_write_bytes(out, encode_png(np.asarray(sheet)))
    return len(rows)


# -- difficulty histograms (`dig generate` writes DIR/difficulty.png; `dig audit --histograms`) -------
#: measures drawn, in this order (``occlusion`` only when some difference has it)
HISTOGRAM_MEASURES = ("area_share", "contrast", "center_dist", "border_dist", "occlusion")
HISTOGRAM_FILE = HISTOGRAMS  # DIR/difficulty.png


def difficulty_histograms(records: Iterable[dict[str, Any]], bins: int = 12, cell: tuple[int, int] = (220, 150)):
    """A PIL image: one row per stage, one bar chart per measure of its differences (count per bin,
    x axis from the measure's smallest to largest value over the whole dataset)."""
    import numpy as np
    from PIL import Image, ImageDraw

    by_stage: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        by_stage.setdefault(str(rec["stage"]), []).extend(rec.get("measures") or [])
    every = [m for ms in by_stage.values() for m in ms]
    keys = [k for k in HISTOGRAM_MEASURES if any(m.get(k) is not None for m in every)]
    cw, ch = cell
    label_w, pad_l, pad_b, pad_t = 90, 34, 26, 18
    width = label_w + max(1, len(keys)) * cw
    img = Image.new("RGB", (width, max(1, len(by_stage)) * ch + 4), (255, 255, 255))
    d = ImageDraw.Draw(img)
    if not keys:
        d.text((6, 6), "no difficulty measures recorded", fill=(0, 0, 0))
        return img
    ranges = {}
    for k in keys:
        v = np.array([m[k] for m in every if m.get(k) is not None], dtype=float)
        lo, hi = float(v.min()), float(v.max())
        ranges[k] = (lo, hi if hi > lo else lo + 1.0)
    for row, (stage, ms) in enumerate(by_stage.items()):
        y0 = row * ch
        d.text((6, y0 + ch // 2 - 12), f"{stage}\n{len(ms)} diffs", fill=(0, 0, 0))
        for col, k in enumerate(keys):
            x0 = label_w + col * cw
            lo, hi = ranges[k]
            v = np.array([m[k] for m in ms if m.get(k) is not None], dtype=float)
            counts, _ = np.histogram(v, bins=bins, range=(lo, hi))
            top = int(counts.max()) if counts.size and counts.max() > 0 else 1
            px0, py0, px1, py1 = x0 + pad_l, y0 + pad_t, x0 + cw - 8, y0 + ch - pad_b
            d.text((x0 + pad_l, y0 + 3), k, fill=(0, 0, 0))
            d.line([(px0, py0), (px0, py1), (px1, py1)], fill=(0, 0, 0))  # y and x axes
            d.text((x0 + 4, py0 - 4), str(top), fill=(80, 80, 80))
            d.text((x0 + 4, py1 - 10), "0", fill=(80, 80, 80))
            d.text((px0, py1 + 3), f"{lo:.3g}", fill=(80, 80, 80))
            hi_text = f"{hi:.3g}"
            d.text((px1 - 6 * len(hi_text), py1 + 3), hi_text, fill=(80, 80, 80))
            bw = (px1 - px0) / bins
            for i, c in enumerate(counts):
                if c:
                    h = max(1.0, (py1 - py0) * c / top)  # a bin of a few among many stays one pixel high
                    d.rectangle([px0 + i * bw + 1, py1 - h, px0 + (i + 1) * bw - 1, py1 - 1], fill=(70, 110, 200))
    return img


def write_difficulty_histograms(root: str | Path, out: str | Path | None = None) -> Path:
    """Draw :func:`difficulty_histograms` of the dataset at ``root`` from its metadata and write it
    atomically to ``out`` (default ``root/difficulty.png``); returns the path."""
    import io

    from dig_core.dataset import atomic_write_bytes, read_annotations

    path = Path(out) if out is not None else Path(root) / HISTOGRAM_FILE
    buf = io.BytesIO()
    difficulty_histograms(read_annotations(root)).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return path
