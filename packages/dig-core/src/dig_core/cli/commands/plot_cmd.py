"""``dig plot-rewards``: reward curves of a training run (the paper's Fig. 5)."""

from __future__ import annotations

import click


@click.command("plot-rewards")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="PNG file to write.")
@click.option("--smooth", "smooth_n", type=click.IntRange(min=1), default=5, show_default=True,
              help="Trailing moving-average window, in points (training steps).")
@click.option("--title", default=None, help="Figure title [default: the run folder's name].")
def plot_rewards(run_dir: str, out: str, smooth_n: int, title: str | None) -> None:
    """Draw accuracy reward (r_acc) and format reward per training step of RUN_DIR, across its
    curriculum stages with the stage boundaries, from RUN_DIR/<stage>/rewards.jsonl (written by
    any trainer). Works while a run is in progress. Needs matplotlib (dig-core[plot]).

    Example: dig plot-rewards runs/paper --out runs/paper/rewards.png --smooth 10
    """
    from dig_core.training.plots import plot_rewards as draw
    from dig_core.training.plots import summary

    curves = draw(run_dir, out, smooth_n=smooth_n, title=title)
    unit = curves.unit + "s"
    for row in summary(curves):
        click.echo(f"{row['stage']}: {row['samples']} samples, {row[unit]} {unit}; accuracy "
                   f"{row['accuracy_first']:.3f} -> {row['accuracy_last']:.3f}, format "
                   f"{row['format_first']:.3f} -> {row['format_last']:.3f}")
    click.echo(f"wrote {out}")
