"""``dig train``: run the curriculum with the configured trainer plugin."""

from __future__ import annotations

import click

from dig_core.options import config_option, overrides_argument

#: config sections ``dig train`` uses (never the renderer: a GPU box has no Blender)
TRAIN_SECTIONS = ("task", "reward", "curriculum.advance", "trainer")
#: what to install when no trainer is installed
TRAINER_PACKAGES = ("dig-train-openrlhf", "dig-train-trl")


def resolve_trainer(cfg, pm=None):
    """The trainer named by ``trainer.name``; when unset, the only installed one. Sets
    ``cfg.trainer.name`` to the one chosen and returns it built with its validated params."""
    from dig_core.config import instantiate
    from dig_core.errors import ConfigError, PluginError
    from dig_core.plugins import get_plugin_manager

    pm = pm or get_plugin_manager()
    if cfg.trainer.name is None:
        available = pm.available("trainer")
        if not available:
            raise PluginError(
                "no trainer installed: `pip install dig-train-trl` (GRPO on TRL; CPU or one GPU) or "
                "`pip install dig-train-openrlhf` (GRPO on OpenRLHF + vLLM; GPU clusters), see docs/training.md")
        if len(available) > 1:
            raise ConfigError(f"trainer.name is not set and several trainers are installed: {', '.join(available)}; "
                              f"choose one, e.g. trainer.name={available[0]}")
        cfg.trainer.name = available[0]
    return instantiate(cfg, "trainer", "trainer", pm)


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
