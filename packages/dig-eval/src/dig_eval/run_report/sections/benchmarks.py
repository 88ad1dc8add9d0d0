"""Benchmarks section (the paper's Tables 1-3 and Fig. 2): the headline metrics of every eval run
side by side, deltas against the first (baseline) run, and the deltas chart."""

from __future__ import annotations

import json
from typing import Any

from dig_core.errors import DigError

from dig_eval.compare import compare_values, has_delta
from dig_eval.report import fmt, run_info_path
from dig_eval.run_report.context import Context
from dig_eval.run_report.html import Section, info_list
from dig_eval.run_report.radar import MIN_RADAR_AXES, delta_chart

CHART = "benchmark-deltas.png"


def _model(run) -> str:
    try:
        model = json.loads(run_info_path(run).read_text()).get("model") or {}
    except (OSError, json.JSONDecodeError):
        return "?"
    params = model.get("params") or {}
    return f"{model.get('name', '?')}: {params.get('path') or '-'}"


def delta_axes(names: list[str], rows: list[tuple[str, str, list[Any]]]) -> tuple[list[str], dict[str, list[float]]]:
    """Chart axes (``benchmark: metric`` of headline metrics every run has a delta for) and the
    deltas of every run after the first, per axis."""
    axes: list[str] = []
    deltas: dict[str, list[float]] = {n: [] for n in names[1:]}
    for bench, metric, vals in rows:
        if vals[0] is None or not all(has_delta(v, vals[0]) for v in vals[1:]):
            continue
        axes.append(f"{bench}: {metric}")
        for n, v in zip(names[1:], vals[1:]):
            deltas[n].append(v - vals[0])
    return axes, deltas


def build(ctx: Context) -> Section:
    sec = Section("benchmarks", "Benchmarks")
    evals = ctx.parts.evals
    if not evals:
        return sec.missing(f"no dig eval run found under {ctx.run_dir} (a folder with eval.json and "
                           "<benchmark>/metrics.json); pass --eval DIR (the baseline first)")
    names, rows = compare_values(evals)
    sec.add(info_list([(f"{n}{' (baseline)' if i == 0 else ''}", f"{_model(r)}  [{r}]")
                       for i, (n, r) in enumerate(zip(names, evals))]))
    header = ["benchmark", "metric", names[0]]
    for n in names[1:]:
        header += [n, f"delta {n}"]
    cells, classes = [], []
    for bench, metric, vals in rows:
        row, cls = [bench, metric, fmt(vals[0])], ["", "", ""]
        for v in vals[1:]:
            row.append(fmt(v))
            cls.append("")
            if has_delta(v, vals[0]):
                d = v - vals[0]
                row.append(("+" if d >= 0 else "-") + fmt(abs(d)))
                cls.append("up" if d > 0 else "down" if d < 0 else "")
            else:
                row.append("")
                cls.append("")
        cells.append(row)
        classes.append(cls)
    sec.add("<h3>Headline metrics (paper Tables 1-3)</h3>")
    sec.table(header, cells, classes, left=2)
    sec.note("Percentages except counts (n) and reward (0-1). Per-K and per-edit-type breakdowns: "
             "dig eval compare --breakdown " + " ".join(str(e) for e in evals))
    if len(evals) < 2:
        return sec.missing("deltas chart: only one eval run (the baseline); evaluate a trained checkpoint into "
                           "another folder to compare")
    axes, deltas = delta_axes(names, rows)
    if not axes:
        return sec.missing("deltas chart: the runs share no headline metric with a value in each")
    ctx.say(f"deltas chart over {len(axes)} metric(s)")
    try:
        kind = delta_chart(axes, deltas, ctx.out / CHART, baseline=names[0])
    except DigError as e:
        return sec.missing(f"deltas chart: {e}")
    title = ("Deltas against the baseline (paper Fig. 2)" if kind == "radar" else
             f"Deltas against the baseline: a bar chart, since {len(axes)} metric(s) are too few for a radar "
             f"(needs {MIN_RADAR_AXES})")
    sec.image(CHART, f"{kind} chart of the deltas", title)
    return sec
