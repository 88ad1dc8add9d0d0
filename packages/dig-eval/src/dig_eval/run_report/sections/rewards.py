"""Rewards section (the paper's Fig. 5): accuracy and format reward per training step across the
curriculum stages (``dig_core.training.plots``), and per stage its state (DONE marker) and first/last means."""

from __future__ import annotations

from dig_core.errors import DigError
from dig_core.training import RunDir
from dig_core.training.plots import plot_rewards, summary

from dig_eval.report import fmt
from dig_eval.run_report.context import Context
from dig_eval.run_report.html import Section, info_list

CURVES = "rewards.png"
WINDOW = 5


def build(ctx: Context) -> Section:
    sec = Section("rewards", "Training rewards")
    train = ctx.parts.train
    if train is None:
        return sec.missing(f"no training run found under {ctx.run_dir} (a folder with run.json naming the trainer "
                           "and its stages); pass --train DIR")
    run = RunDir(train)
    info = run.read_manifest() or {}
    stages = [str(s) for s in info.get("stages", [])]
    sec.add(info_list([("folder", str(train)), ("trainer", str(info.get("trainer", "?"))),
                       ("base model", str(info.get("model") or "?")), ("stages", " -> ".join(stages) or "-")]))
    ctx.say(f"reward curves of {train}")
    try:
        curves = plot_rewards(train, ctx.out / CURVES, title=f"reward curves: {train.name}")
    except DigError as e:
        curves = None
        sec.missing(f"reward curves: {e}")
    by_stage = {row["stage"]: row for row in (summary(curves, WINDOW) if curves is not None else [])}
    rows = []
    for name in stages:
        done = run.read_done(name)
        state = f"done ({done.get('reason', '?')}, step {fmt(done.get('step'))})" if done else (
            "started" if run.stage(name).dir.is_dir() else "not started")
        s = by_stage.get(name)
        if s is None:
            rows.append([name, state, "0", "-", "-"])
            continue
        rows.append([name, state, str(s["samples"]),
                     f"{s['accuracy_first']:.3f} -> {s['accuracy_last']:.3f}",
                     f"{s['format_first']:.3f} -> {s['format_last']:.3f}"])
    if rows:
        sec.table(["stage", "state", "scored samples", f"accuracy (first -> last {WINDOW} points)",
                   f"format (first -> last {WINDOW} points)"], rows)
    if curves is not None:
        sec.image(CURVES, "reward curves", f"Reward per training {curves.unit}, all stages (paper Fig. 5)")
        sec.note("faint: the per-step mean; bold: its moving average; dashed lines: stage boundaries. "
                 "A stage without GRPO samples (an SFT warm start) draws no curve.")
    return sec
