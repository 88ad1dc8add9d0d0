"""What every section builder gets: the output folder, the discovered parts, and how to report
progress."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from dig_eval.run_report.discover import Parts


@dataclass
class Context:
    run_dir: Path
    out: Path
    parts: Parts
    #: DiG pairs in the prediction-dynamics section
    pairs: int = 4
    progress: bool = True

    def say(self, msg: str) -> None:
        """A progress line on stderr (the slow parts announce themselves)."""
        if self.progress:
            print(f"dig report: {msg}", file=sys.stderr, flush=True)

    def rel(self, path: Path) -> str:
        """``path`` relative to the page (the page lies in ``out``)."""
        return path.relative_to(self.out).as_posix()
