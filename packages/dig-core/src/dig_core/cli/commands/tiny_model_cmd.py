"""``dig tiny-model``: build a tiny random Qwen-VL model folder locally (tests, smoke runs)."""

from __future__ import annotations

import click

from dig_core.models.tiny import SIZES, TINY_FAMILIES


@click.command("tiny-model")
@click.option("--family", type=click.Choice(TINY_FAMILIES), required=True,
              help="Architecture to build: qwen2_5_vl (answers in resized pixels) or qwen3_vl (0-1000).")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True,
              help="Folder to create; it must not exist or be empty (see --overwrite).")
@click.option("--size", type=click.Choice(list(SIZES)), default="test", show_default=True,
              help="test: ~0.6 M parameters, for tests and smoke runs (random text); nano: ~1.9 M parameters "
                   "(patch 8), sized to learn DiG from scratch on a CPU (docs/models.md).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random weights.")
@click.option("--min-pixels", type=int, default=None,
              help="Image processor's min_pixels [default: 4 merged patches, e.g. 4096 for a test Qwen3-VL].")
@click.option("--max-pixels", type=int, default=None,
              help="Image processor's max_pixels [default: 256 merged patches, e.g. 200704 for a test "
                   "Qwen2.5-VL, 65536 for a nano Qwen3-VL].")
@click.option("--overwrite", is_flag=True, help="Replace an existing non-empty --out folder.")
def tiny_model(family: str, out: str, size: str, seed: int, min_pixels: int | None, max_pixels: int | None,
               overwrite: bool) -> None:
    """Build a small Qwen-VL model with random weights into OUT, with no hub access.

    The folder holds the family's real architecture (size test: hidden 64, 2 layers, vision depth 2;
    size nano: hidden 128, 4 layers, vision 96 x 3 with patch 8), a byte-level BPE tokenizer trained
    locally (digits are single tokens), the family's image processor and chat template. It loads with
    transformers' AutoProcessor / AutoModelForImageTextToText offline. A test model's answers are
    random text: use it for tests and smoke runs of export, training and evaluation pipelines. A nano
    model (best: --family qwen3_vl) is what the DiG-nano study trains from scratch
    (configs/pipelines/nano.yaml). Needs the hf extra: pip install 'dig-core[hf]'.
    """
    from dig_core.models.tiny import build_tiny_vlm

    path = build_tiny_vlm(family, out, seed=seed, min_pixels=min_pixels, max_pixels=max_pixels,
                          overwrite=overwrite, size=size)
    click.echo(f"wrote tiny {family} ({size}, seed {seed}) to {path}")
