"""``dig run PIPELINE.yaml``: run a pipeline of named steps into one run folder (docs/pipeline.md)."""

from __future__ import annotations

import click

from dig_core.cli.options import overrides_argument


@click.command("run")
@click.argument("pipeline", type=click.Path(dir_okay=False))
@click.option("--out", "-o", default=None, type=click.Path(file_okay=False),
              help="Run folder (the file's run_dir; default runs/<file name>).")
@click.option("--from", "from_step", default=None, metavar="STEP",
              help="Run STEP and every step after it again from scratch, whatever their records say.")
@click.option("--to", "to_step", default=None, metavar="STEP",
              help="Stop after STEP (e.g. only the generate steps on a render box).")
@click.option("--dry-run", is_flag=True, help="Print each step's plan (run, rerun, resume, skip) and why; write nothing.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@overrides_argument
def run(pipeline: str, out: str | None, from_step: str | None, to_step: str | None, dry_run: bool,
        no_progress: bool, overrides: tuple[str, ...]) -> None:
    """Run the steps of PIPELINE (generate, train, eval, report, ...) into one run folder.

    Each step writes RUN_DIR/<step>; steps refer to earlier steps' outputs as
    ${steps.<name>.out} (train also has ${steps.<name>.checkpoint}). RUN_DIR/pipeline.json records
    each step's fingerprint (type, params, config, inputs): a rerun skips steps that are unchanged
    and finished, resumes an interrupted one, and reruns from scratch (clearing its folder) a step
    whose inputs or config changed, naming what changed; the steps after it that use its output
    rerun too. All problems of the file (unknown step types, references to missing steps, cycles,
    bad config keys) are reported at once before anything runs. Step types: `dig plugins`
    (kind pipeline_step) and docs/pipeline.md.

    Overrides: run_dir=DIR, vars.NAME=VALUE, steps.STEP.params.KEY=VALUE, config.KEY=VALUE (every
    step's DiG config), steps.STEP.config.KEY=VALUE (one step's).

    \b
    Examples:
      dig run configs/pipelines/demo.yaml                  # CPU, minutes, for real
      dig run configs/pipelines/demo.yaml --dry-run        # what would run, and why
      dig run configs/pipelines/demo.yaml --from train     # train, eval and report again
      dig run configs/pipelines/paper.yaml --to bench      # the data only (a render box)
      dig run configs/pipelines/paper.yaml vars.model=/models/Qwen3-VL-8B-Thinking
    """
    from dig_core.pipeline.runner import run_pipeline
    from dig_core.pipeline.spec import load_pipeline

    spec = load_pipeline(pipeline, overrides, run_dir=out)
    run_pipeline(spec, from_step=from_step, to_step=to_step, dry_run=dry_run, echo=click.echo,
                 progress=not no_progress)
