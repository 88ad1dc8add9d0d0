"""``dig export-openrlhf``: a DiG dataset as OpenRLHF prompt files, one JSONL per curriculum stage."""

from __future__ import annotations

import click
from dig_core.cli.options import config_option, overrides_argument


@click.command("export-openrlhf")
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for <stage>.jsonl and export.json (existing files are replaced atomically).")
@click.option("--stage", "stages", multiple=True,
              help="Export only this stage (repeatable); default: every stage found in the dataset.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@config_option
@overrides_argument
def export_openrlhf(dataset: str, out_dir: str, stages: tuple[str, ...], no_progress: bool,
                    config_path: str | None, overrides: tuple[str, ...]) -> None:
    """Write DATASET as OpenRLHF prompt data: OUT/<stage>.jsonl, one line per image pair.

    Each line is {"prompt", "images", "label", "datasource"}: the prompt is two `<image>`
    placeholders (I_a, I_b) then the DiG instruction of the pair's stage (the count is given when
    the stage's count_in_prompt is set; the coordinate convention is stated, with the resized image
    size for pixel answers); "images" are absolute paths; "label" is a JSON string with what the
    reward needs (id, stage, k, boxes, width, height, coords, scale). Train with
    `--data.input_key prompt --data.label_key label --data.image_key images
    --data.apply_chat_template --data.max_images_per_prompt 2`.

    The model (trainer.params.model), its image-processor limits (trainer.params.min_pixels /
    max_pixels) and the coordinate convention (trainer.params.coords; default: the model family's,
    rel1000 for Qwen2-VL/Qwen3-VL, pixels of the resized input for Qwen2.5-VL) come from the
    config. Every prompt is checked against trainer.params.max_len - max_new_tokens with the
    model's real processor before anything is written.

    \b
    Examples:
      dig export-openrlhf data/dig --out runs/x/data trainer.params.model=/models/Qwen3-VL-8B-Thinking
      dig export-openrlhf data/dig --out out --stage dig-1 --config configs/paper.yaml
    """
    from dig_core.config import load_config

    from dig_train_openrlhf.export import export_dataset

    cfg = load_config(config_path, overrides, sections=("task", "trainer"))
    files = export_dataset(cfg, dataset, out_dir, stages=list(stages) or None, progress=not no_progress)
    for name, path in files.items():
        with open(path, encoding="utf-8") as f:
            n = sum(1 for line in f if line.strip())
        click.echo(f"{name}: {n} prompts -> {path}")
