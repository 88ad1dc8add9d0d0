"""``dig eval compare``: runs side by side (benchmark x metric rows, one column per run, deltas
against the first run), like the paper's Tables 1-3. A benchmark whose runs differ in missing
answers (count, or whether they were scored as wrong or excluded) gets a ``missing`` row and a note:
its numbers are not over the same answers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dig_core.errors import DigError

from dig_eval.report import fmt, md_table, read_run, split_metrics


def _names(runs: Sequence[Path]) -> list[str]:
    names = [p.name or str(p) for p in runs]
    if len(set(names)) == len(names):
        return names
    return [str(p) for p in runs]


def _cell(v: Any, base: Any, first: bool) -> str:
    if v is None:
        return "-"
    if first or not has_delta(v, base):
        return fmt(v)
    d = v - base
    return f"{fmt(v)} ({'+' if d >= 0 else '-'}{fmt(abs(d))})"


def missing_cell(result: dict[str, Any] | None) -> str | None:
    """A run's missing answers on one benchmark: ``"0"``, ``"3 wrong"`` or ``"3 excluded"`` (None
    where the run lacks the benchmark). Runs made before missing answers were scored as wrong
    read as excluded."""
    if result is None:
        return None
    n = int((result.get("counts") or {}).get("missing", 0))
    if not n:
        return "0"
    policy = (result.get("missing") or {}).get("policy", "exclude")
    return f"{n} {'wrong' if policy == 'wrong' else 'excluded'}"


def missing_differs(data: Sequence[dict[str, dict[str, Any]]], bench: str) -> list[str | None] | None:
    """The ``missing`` cells of ``bench`` when the runs that have it differ in them, else None."""
    cells = [missing_cell(d.get(bench)) for d in data]
    return cells if len({c for c in cells if c is not None}) > 1 else None


def compare_values(runs: Sequence[str | Path], breakdown: bool = False,
                   benchmarks: Sequence[str] | None = None) -> tuple[list[str], list[tuple[str, str, list[Any]]]]:
    """``(run names, [(benchmark, metric, [value per run]), ...])``: the rows of the comparison,
    values as stored (None where a run lacks the metric). ``breakdown``: also ``metric/group`` rows.
    A benchmark without headline metrics (``split/metric``, ``task/metric`` only) shows every row."""
    if not runs:
        raise DigError("compare needs at least one run folder")
    paths = [Path(r) for r in runs]
    data = [read_run(p) for p in paths]
    for p, d in zip(paths, data):
        if not d:
            raise DigError(f"{p}: no <benchmark>/metrics.json in this folder (is it a dig eval run?)")
    order = list(dict.fromkeys(b for d in data for b in d))
    if benchmarks:
        unknown = [b for b in benchmarks if b not in order]
        if unknown:
            raise DigError(f"benchmark(s) {unknown} in none of the runs; present: {order}")
        order = list(benchmarks)
    rows: list[tuple[str, str, list[Any]]] = []
    for bench in order:
        per_run = [split_metrics(d.get(bench, {}).get("metrics", {})) for d in data]
        keys = list(dict.fromkeys(k for head, _ in per_run for k in head))
        if not keys:  # every metric is per group (RefCOCO's per split, lmms-eval's per task): all of them
            keys = list(dict.fromkeys(k for d in data for k in d.get(bench, {}).get("metrics", {})))
        elif breakdown:
            groups = list(dict.fromkeys(g for _, gs in per_run for g in gs))
            keys += [f"{m}/{g}" for g in groups for m in dict.fromkeys(m for _, gs in per_run for m in gs.get(g, {}))]
        for key in keys:
            vals = []
            for head, gs in per_run:
                if "/" in key:
                    m, g = key.split("/", 1)
                    vals.append(gs.get(g, {}).get(m))
                else:
                    vals.append(head.get(key))
            rows.append((bench, key, vals))
        marked = missing_differs(data, bench)
        if marked:
            rows.append((bench, "missing", marked))
    return _names(paths), rows


def has_delta(v: Any, base: Any) -> bool:
    """Whether the table shows a delta for ``v`` against the first run's ``base``: both numbers,
    ``v`` a float (counts such as ``n`` get none)."""
    numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
    return (numeric and not isinstance(v, int) and isinstance(base, (int, float))
            and not isinstance(base, bool))


def compare_markdown(runs: Sequence[str | Path], breakdown: bool = False,
                     benchmarks: Sequence[str] | None = None) -> str:
    """The comparison table. ``breakdown``: also ``metric/group`` rows (by K, by edit type, ...)."""
    names, values = compare_values(runs, breakdown, benchmarks)
    rows = [[bench, key, *(_cell(v, vals[0], i == 0) for i, v in enumerate(vals))] for bench, key, vals in values]
    header = ["benchmark", "metric", *names]
    note = "" if len(names) == 1 else f"\n\nDeltas in parentheses are against {names[0]}."
    differ = [bench for bench, key, _ in values if key == "missing"]
    if differ:
        note += (f"\n\nMissing answers differ between the runs on {', '.join(differ)} (row `missing`: samples "
                 "without an answer, scored as wrong or excluded): those numbers are not over the same answers.")
    return md_table(header, rows) + note + "\n"
