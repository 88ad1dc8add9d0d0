"""Contact sheets: I_a | I_b side by side with ground-truth boxes and difference types drawn."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

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
