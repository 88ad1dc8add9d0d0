"""Reading run folders and writing their markdown: ``results.md`` and ``dig eval compare``.

A metric key ``name`` is a headline metric; ``name/group`` (``f1/k=2``, ``acc@0.5/type=add``) a
breakdown row ``group`` of metric ``name``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dig_core.errors import DigError

METRICS = "metrics.json"
#: an eval run's info file (model section, dig-eval version, benchmark order); folders written by
#: earlier versions name it ``run.json``, the name a training run's manifest has (``dig_core.training.RUN_MANIFEST``)
RUN_INFO = "eval.json"
OLD_RUN_INFO = "run.json"
RESULTS = "results.md"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]], align_first_left: bool = True) -> str:
    """A GitHub markdown table (first column left-aligned, the others right-aligned)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) if i == 0 and align_first_left else str(c).rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join((":" + "-" * (w + 1)) if i == 0 else ("-" * (w + 1) + ":") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.2f}" if abs(v) >= 1 or v == 0 else f"{v:.3f}"
    return str(v)


def split_metrics(metrics: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``(headline, {group: {metric: value}})`` in the evaluator's order."""
    head: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for key, v in metrics.items():
        if "/" in key:
            name, group = key.split("/", 1)
            groups.setdefault(group, {})[name] = v
        else:
            head[key] = v
    return head, groups


def run_info_path(run: str | Path) -> Path:
    """The info file of eval run ``run``: ``eval.json``, or the ``run.json`` of a folder written by an
    earlier version (one holding ``dig_eval``); ``eval.json`` for a new run. A resumed old run keeps
    its ``run.json``."""
    root = Path(run)
    new, old = root / RUN_INFO, root / OLD_RUN_INFO
    if new.is_file() or not old.is_file():
        return new
    try:
        return old if "dig_eval" in json.loads(old.read_text()) else new
    except (OSError, ValueError, TypeError):
        return new


def read_run(run: str | Path) -> dict[str, dict[str, Any]]:
    """``{benchmark: metrics.json}`` of a run folder, in the run's benchmark order."""
    root = Path(run)
    if not root.is_dir():
        raise DigError(f"run folder not found: {root}")
    order: list[str] = []
    info = run_info_path(root)
    if info.is_file():
        try:
            order = list(json.loads(info.read_text()).get("benchmarks", []))
        except (json.JSONDecodeError, AttributeError):
            raise DigError(f"{info}: corrupt run info") from None
    found = {p.parent.name: p for p in sorted(root.glob(f"*/{METRICS}"))}
    out: dict[str, dict[str, Any]] = {}
    for name in [*[b for b in order if b in found], *[b for b in found if b not in order]]:
        try:
            out[name] = json.loads(found[name].read_text())
        except json.JSONDecodeError as e:
            raise DigError(f"{found[name]}: corrupt metrics ({e})") from None
    return out


def results_markdown(run: str | Path) -> str:
    """``results.md`` of a run: per benchmark its headline metrics and breakdown tables."""
    runs = read_run(run)
    parts = [f"# Results: {Path(run).name}", ""]
    for bench, data in runs.items():
        model = data.get("model", {})
        counts = data.get("counts", {})
        head, groups = split_metrics(data.get("metrics", {}))
        parts.append(f"## {bench}")
        parts.append("")
        desc = ", ".join(f"{k} {v}" for k, v in counts.items())
        who = model.get("path") or model.get("adapter", "?")
        parts.append(f"model: `{who}` ({model.get('adapter', '?')}, coords {model.get('coords', '-')}); {desc}")
        parts.append("")
        parts.append(md_table(["metric", "value"], [[k, fmt(v)] for k, v in head.items()]))
        by_kind: dict[str, dict[str, dict[str, Any]]] = {}
        for g, vals in groups.items():  # one table per kind of group: "k=2" -> k, "type=add" -> type
            by_kind.setdefault(g.split("=", 1)[0], {})[g] = vals
        for kind_groups in by_kind.values():
            names = list(dict.fromkeys(n for g in kind_groups.values() for n in g))
            parts.append("")
            parts.append(md_table(["group", *names], [[g, *(fmt(vals.get(n)) for n in names)]
                                                      for g, vals in kind_groups.items()]))
        parts.append("")
    return "\n".join(parts)
