"""``dig train``: run the curriculum with the configured trainer plugin."""

from __future__ import annotations

import click

from dig_core.cli.options import config_option, overrides_argument
from dig_core.training import TRAIN_SECTIONS, resolve_trainer


@click.command()
@config_option
@click.option("--dry-run", is_flag=True,
              help="Print what each unfinished stage would run (the exact commands), run nothing.")
@overrides_argument
def train(config_path: str | None, dry_run: bool, overrides: tuple[str, ...]) -> None:
    """Train a model on a DiG dataset through the curriculum stages, with the trainer plugin of
    `trainer.name` (when unset and exactly one trainer is installed, that one).

    Each curriculum stage starts from the previous stage's checkpoint. Everything goes to the run
    folder (trainer.params.run_dir): <stage>/train.log, <stage>/rewards.jsonl, <stage>/checkpoint
    and a <stage>/DONE marker. Rerunning the same command skips finished stages and continues.
    `dig plot-rewards RUN_DIR --out curve.png` draws the reward curves.

    \b
    Examples:
      dig train --config configs/paper.yaml trainer.params.data=data/dig-4.8k --dry-run
      dig train --config configs/paper.yaml trainer.params.data=data/dig-4.8k \\
          trainer.params.model=/models/Qwen3-VL-8B-Thinking trainer.params.run_dir=runs/paper
    """
    from dig_core.config import load_config

    cfg = load_config(config_path, overrides, sections=TRAIN_SECTIONS)
    trainer = resolve_trainer(cfg)
    mode = " (dry run)" if dry_run else ""
    click.echo(f"trainer {cfg.trainer.name}{mode}: {len(cfg.curriculum.stages)} stages, run folder "
               f"{trainer.run_root()}")
    trainer.train(cfg, dry_run=dry_run, echo=click.echo)
