"""Reward curves of a training run (the paper's Fig. 5): accuracy and format reward per training
step across the curriculum stages, from ``RUN_DIR/<stage>/rewards.jsonl`` (any trainer).

x: the training step, counted across stages (stage k+1 continues where stage k ended). A record's
``step`` is the stage's sample counter; ``samples_per_step`` from run.json (samples scored per
rollout step, e.g. prompts per step × G) turns it into training steps; without it, x counts samples.
y: the mean over the step's samples, raw (faint) and smoothed with a trailing moving average.
Accuracy is the record's ``accuracy``: the accuracy part of the reward that trained the run, as the
reward plugin computed it (a record without one is left out of the curves). matplotlib is imported only to draw (``dig-core[plot]``).
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dig_core.data.io import atomic_write_bytes
from dig_core.errors import DigError
from dig_core.training.run_dir import RunDir, read_rewards

#: figure size in inches at DPI: 1000 x 600 pixels
FIGSIZE = (10.0, 6.0)
DPI = 100


@dataclass
class StageCurve:
    name: str
    start: int  # first x of the stage
    x: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    format: list[float] = field(default_factory=list)
    samples: int = 0


@dataclass
class Curves:
    stages: list[StageCurve]
    unit: str  # "step" or "sample"

    @property
    def points(self) -> int:
        return sum(len(s.x) for s in self.stages)


def smooth(values: list[float], n: int) -> list[float]:
    """Trailing moving average over ``n`` points (the first points average what exists)."""
    if n <= 1:
        return list(values)
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= n:
            acc -= values[i - n]
        out.append(acc / min(i + 1, n))
    return out


def reward_curves(run_dir: str | Path) -> Curves:
    """Per-step means of accuracy and format reward for every stage that logged rewards."""
    run = RunDir(run_dir)
    manifest = run.read_manifest() or {}
    per_step = manifest.get("samples_per_step")
    per_step = int(per_step) if isinstance(per_step, (int, float)) and per_step >= 1 else None
    stages: list[StageCurve] = []
    offset = 0
    for name, records in read_rewards(run_dir).items():
        buckets: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for i, rec in enumerate(records):
            accuracy = rec.get("accuracy")
            if not isinstance(accuracy, (int, float)) or isinstance(accuracy, bool):
                continue
            step = rec.get("step", i)
            step = int(step) if isinstance(step, (int, float)) else i
            key = step // per_step if per_step else step
            buckets[key].append((float(accuracy), float(rec.get("format", 0.0))))
        if not buckets:
            continue
        first = min(buckets)
        curve = StageCurve(name, offset, samples=len(records))
        for key in sorted(buckets):
            vals = buckets[key]
            curve.x.append(offset + key - first)
            curve.accuracy.append(sum(a for a, _ in vals) / len(vals))
            curve.format.append(sum(f for _, f in vals) / len(vals))
        stages.append(curve)
        offset = curve.x[-1] + 1
    return Curves(stages, "step" if per_step else "sample")


def plot_rewards(run_dir: str | Path, out: str | Path, smooth_n: int = 5, title: str | None = None) -> Curves:
    """Draw the curves to a PNG at ``out`` (written atomically); returns the data drawn."""
    curves = reward_curves(run_dir)
    if not curves.points:
        raise DigError(f"{run_dir}: no rewards logged yet (no <stage>/rewards.jsonl with records)")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise DigError("dig plot-rewards needs matplotlib: pip install 'dig-core[plot]'") from None

    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax_acc, ax_fmt = fig.subplots(2, 1, sharex=True)
    colors = ("tab:blue", "tab:green")
    for ax, key, label, color in ((ax_acc, "accuracy", "accuracy reward $r_{acc}$", colors[0]),
                                  (ax_fmt, "format", "format reward $r_{format}$", colors[1])):
        for i, st in enumerate(curves.stages):
            ys = getattr(st, key)
            ax.plot(st.x, ys, color=color, alpha=0.25, linewidth=0.8)
            ax.plot(st.x, smooth(ys, smooth_n), color=color, linewidth=1.8, label=label if i == 0 else None)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
        for st in curves.stages[1:]:
            ax.axvline(st.start - 0.5, color="gray", linestyle="--", linewidth=1)
    for st in curves.stages:
        mid = (st.x[0] + st.x[-1]) / 2 if st.x else st.start
        ax_acc.text(mid, 1.0, st.name, ha="center", va="bottom", fontsize=9,
                    transform=ax_acc.get_xaxis_transform())
    ax_fmt.set_xlabel(f"training {curves.unit} (all stages)")
    fig.suptitle(title or f"DiG reward curves: {Path(run_dir).name}", y=0.99)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    save_png(fig, out)
    return curves


def save_png(fig, out: str | Path, dpi: int = DPI) -> None:
    """Write a matplotlib figure to ``out`` as PNG atomically (parent folders made)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, buf.getvalue())


def summary(curves: Curves, window: int = 5) -> list[dict[str, Any]]:
    """Per stage: samples, points, mean accuracy and format over its first and last ``window`` points."""
    rows = []
    for st in curves.stages:
        def mean(v: list[float]) -> float:
            return sum(v) / len(v) if v else 0.0
        rows.append({"stage": st.name, "samples": st.samples, curves.unit + "s": len(st.x),
                     "accuracy_first": mean(st.accuracy[:window]), "accuracy_last": mean(st.accuracy[-window:]),
                     "format_first": mean(st.format[:window]), "format_last": mean(st.format[-window:])})
    return rows
