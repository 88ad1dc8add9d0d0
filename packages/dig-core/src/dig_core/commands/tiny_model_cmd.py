"""``dig tiny-model``: build a tiny random Qwen-VL model folder locally (tests, smoke runs)."""

from __future__ import annotations

import click

from dig_core.tiny_models import TINY_FAMILIES


@click.command("tiny-model")
@click.option("--family", type=click.Choice(TINY_FAMILIES), required=True,
              help="Architecture to build: qwen2_5_vl (answers in resized pixels) or qwen3_vl (0-1000).")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True,
              help="Folder to create; it must not exist or be empty (see --overwrite).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random weights.")
@click.option("--min-pixels", type=int, default=None,
              help="Image processor's min_pixels [default: 4 merged patches: 3136 (2.5-VL), 4096 (3-VL)].")
@click.option("--max-pixels", type=int, default=None,
              help="Image processor's max_pixels [default: 256 merged patches: 200704 (2.5-VL), 262144 (3-VL)].")
@click.option("--overwrite", is_flag=True, help="Replace an existing non-empty --out folder.")
def tiny_model(family: str, out: str, seed: int, min_pixels: int | None, max_pixels: int | None,
               overwrite: bool) -> None:
    """Build a tiny Qwen-VL model with random weights into OUT, with no hub access.

    The folder holds the family's real architecture (hidden size 64, 2 layers, vision depth 2), a
    byte-level BPE tokenizer trained locally, the family's image processor and chat template. It
    loads with transformers' AutoProcessor / AutoModelForImageTextToText offline; its answers are
    random text. Use it for tests and smoke runs of export, training and evaluation pipelines.
    Needs the hf extra: pip install 'dig-core[hf]'.
    """
    from dig_core.tiny_models import build_tiny_vlm

    path = build_tiny_vlm(family, out, seed=seed, min_pixels=min_pixels, max_pixels=max_pixels,
                          overwrite=overwrite)
    click.echo(f"wrote tiny {family} (seed {seed}) to {path}")
