"""SFT warm start: teach the answer format from the exact labels before GRPO.

A small or untrained model almost never writes a parsable box list, so every completion of a group
scores 0 and GRPO has no signal (``frac_reward_zero_std`` ≈ 1). The warm start trains the model, in
a plain supervised loop (cross-entropy on the answer tokens only), to answer each training prompt
with its ground truth written exactly as the prompt asks (``DigTask.format_boxes`` in the model's
coordinates and, for Qwen2.5-VL, resized-pixel scale). Every ``sft_eval_steps`` it scores greedy
answers on a fixed set of training pairs with dig-core's reward and appends the means to
``<stage>/eval.jsonl`` (``{"step", "loss", "format", "accuracy", "reward", "n"}``).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dig_core.models.vlm import opens_think
from dig_core.training.reward_log import SampleScorer

from dig_train_trl.data import Row, augment, messages, open_images, target_answer
from dig_train_trl.tracking import StageScalars

EVAL_LOG = "eval.jsonl"
#: what closes the thought a thinking model's generation prompt opened (Qwen3's empty thought)
CLOSE_THOUGHT = "\n</think>\n\n"


def _batch(processor: Any, rows: Sequence[Row], answers: Sequence[str] | None, device: Any):
    """Processor inputs for ``rows``; with ``answers``, the full conversations plus ``labels``
    (-100 on the prompt and padding), else the generation prompts (left-padded)."""
    tok = processor.tokenizer
    prompts = [processor.apply_chat_template(messages(r.text, len(r.images)), tokenize=False,
                                             add_generation_prompt=True)
               for r in rows]
    images = [open_images(r) for r in rows]
    side = tok.padding_side
    try:
        if answers is None:
            tok.padding_side = "left"
            return processor(text=prompts, images=images, padding=True, return_tensors="pt").to(device)
        tok.padding_side = "right"
        end = _turn_end(processor)
        # a prompt that opens <think> (a thinking model) is answered after an empty thought: the
        # model learns to close it, without which the reward reads no answer
        full = [p + (CLOSE_THOUGHT if opens_think(p) else "") + a + end for p, a in zip(prompts, answers)]
        enc = processor(text=full, images=images, padding=True, return_tensors="pt")
    finally:
        tok.padding_side = side
    # prompt lengths without encoding the images again: the prompt's text tokens, each image
    # placeholder expanded to the image's merged patches (the processor's own expansion)
    merge = getattr(processor.image_processor, "merge_size", 1) or 1
    per_image = (enc["image_grid_thw"].prod(dim=1) // (merge * merge)).tolist()
    labels = enc["input_ids"].clone()
    k = 0
    for i, p in enumerate(prompts):
        n_img = len(images[i])
        n = len(tok(p, add_special_tokens=False)["input_ids"]) + sum(per_image[k:k + n_img]) - n_img
        k += n_img
        labels[i, :n] = -100
    labels[enc["attention_mask"] == 0] = -100
    enc["labels"] = labels
    return enc.to(device)


def _turn_end(processor: Any) -> str:
    """What the chat template writes after an assistant message (e.g. ``<|im_end|>\\n``): the
    model learns to stop after its answer."""
    msgs = [{"role": "user", "content": [{"type": "text", "text": "q"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "ANSWER"}]}]
    try:
        text = processor.apply_chat_template(msgs, tokenize=False)
        return text[text.rindex("ANSWER") + len("ANSWER"):].rstrip("\n") or ""
    except Exception:  # noqa: BLE001 - a template without an assistant turn: no end marker
        return ""


def autocast(model: Any, bf16: bool):
    """bf16 autocast on the model's device when ``bf16`` (the weights stay float32), else nothing."""
    import torch

    device = next(model.parameters()).device
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(bf16))


def evaluate(model: Any, processor: Any, rows: Sequence[Row], scorer: SampleScorer, max_new_tokens: int,
             batch_size: int = 4, bf16: bool = False) -> dict[str, float]:
    """Mean format, accuracy and reward of greedy answers to ``rows`` (nothing is logged)."""
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    totals = {"format": 0.0, "accuracy": 0.0, "reward": 0.0}
    tok = processor.tokenizer
    try:
        for i in range(0, len(rows), batch_size):
            chunk = rows[i:i + batch_size]
            enc = _batch(processor, chunk, None, device)
            with torch.no_grad(), autocast(model, bf16):
                out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tok.pad_token_id)
            texts = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            for row, text in zip(chunk, texts):
                rec = scorer.score_sample(text, row.label)
                for k in totals:
                    totals[k] += float(rec[k])
    finally:
        model.train(was_training)
    n = max(1, len(rows))
    return {k: v / n for k, v in totals.items()} | {"n": len(rows)}


def lr_factor(schedule: str, step: int, steps: int, warmup_steps: int) -> float:
    """The learning-rate multiplier of 0-based optimiser ``step`` of ``steps``: linear warm-up over
    ``warmup_steps``, then constant, or a cosine / linear decay to 0 at ``steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    done = (step - warmup_steps) / max(1, steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * done)) if schedule == "cosine" else max(0.0, 1.0 - done)


def run_sft(model: Any, processor: Any, task: Any, rows: Sequence[Row], scorer: SampleScorer, *, steps: int,
            lr: float, batch_size: int, seed: int, eval_rows: Sequence[Row], eval_steps: int,
            max_new_tokens: int, stage_dir: Path, train_log: Path, echo: Callable[[str], None],
            progress: bool = True, lr_schedule: str = "constant", warmup_steps: int = 0,
            weight_decay: float = 0.0, report_to: Sequence[str] = (),
            augmentations: Sequence[str] = (), bf16: bool = False) -> list[dict[str, Any]]:
    """Train ``steps`` optimiser steps of ``batch_size`` pairs (shuffled passes over ``rows``, each
    drawn row augmented by :func:`~dig_train_trl.data.augment` with ``augmentations``) with AdamW at
    ``lr`` × :func:`lr_factor`; returns the eval records (also appended to ``stage_dir/eval.jsonl``).
    ``bf16``: forward passes under bf16 autocast; the weights and AdamW's step stay float32."""
    import torch
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    rng = random.Random(seed)
    device = next(model.parameters()).device
    gen_tokens = max_new_tokens
    if eval_rows:
        longest = max(len(processor.tokenizer(target_answer(task, r))["input_ids"]) for r in eval_rows)
        gen_tokens = min(max_new_tokens, longest + 8)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: lr_factor(lr_schedule, i, steps, warmup_steps))
    eval_path = stage_dir / EVAL_LOG
    eval_path.unlink(missing_ok=True)  # the warm start reruns from its beginning
    history: list[dict[str, Any]] = []
    tb = StageScalars(report_to, stage_dir / "tensorboard")  # train/loss, eval/reward... in TensorBoard

    def do_eval(step: int, loss: float | None) -> None:
        if not eval_rows:
            return
        rec = {"step": step, "loss": loss, **evaluate(model, processor, eval_rows, scorer, gen_tokens, bf16=bf16)}
        history.append(rec)
        with open(eval_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        tb.add(step, {k: rec[k] for k in ("format", "accuracy", "reward")}, prefix="eval/")
        echo(f"sft step {step}: loss {loss if loss is None else round(loss, 4)}, greedy format "
             f"{rec['format']:.3f}, accuracy {rec['accuracy']:.3f}, reward {rec['reward']:.3f}")

    order: list[Row] = []
    model.train()
    do_eval(0, None)
    loss_val = math.nan
    with tqdm(total=steps, desc="sft warm start", unit="step", disable=not progress) as bar, \
            open(train_log, "a") as log:
        for step in range(1, steps + 1):
            batch = []
            while len(batch) < batch_size:
                if not order:
                    order = list(rows)
                    rng.shuffle(order)
                batch.append(augment(order.pop(), augmentations, rng))
            enc = _batch(processor, batch, [target_answer(task, r) for r in batch], device)
            with autocast(model, bf16):
                loss = model(**enc).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            lr_now = sched.get_last_lr()[0]
            sched.step()
            loss_val = float(loss.detach())
            log.write(json.dumps({"step": step, "loss": loss_val, "learning_rate": lr_now}) + "\n")
            tb.add(step, {"loss": loss_val, "learning_rate": lr_now})
            bar.update(1)
            bar.set_postfix(loss=f"{loss_val:.3f}")
            if step % eval_steps == 0 and step != steps:
                do_eval(step, loss_val)
    do_eval(steps, loss_val)
    tb.close()
    model.eval()
    return history
