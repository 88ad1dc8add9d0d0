"""The report page: one HTML file, inline CSS, no scripts, images referenced relatively (they lie
next to the page). Sections are :class:`Section` objects; a missing part is a visible box
``missing: <why>``, never an empty or made-up figure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

#: the page's content width in CSS pixels; small images are enlarged up to MAX_SCALE times towards it
#: (and no taller than MAX_HEIGHT)
PAGE_WIDTH = 1100
MAX_HEIGHT = 1400
MAX_SCALE = 3

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1120px;
       padding: 16px 24px 48px; color: #1d1d1f; background: #fff; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; border-bottom: 2px solid #d0d7de; padding-bottom: 4px; margin-top: 36px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
p.note { color: #57606a; font-size: 13px; margin: 4px 0 10px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 12px; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: right; }
th { background: #f6f8fa; } td.l, th.l { text-align: left; }
td.up { color: #1a7f37; } td.down { color: #cf222e; }
img.fig { max-width: 100%; border: 1px solid #d0d7de; margin: 6px 0; display: block; }
div.missing { border: 2px dashed #bf8700; background: #fff8c5; color: #6f4e00; padding: 10px 14px;
              margin: 10px 0; font-size: 14px; }
nav a { margin-right: 14px; font-size: 14px; }
dl.info { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; font-size: 13px; margin: 8px 0; }
dl.info dt { font-weight: 600; } dl.info dd { margin: 0; font-family: monospace; word-break: break-all; }
"""


@dataclass
class Section:
    """One section of the page: ``id`` (the anchor), a title, and its body parts in order."""

    id: str
    title: str
    body: list[str] = field(default_factory=list)
    #: image files (relative to the page) the section shows
    images: list[str] = field(default_factory=list)

    def add(self, html: str) -> Section:
        self.body.append(html)
        return self

    def note(self, text: str) -> Section:
        return self.add(f'<p class="note">{escape(text)}</p>')

    def missing(self, why: str) -> Section:
        return self.add(missing_box(why))

    def image(self, rel: str, alt: str, title: str | None = None, path: Path | None = None) -> Section:
        """An image at ``rel`` (relative to the page); ``path``: the file, to show a small image
        enlarged (pixelated, up to :data:`MAX_SCALE` times) towards the page width."""
        if title:
            self.add(f"<h3>{escape(title)}</h3>")
        self.images.append(rel)
        style = ""
        if path is not None:
            from PIL import Image

            with Image.open(path) as im:
                w, h = im.size
            scale = max(1, min(MAX_SCALE, PAGE_WIDTH // max(1, w), MAX_HEIGHT // max(1, h)))
            if scale > 1:
                style = f' width="{w * scale}" height="{h * scale}" style="image-rendering: pixelated"'
        return self.add(f'<img class="fig" src="{escape(rel)}" alt="{escape(alt)}"{style}>')

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[Sequence[str]] | None = None,
              left: int = 1) -> Section:
        return self.add(table(header, rows, classes, left))


def missing_box(why: str) -> str:
    return f'<div class="missing"><strong>missing:</strong> {escape(why)}</div>'


def table(header: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[Sequence[str]] | None = None,
          left: int = 1) -> str:
    """An HTML table; the first ``left`` columns left-aligned; ``classes[r][c]`` a cell's class."""
    def cls(r: int, c: int) -> str:
        names = ["l"] if c < left else []
        if classes is not None and classes[r][c]:
            names.append(classes[r][c])
        return f' class="{" ".join(names)}"' if names else ""

    left_th = ' class="l"'
    head = "".join(f"<th{left_th if c < left else ''}>{escape(str(h))}</th>" for c, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{cls(r, c)}>{escape(str(v))}</td>" for c, v in enumerate(row)) + "</tr>"
                   for r, row in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def info_list(items: Sequence[tuple[str, str]]) -> str:
    return '<dl class="info">' + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items) + "</dl>"


def page(title: str, header: str, sections: Sequence[Section]) -> str:
    nav = "".join(f'<a href="#{s.id}">{escape(s.title)}</a>' for s in sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f'<header id="run"><h1>{escape(title)}</h1>{header}<nav>{nav}</nav></header>',
    ]
    for s in sections:
        parts.append(f'<section id="{escape(s.id)}"><h2>{escape(s.title)}</h2>')
        parts.extend(s.body)
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
