"""The deltas chart of the benchmark section (the paper's Fig. 2): a radar (matplotlib polar axes)
with one axis per benchmark metric and one polygon per run, radius = the run's delta against the
baseline; the zero ring is drawn bold, so gains lie outside it and losses inside. With fewer than
:data:`MIN_RADAR_AXES` axes a radar has no area to read, so a grouped bar chart is drawn instead."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from dig_core.errors import DigError
from dig_core.training.plots import save_png

MIN_RADAR_AXES = 3
DPI = 100
COLORS = ("tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown")


def _figure(size: tuple[float, float]):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise DigError("the deltas chart needs matplotlib: pip install 'dig-core[plot]'") from None
    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def delta_chart(axes: Sequence[str], deltas: Mapping[str, Sequence[float]], out: str | Path,
                baseline: str = "base") -> str:
    """Draw ``deltas`` ({run: [delta per axis]}) to a PNG at ``out`` (written atomically); return
    the kind drawn: ``"radar"`` or ``"bar"``."""
    if not axes or not deltas:
        raise DigError("no deltas to draw (need a baseline and at least one other run with shared metrics)")
    for run, vals in deltas.items():
        if len(vals) != len(axes):
            raise DigError(f"run {run!r}: {len(vals)} deltas for {len(axes)} axes")
    every = [v for vals in deltas.values() for v in vals]
    lo, hi = min(0.0, *every), max(0.0, *every)
    pad = max(1e-6, 0.1 * (hi - lo) or 1.0)
    if len(axes) >= MIN_RADAR_AXES:
        fig = _figure((8.0, 7.0))
        ax = fig.add_subplot(1, 1, 1, projection="polar")
        angles = [2 * math.pi * i / len(axes) for i in range(len(axes))]
        ax.set_ylim(lo - pad, hi + pad)
        ring = [2 * math.pi * i / 180 for i in range(181)]
        ax.plot(ring, [0.0] * len(ring), color="black", linewidth=1.6, label=f"{baseline} (delta 0)")
        for i, (run, vals) in enumerate(deltas.items()):
            color = COLORS[i % len(COLORS)]
            ax.plot([*angles, angles[0]], [*vals, vals[0]], color=color, linewidth=1.8, marker="o", markersize=3,
                    label=run)
            ax.fill([*angles, angles[0]], [*vals, vals[0]], color=color, alpha=0.12)
        ax.set_xticks(angles)
        ax.set_xticklabels(axes, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.legend(loc="upper right", bbox_to_anchor=(1.25, 1.12), fontsize=8)
        fig.suptitle(f"delta against {baseline} per benchmark metric", fontsize=11)
        kind = "radar"
    else:
        fig = _figure((8.0, 4.0))
        ax = fig.add_subplot(1, 1, 1)
        width = 0.8 / len(deltas)
        for i, (run, vals) in enumerate(deltas.items()):
            xs = [j + (i - (len(deltas) - 1) / 2) * width for j in range(len(axes))]
            ax.bar(xs, vals, width=width, color=COLORS[i % len(COLORS)], label=run)
        ax.axhline(0.0, color="black", linewidth=1.2)
        ax.set_xticks(list(range(len(axes))))
        ax.set_xticklabels(axes, fontsize=9)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_ylabel(f"delta against {baseline}")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
        fig.suptitle(f"delta against {baseline} (bar chart: fewer than {MIN_RADAR_AXES} metrics for a radar)",
                     fontsize=11)
        kind = "bar"
    fig.tight_layout()
    save_png(fig, out, dpi=DPI)
    return kind
