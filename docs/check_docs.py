"""Docs check: every relative link in README.md and docs/*.md points to a file that exists."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def broken_links() -> list[str]:
    bad = []
    for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in LINK.findall(md.read_text()):
            if "://" in target:
                continue
            if not (md.parent / target).exists():
                bad.append(f"{md.relative_to(ROOT)}: broken link {target}")
    return bad


if __name__ == "__main__":
    problems = broken_links()
    print("\n".join(problems) or "docs: all links resolve")
    sys.exit(1 if problems else 0)
