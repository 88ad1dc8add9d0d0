"""``dig report``: the run report command (registered by dig-eval's plugin.py)."""

from __future__ import annotations

import click

from dig_eval.run_report.write import DEFAULT_PAIRS


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--out", "-o", type=click.Path(file_okay=False), default=None,
              help="Report folder (default RUN_DIR/report): report.html and its PNGs.")
@click.option("--data", type=click.Path(file_okay=False, exists=True), default=None,
              help="The DiG dataset folder (default: found under RUN_DIR; the training run's data first).")
@click.option("--train", type=click.Path(file_okay=False, exists=True), default=None,
              help="The training run folder (default: found under RUN_DIR by its run.json).")
@click.option("--eval", "evals", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="A dig eval run folder; repeat it, the baseline first (default: found under RUN_DIR, "
                   "the run of the base model first).")
@click.option("--pairs", default=DEFAULT_PAIRS, show_default=True, type=click.IntRange(min=1),
              help="DiG pairs in the prediction-dynamics section (each checkpoint answers them once; cached).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Print progress lines.")
def report(run_dir: str, out: str | None, data: str | None, train: str | None, evals: tuple[str, ...],
           pairs: int, progress: bool) -> None:
    """Write a run report of RUN_DIR: one HTML page with its PNGs, no scripts or network needed.

    \b
    Sections (each says "missing: <why>" when its part is not there):
      dataset     pairs per stage, contact sheet, difficulty histograms
      rewards     reward curves per stage (paper Fig. 5)
      benchmarks  headline metrics, baseline vs. the other eval runs with deltas (Tables 1-3),
                  a radar of the deltas (Fig. 2)
      dynamics    the same DiG pairs answered by the base model and every stage checkpoint
                  (Fig. 4); runs the hf adapter once per checkpoint, cached in OUT/dynamics/

    Parts not given are found under RUN_DIR by content: a dataset (dataset.json), a training
    run (run.json with trainer and stages), dig eval runs (run.json + <benchmark>/metrics.json).

    \b
    Examples:
      dig report runs/exp1
      dig report runs/exp1 --eval runs/base --eval runs/exp1/eval-trained --pairs 6 --out /tmp/r
    """
    from dig_eval.run_report.write import write_report

    path = write_report(run_dir, out, data=data, train=train, evals=list(evals) or None, progress=progress,
                        pairs=pairs)
    click.echo(f"report: {path}")
