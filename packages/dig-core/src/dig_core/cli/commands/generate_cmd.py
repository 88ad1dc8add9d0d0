"""``dig generate``: the main job."""

from __future__ import annotations

import json

import click

from dig_core.cli.options import config_option, overrides_argument
from dig_core.config import load_config


@click.command()
@config_option
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False),
              help="Dataset folder to create (missing or empty), or to resume if a run with the same config "
                   "was interrupted. One dig generate writes a folder at a time.")
@click.option("--no-progress", is_flag=True, help="No progress bar (also: generate.progress=false).")
@overrides_argument
def generate(config_path: str | None, out: str, no_progress: bool, overrides: tuple[str, ...]) -> None:
    """Render a DiG dataset: image pairs that differ in K edited objects, with difference boxes.

    Samples a base scene and K edits per pair for each curriculum stage, renders both scenes
    (renderer.name, default `blender`), labels boxes from the instance maps, rejects and resamples
    pairs whose differences are not visible, and writes OUT/dataset.json (manifest, with a content
    hash once complete: `dig verify OUT`), OUT/metadata.jsonl, OUT/README.md and OUT/images/;
    `datasets.load_dataset("OUT")` loads it. Ctrl-C (SIGINT) or SIGTERM stops within one pair and
    keeps what finished; rerunning the same command after an interruption continues where it stopped.

    \b
    Examples:
      dig generate --out demo
      dig generate --config configs/paper.yaml --out dig-4.8k generate.workers=2
      dig generate --out small curriculum.stages[0].pairs=10 scene.max_objects=6 seed=7
      dig generate --config configs/dig-bench.yaml --out dig-bench
    """
    from dig_core.generate import generate as run

    cfg = load_config(config_path, overrides, sections=("renderer",))
    manifest = run(cfg, out, progress=False if no_progress else None)
    counts = manifest["counts"]
    click.echo(f"wrote {counts['pairs']} pairs to {out}")
    click.echo(f"  by stage: {json.dumps(counts['by_stage'])}")
    click.echo(f"  by type:  {json.dumps(counts['by_type'])}")
    click.echo(f"  rejected renders (resampled): {json.dumps(counts['rejected'])}")
    click.echo(f"  content hash: {manifest['content_hash']} (check a copy with: dig verify {out})")
