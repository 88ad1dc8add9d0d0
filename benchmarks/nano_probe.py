"""How fast does a from-scratch nano model learn to *locate*, and which skill blocks it? Minutes, not hours.

The DiG-nano recipe search (docs/training.md) needs answers faster than a Blender render plus a
2,000-step base stage. This probe builds the nano Qwen3-VL (``dig tiny-model --size nano``), draws
flat-colour squares on a grey 192x128 canvas (PIL, seconds; the probe's only stand-in is the image
source — the model, the prompts, the answer format, the SFT loop (``dig_train_trl.sft.run_sft``) and
the scoring (dig-core's reward) are the trainer's own) and trains one of three skills:

* ``locate``: one square per image, "box the square" - reading *where* something is;
* ``bind``: 1-4 squares of distinct colours, "box the red square" - tying a description to a place
  (the base-model stage's grounding);
* ``diff``: a pair whose I_b recolours one of 1-4 squares, the DiG prompt with k = 1 - DiG-1.

It prints, per eval step, the held-out greedy reward and its accuracy part (the reward's
F1/mIoU mix, dig_core.reward) on 64 unseen images, and the training loss and seconds per step::

    python benchmarks/nano_probe.py --skill locate --steps 600 --lr 4e-3
    python benchmarks/nano_probe.py --skill diff --objects 1 --steps 600 --library-prompts
    python benchmarks/nano_probe.py --skill diff --objects 2 --steps 500 --text-layers 8

The prompts are configs/nano.yaml's short ones; ``--library-prompts`` asks with dig-core's default
(~140-token) DiG and grounding prompts instead, the comparison of docs/training.md.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from dig_core.reward import iou_matrix

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "nano.yaml"
W, H = 192, 128
COLORS = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (50, 70, 210), "yellow": (220, 200, 40),
          "purple": (140, 50, 170), "cyan": (40, 190, 200)}
SKILLS = ("locate", "bind", "diff")


def squares(rng: random.Random, n: int) -> list[tuple[int, int, int, int]]:
    """``n`` non-overlapping squares of side 14-40 px (the nano renders' objects are ≈ 22 px)."""
    boxes: list[tuple[int, int, int, int]] = []
    while len(boxes) < n:
        s = rng.randint(14, 40)
        x, y = rng.randint(0, W - s), rng.randint(0, H - s)
        b = (x, y, x + s, y + s)
        if not boxes or not iou_matrix(np.array([b], float), np.array(boxes, float)).any():
            boxes.append(b)
    return boxes


def draw(path: Path, boxes, colors) -> str:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (W, H), (120, 120, 120))
    d = ImageDraw.Draw(im)
    for b, c in zip(boxes, colors):
        d.rectangle(b, fill=COLORS[c])
    im.save(path)
    return str(path)


def make_rows(skill: str, n: int, folder: Path, task, seed: int, objects: tuple[int, int] = (1, 4)):
    from dig_core.grounding import grounding_prompt
    from dig_core.training.labels import Label
    from dig_train_trl.data import Row

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        count = 1 if skill == "locate" else rng.randint(*objects)
        boxes, colors = squares(rng, count), rng.sample(list(COLORS), count)
        k = rng.randrange(count)
        label = Label(f"{i}", skill, 1, (tuple(float(v) for v in boxes[k]),), float(W), float(H), "rel1000", None)
        if skill == "diff":
            edited = colors[:k] + [rng.choice([c for c in COLORS if c != colors[k]])] + colors[k + 1:]
            images = (draw(folder / f"{i}_a.png", boxes, colors), draw(folder / f"{i}_b.png", boxes, edited))
            rows.append(Row(f"{i}", skill, task.prompt(W, H, 1), images, label))
            continue
        desc = "square" if skill == "locate" else f"{colors[k]} square"
        text = grounding_prompt(task, desc, W, H)
        rows.append(Row(f"{i}", skill, text, (draw(folder / f"{i}.png", boxes, colors),), label, one_box=True))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skill", choices=SKILLS, default="locate")
    ap.add_argument("--steps", type=int, default=600, help="optimiser steps (batch --batch-size)")
    ap.add_argument("--lr", type=float, default=4e-3, help="peak learning rate (cosine after 50 warm-up steps)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--images", type=int, default=3000, help="training images (pairs for diff)")
    ap.add_argument("--eval-steps", type=int, default=150)
    ap.add_argument("--library-prompts", action="store_true",
                    help="dig-core's default DiG and grounding prompts instead of configs/nano.yaml's short ones")
    ap.add_argument("--objects", default="1-4", metavar="MIN-MAX",
                    help="squares per image for bind and diff (e.g. 2, or 1-4): a curriculum in the number of objects")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--text-layers", type=int, help="text decoder layers of the new nano model (default: the nano size's 4)")
    ap.add_argument("--model", help="start from this model folder (e.g. a --save of another skill) instead of a new nano model")
    ap.add_argument("--save", help="save the trained model and its processor to this folder")
    a = ap.parse_args()
    lo, _, hi = a.objects.partition("-")
    objects = (int(lo), int(hi or lo)) if (lo + hi).isdigit() else (0, 0)
    if not 1 <= objects[0] <= objects[1] <= len(COLORS):
        ap.error(f"--objects {a.objects!r}: want MIN-MAX with 1 <= MIN <= MAX <= {len(COLORS)}")

    from dig_core.config import load_config
    from dig_core.models.tiny import build_tiny_vlm
    from dig_core.training.reward_log import SampleScorer
    from dig_train_trl.data import answer_task
    from dig_train_trl.sft import run_sft
    from transformers import AutoModelForImageTextToText, AutoProcessor

    cfg = load_config(CONFIG, sections=("task", "reward"))
    task = answer_task(cfg, "rel1000")
    if a.library_prompts:
        from dig_core.task import DigTaskConfig

        task = type(task)(DigTaskConfig(coords="rel1000"))
    with tempfile.TemporaryDirectory(prefix="dig-nano-probe-") as tmp:
        root = Path(tmp)
        size = "nano"
        if a.text_layers:  # a nano model with a deeper text stack (selection may need more hops)
            import dataclasses

            from dig_core.models.tiny import SIZES

            size = f"nano-{a.text_layers}-layers"
            SIZES[size] = dataclasses.replace(SIZES["nano"], layers=a.text_layers)
        model_dir = a.model or build_tiny_vlm("qwen3_vl", root / "model", seed=a.seed, size=size)
        (root / "img").mkdir()
        rows = make_rows(a.skill, a.images + 64, root / "img", task, a.seed, objects)
        processor = AutoProcessor.from_pretrained(model_dir, local_files_only=True)
        model = AutoModelForImageTextToText.from_pretrained(model_dir, local_files_only=True)
        t0 = time.time()
        history = run_sft(model, processor, task, rows[:a.images], SampleScorer(cfg), steps=a.steps, lr=a.lr,
                          batch_size=a.batch_size, seed=a.seed, eval_rows=rows[a.images:], eval_steps=a.eval_steps,
                          max_new_tokens=32, stage_dir=root, train_log=root / "train.jsonl",
                          echo=lambda s: print(s, flush=True), lr_schedule="cosine", warmup_steps=50)
        per_step = (time.time() - t0) / a.steps
        if a.save:
            model.save_pretrained(a.save)
            processor.save_pretrained(a.save)
        losses = [json.loads(line)["loss"] for line in open(root / "train.jsonl")]
    start = f"from {a.model}" if a.model else f"from scratch ({a.text_layers or 4} text layers)"
    print(f"\nskill {a.skill} ({a.objects} objects) {start}, lr {a.lr}, batch {a.batch_size}, {a.images} images, "
          f"{'library' if a.library_prompts else 'short'} prompts; {per_step:.2f} s/step incl. evals")
    print("step | train loss (mean of 50) | held-out reward | held-out accuracy part")
    print("--- | --- | --- | ---")
    for rec in history:
        s = rec["step"]
        window = losses[max(0, s - 50):s]
        loss = f"{sum(window) / len(window):.3f}" if window else "-"
        print(f"{s} | {loss} | {rec['reward']:.3f} | {rec['accuracy']:.3f}")


if __name__ == "__main__":
    main()
