"""``write_report``: find the run's parts, build every section, write ``OUT/report.html``."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
from collections.abc import Sequence
from pathlib import Path

from dig_core.data.io import atomic_write_text

from dig_eval.run_report.context import Context
from dig_eval.run_report.discover import REPORT_PAGE, base_model, discover, eval_model
from dig_eval.run_report.html import info_list, page
from dig_eval.run_report.sections import SECTIONS

PAGE = REPORT_PAGE
DEFAULT_OUT = "report"
DEFAULT_PAIRS = 4


def versions() -> dict[str, str]:
    """Installed DiG packages (``dig-*`` distributions) and their versions."""
    out = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.lower().startswith("dig-") or name.lower() == "dig":
            out[name] = dist.version
    return dict(sorted(out.items()))


def _header(ctx: Context) -> str:
    parts = ctx.parts
    items = [("run folder", str(ctx.run_dir.resolve())),
             ("written", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
             ("packages", ", ".join(f"{k} {v}" for k, v in versions().items()) or "-"),
             ("dataset", str(parts.data) if parts.data else "- (none found)"),
             ("training run", str(parts.train) if parts.train else "- (none found)")]
    if parts.train is not None:
        items.append(("base model", base_model(parts.train) or "?"))
    for i, run in enumerate(parts.evals):
        items.append((f"eval {run.name}" + (" (baseline)" if i == 0 else ""), eval_model(run) or "?"))
    if not parts.evals:
        items.append(("eval runs", "- (none found)"))
    return info_list(items)


def write_report(run_dir: str | Path, out: str | Path | None = None, *, data: str | Path | None = None,
                 train: str | Path | None = None, evals: Sequence[str | Path] | None = None,
                 progress: bool = True, pairs: int = DEFAULT_PAIRS) -> Path:
    """Write the run report of ``run_dir`` into ``out`` (default ``RUN_DIR/report``): ``report.html``
    and its PNGs; return the page's path. ``data`` / ``train`` / ``evals`` (the baseline first):
    the parts to show; those not given are found under ``run_dir`` by their content
    (:mod:`dig_eval.run_report.discover`). ``pairs``: DiG pairs in the prediction-dynamics section."""
    from dig_core.errors import DigError

    if pairs < 1:
        raise DigError(f"pairs must be >= 1, got {pairs}")
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / DEFAULT_OUT
    found = discover(run_dir, data=data, train=train, evals=list(evals) if evals else None, skip=out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(run_dir=run_dir, out=out, parts=found, pairs=pairs, progress=progress)
    sections = []
    for _, build in SECTIONS:
        sections.append(build(ctx))
    html = page(f"DiG run report: {run_dir.resolve().name}", _header(ctx), sections)
    path = out / PAGE
    atomic_write_text(path, html)
    ctx.say(f"wrote {path}")
    return path
