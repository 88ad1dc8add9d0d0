"""Contact sheets: I_a | I_b side by side with ground-truth boxes and difference types drawn."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dig_core.data.dataset import HISTOGRAMS
from dig_core.data.pairs import load_pair

#: one colour per difference type (others cycle through the rest)
TYPE_COLORS = {
    "shape": (255, 64, 64), "color": (255, 200, 0), "size": (64, 160, 255), "material": (200, 64, 255),
    "add": (64, 220, 64), "remove": (255, 128, 0), "move": (0, 220, 220),
}
_SPARE = [(255, 105, 180), (160, 255, 160), (255, 255, 255)]


def type_color(t: str) -> tuple[int, int, int]:
    return TYPE_COLORS.get(t, _SPARE[sum(map(ord, t)) % len(_SPARE)])


#: caption strip above a pair, gap between I_a and I_b, gap between stacked rows (pixels)
CAPTION, GAP, ROW_GAP = 16, 6, 4
CAPTION_COLOR = (230, 230, 230)


class PairCanvas:
    """I_a | I_b side by side under a caption strip, with boxes drawn in both images: the one
    canvas of ``dig show`` (ground truth) and ``dig show-predictions`` (ground truth + predictions)."""

    def __init__(self, a: Any, b: Any, gap: int = GAP, caption: int = CAPTION):
        from PIL import Image, ImageDraw

        h, w = a.shape[:2]
        self.image = Image.new("RGB", (2 * w + gap, h + caption), (24, 24, 24))
        self.image.paste(Image.fromarray(a), (0, caption))
        self.image.paste(Image.fromarray(b), (w + gap, caption))
        self.draw = ImageDraw.Draw(self.image)
        self.offsets = (0, w + gap)
        self.caption = caption

    def box(self, box: Sequence[float], color: tuple[int, int, int], width: int = 2, label: str | None = None,
            label_color: tuple[int, int, int] | None = None, label_below: bool = False) -> None:
        """``box`` (original pixels, x1/y1 exclusive) outlined in both images, with an optional
        label above its top edge (or inside its bottom edge)."""
        x0, y0, x1, y1 = box
        c = self.caption
        for off in self.offsets:
            self.draw.rectangle([x0 + off, y0 + c, max(x0, x1 - 1) + off, max(y0, y1 - 1) + c], outline=color,
                                width=width)
            if label:
                y = y1 + c - 11 if label_below else max(c, y0 + c - 11)
                self.draw.text((x0 + off + 2, y), label, fill=label_color or color)

    def text(self, text: str, x: int = 4, color: tuple[int, int, int] = CAPTION_COLOR) -> None:
        """A line in the caption strip."""
        self.draw.text((x, 2), text, fill=color)


def stack_rows(rows: Sequence[Any], top: int = 0, gap: int = ROW_GAP):
    """The PIL images ``rows`` stacked top to bottom on black, below ``top`` pixels left free."""
    from PIL import Image

    sheet = Image.new("RGB", (max(r.width for r in rows), top + sum(r.height for r in rows) + gap * (len(rows) - 1)),
                      (0, 0, 0))
    y = top
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + gap
    return sheet


def write_png(image: Any, out: str | Path) -> None:
    """``image`` (PIL) written to ``out`` as PNG, atomically."""
    import numpy as np

    from dig_core.data.io import atomic_write_bytes
    from dig_core.data.pairs import encode_png

    atomic_write_bytes(out, encode_png(np.asarray(image)))


def pair_caption(rec: dict[str, Any]) -> str:
    """``<id>  K=<k>: <types>`` of a pair record."""
    kinds = ", ".join(d["type"] for d in rec["differences"])
    return f"{rec['id']}  K={len(rec['differences'])}: {kinds}"


def draw_pair(root: str | Path, rec: dict[str, Any], gap: int = GAP):
    """One row: I_a and I_b with every difference's box (in both images) and a caption."""
    a, b = load_pair(root, rec)
    canvas = PairCanvas(a, b, gap)
    for d in rec["differences"]:
        canvas.box(d["box"], type_color(d["type"]), label=d["type"])
    canvas.text(pair_caption(rec))
    canvas.text("I_b", x=canvas.offsets[1] + 4)
    return canvas.image


def contact_sheet(root: str | Path, records: Iterable[dict[str, Any]], out: str | Path) -> int:
    """Stack rows for ``records`` into one PNG at ``out`` (written atomically); return the row count."""
    rows = [draw_pair(root, r) for r in records]
    if not rows:
        return 0
    write_png(stack_rows(rows), out)
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

    from dig_core.data.dataset import read_annotations
    from dig_core.data.io import atomic_write_bytes

    path = Path(out) if out is not None else Path(root) / HISTOGRAM_FILE
    buf = io.BytesIO()
    difficulty_histograms(read_annotations(root)).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return path
