"""dig-eval's CLI commands (registered by plugin.py): ``dig eval`` (run, compare) and
``dig show-predictions``."""

from __future__ import annotations

from pathlib import Path

import click
from dig_core.cli.options import config_option, overrides_argument


def default_out(cfg) -> Path:
    """``runs/<adapter>-<model folder name>``: the same command resumes the same folder."""
    name = cfg.model.name or "model"
    path = (cfg.model.params or {}).get("path") if cfg.model.params is not None else None
    stem = Path(str(path)).name if path else ""
    return Path("runs") / (f"{name}-{stem}" if stem else name)


def _run(config_path: str | None, out: str | None, progress: bool, overrides: tuple[str, ...]) -> None:
    from dig_core.config import load_config

    from dig_eval.run import SECTIONS, run_eval

    cfg = load_config(config_path, overrides, sections=SECTIONS)
    out_dir = Path(out) if out else default_out(cfg)
    results = run_eval(cfg, out_dir, progress=progress)
    for bench, res in results.items():
        c = res["counts"]
        gap = ""
        if c["missing"]:
            gap = f", {c['missing']} missing " + ("scored as wrong" if res["missing"]["policy"] == "wrong" else "excluded")
        click.echo(f"{bench}: scored {c['scored']} of {c['samples']} ({c['reused']} reused, {c['generated']} generated"
                   f"{gap}) -> {out_dir / bench}")
    click.echo((out_dir / "results.md").read_text())


_out = click.option("--out", "-o", type=click.Path(file_okay=False), default=None,
                    help="Run folder (default runs/<adapter>-<model folder>); rerun to resume.")
_progress = click.option("--progress/--no-progress", default=True, show_default=True, help="Show the progress bar.")


class EvalGroup(click.Group):
    """``dig eval [OPTIONS] [KEY=VALUE]...`` runs an eval (the ``run`` subcommand); ``dig eval
    compare ...`` compares runs."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "run", self.commands["run"], args
        return super().resolve_command(ctx, args)


@click.group("eval", cls=EvalGroup, invoke_without_command=True,
             subcommand_metavar="[KEY=VALUE]... | compare RUN... | run [KEY=VALUE]...")
@config_option
@_out
@_progress
@click.pass_context
def eval_group(ctx: click.Context, config_path: str | None, out: str | None, progress: bool) -> None:
    """Evaluate a model on DiG pairs and benchmarks, or compare runs.

    The config's `model: {name, params}` picks the adapter (hf, vllm, predictions) and
    `evaluator` / `evaluators: [...]` the benchmarks. Writes RUN/<benchmark>/predictions.jsonl,
    scores.jsonl, metrics.json and RUN/results.md; rerunning the same command resumes.

    A sample without an answer (a predictions file lacking its line) is warned about, listed in
    metrics.json and scored as a wrong answer, as the official protocols count every question;
    the evaluator param `missing: exclude` (evaluator.params.missing=exclude) leaves such samples
    out of the metrics instead (partial runs). `dig eval compare` marks runs whose missing
    answers differ.

    \b
    Examples:
      dig eval --config eval.yaml --out runs/base
      dig eval model.name=hf model.params.path=ckpt/step-200 evaluator.name=dig \\
               evaluator.params.dataset=dig-bench --out runs/step-200
      dig eval model.name=predictions model.params.path=answers.jsonl model.params.coords=rel1000 \\
               evaluator.name=dig evaluator.params.dataset=dig-bench
      dig eval compare runs/base runs/step-200
    """
    ctx.obj = {"config_path": config_path, "out": out, "progress": progress}
    if ctx.invoked_subcommand is None:
        _run(config_path, out, progress, ())


@eval_group.command("run")
@config_option
@_out
@click.option("--progress/--no-progress", default=None, help="Show the progress bar (default: yes).")
@overrides_argument
@click.pass_context
def run_cmd(ctx: click.Context, config_path: str | None, out: str | None, progress: bool | None,
            overrides: tuple[str, ...]) -> None:
    """Run the configured evaluators (what `dig eval [KEY=VALUE]...` does)."""
    parent = ctx.obj or {}
    _run(config_path or parent.get("config_path"), out or parent.get("out"),
         progress if progress is not None else parent.get("progress", True), overrides)


@eval_group.command("compare")
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--out", "-o", "out_file", type=click.Path(dir_okay=False), default=None,
              help="Also write the markdown table to this file.")
@click.option("--breakdown", is_flag=True, help="Add the breakdown rows (metric/group: by K, by edit type, ...).")
@click.option("--benchmark", "-b", "benchmarks", multiple=True, help="Only these benchmarks (repeatable).")
def compare_cmd(runs: tuple[str, ...], out_file: str | None, breakdown: bool, benchmarks: tuple[str, ...]) -> None:
    """Side-by-side table of RUNS: benchmark x metric rows, one column per run, deltas against the
    first run (like the paper's Tables 1-3). Markdown on stdout.

    Example: dig eval compare runs/base runs/dig-step-400 --out table.md
    """
    from dig_core.data.io import atomic_write_text, ensure_folder

    from dig_eval.compare import compare_markdown

    text = compare_markdown(list(runs), breakdown=breakdown, benchmarks=list(benchmarks) or None)
    if out_file:
        ensure_folder(Path(out_file).parent)
        atomic_write_text(out_file, text)
    click.echo(text, nl=False)


@click.command("show-predictions")
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--dataset", "-d", required=True, type=click.Path(file_okay=False), help="The DiG dataset the runs evaluated.")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="PNG file to write.")
@click.option("--n", "n", default=8, show_default=True, help="Number of pairs (the first predicted ones).")
@click.option("--ids", default=None, help="Comma-separated pair ids instead of the first N.")
@click.option("--benchmark", "-b", default="dig", show_default=True,
              help="The run sub-folder to read (the dig evaluator's name).")
def show_predictions(runs: tuple[str, ...], dataset: str, out: str, n: int, ids: str | None, benchmark: str) -> None:
    """Draw predicted (red) vs ground-truth (green) boxes on DiG pairs: one row per pair, one
    column per run (e.g. checkpoints), each cell I_a | I_b with the run's F1 and mIoU.

    Example: dig show-predictions runs/base runs/step-400 --dataset dig-bench --out fig4.png --n 6
    """
    from dig_eval.show import prediction_sheet

    wanted = [i.strip() for i in ids.split(",") if i.strip()] if ids else None
    count = prediction_sheet(list(runs), dataset, out, n=n, ids=wanted, benchmark=benchmark)
    click.echo(f"drew {count} pairs x {len(runs)} run(s) to {out}")


COMMANDS: list = [eval_group, show_predictions]
