"""Reward throughput (parse + match + score) against a straightforward per-sample implementation,
and a parser fuzz run.

    python benchmarks/reward.py [--n 20000] [--repeat 3] [--fuzz 100000] [--seed 0] [--openrlhf-n 5000]

Completions are realistic for a thinking model: a few hundred characters of reasoning (sometimes
with stray numbers and lists), then <= 8 boxes in one of the answer formats the parser reads;
samples have <= 4 ground-truth boxes. Runs on one core (set OMP/OPENBLAS threads to 1 if needed).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time

import numpy as np
from dig_core.reward import DigReward
from dig_core.scoring import score_answer
from dig_core.task import DigTask
from dig_core.training.labels import Label
from scipy.optimize import linear_sum_assignment

W, H = 480, 320

THOUGHTS = [
    "Let me compare the two images carefully. The red cube on the left looks the same in both.",
    "In the second image the sphere near [120, 80] seems a bit larger, but maybe it is the lighting.",
    "I count the objects: 6 in the first image and 7 in the second, so something was added.",
    "The metal cylinder at the back changed color from blue to green, I think.",
    "Wait, let me re-check the small rubber object; its shape looks different (cube vs cylinder).",
    "Coordinates should be in pixels of the 480x320 image, top-left is (0, 0).",
]


def _gt(rng: random.Random) -> list[list[int]]:
    boxes = []
    for _ in range(rng.randint(1, 4)):
        x0, y0 = rng.randint(0, W - 60), rng.randint(0, H - 60)
        boxes.append([x0, y0, x0 + rng.randint(15, 60), y0 + rng.randint(15, 60)])
    return boxes


def _pred(rng: random.Random, gt: list[list[int]]) -> list[list[int]]:
    out = [[v + rng.randint(-6, 6) for v in b] for b in gt if rng.random() < 0.8]
    while len(out) < 8 and rng.random() < 0.4:
        x0, y0 = rng.randint(0, W - 40), rng.randint(0, H - 40)
        out.append([x0, y0, x0 + rng.randint(10, 40), y0 + rng.randint(10, 40)])
    rng.shuffle(out)
    return out[:8]


def _answer(rng: random.Random, boxes: list[list[int]]) -> str:
    plain = "[" + ", ".join(f"[{a}, {b}, {c}, {d}]" for a, b, c, d in boxes) + "]"
    style = rng.randrange(6)
    if style == 0:
        return plain
    if style == 1:
        return f"<answer>{plain}</answer>"
    if style == 2:
        return f"```json\n{json.dumps(boxes)}\n```"
    if style == 3:
        return "```json\n" + json.dumps([{"bbox_2d": b, "label": "difference"} for b in boxes], indent=2) + "\n```"
    if style == 4:
        return "The differences are at " + " and ".join(str(b) for b in boxes) + "."
    return "" if rng.random() < 0.5 else "I could not find any difference."  # format failure


def make_batch(n: int, seed: int):
    rng = random.Random(seed)
    completions, gts = [], []
    for _ in range(n):
        gt = _gt(rng)
        thinking = " ".join(rng.choice(THOUGHTS) for _ in range(rng.randint(2, 6)))
        completions.append(f"<think>\n{thinking}\n</think>\n\n{_answer(rng, _pred(rng, gt))}")
        gts.append(gt)
    return completions, gts


# -- the straightforward reference -------------------------------------------------------------------
def naive_parse(text: str, w: float, h: float) -> list[list[float]]:
    if "</think>" in text:
        text = text.split("</think>")[-1]
    m = re.search(r"<answer>(.*?)</answer>", text, re.S)
    if m:
        text = m.group(1)
    m = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if m:
        text = m.group(1)
    boxes = []
    try:
        data = json.loads(text.strip())
        for item in data if isinstance(data, list) else []:
            if isinstance(item, dict):
                item = item.get("bbox_2d", item.get("bbox"))
            if isinstance(item, list) and len(item) == 4:
                boxes.append([float(v) for v in item])
    except (ValueError, TypeError):
        num = r"-?\d+(?:\.\d+)?"
        for g in re.findall(rf"\[\s*({num})\s*,\s*({num})\s*,\s*({num})\s*,\s*({num})\s*\]", text):
            boxes.append([float(v) for v in g])
    out = []
    for x0, y0, x1, y1 in boxes:
        x0, x1 = sorted((x0, x1))
        y0, y1 = sorted((y0, y1))
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 > x0 and y1 > y0:
            out.append([x0, y0, x1, y1])
    return out


def naive_reward(pred, gt, lam_f1=0.5, lam_iou=0.5, alpha=0.1, thr=0.5) -> float:
    fmt = 1.0 if pred else 0.0
    if not pred:
        return alpha * fmt
    iou = np.zeros((len(pred), len(gt)))
    for i, p in enumerate(pred):
        for j, g in enumerate(gt):
            iw = max(0.0, min(p[2], g[2]) - max(p[0], g[0]))
            ih = max(0.0, min(p[3], g[3]) - max(p[1], g[1]))
            inter = iw * ih
            union = (p[2] - p[0]) * (p[3] - p[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter
            iou[i, j] = inter / union if union > 0 else 0.0
    rows, cols = linear_sum_assignment(-iou)
    matched = [iou[r, c] for r, c in zip(rows, cols) if iou[r, c] >= thr]
    n_m = len(matched)
    p, r = n_m / len(pred), n_m / len(gt)
    f1 = 2 * p * r / (p + r) if n_m else 0.0
    miou = sum(matched) / n_m if n_m else 0.0
    return (1 - alpha) * (lam_f1 * f1 + lam_iou * miou) + alpha * fmt


# -- runs ----------------------------------------------------------------------------------------------
def _rate(fn, n: int, repeat: int, clock=time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = clock()
        fn()
        best = min(best, clock() - t)
    return n / best


def bench(n: int, repeat: int, seed: int) -> None:
    completions, gts = make_batch(n, seed)
    sizes = [(W, H)] * n
    task, reward = DigTask(), DigReward()
    labels = [Label(str(i), "bench", len(g), tuple(map(tuple, g)), w, h, "pixels", None)
              for i, (g, (w, h)) in enumerate(zip(gts, sizes))]

    def score_all() -> list[float]:
        return [score_answer(task, reward, c, lab).result.reward for c, lab in zip(completions, labels)]

    real = score_all()
    ref = [naive_reward(naive_parse(c, W, H), g) for c, g in zip(completions, gts)]
    agree = sum(abs(a - b) < 1e-9 for a, b in zip(real, ref))
    fast = _rate(score_all, n, repeat)
    slow = _rate(lambda: [naive_reward(naive_parse(c, W, H), g) for c, g in zip(completions, gts)], n, repeat)
    parse_only = _rate(lambda: [task.parse(c, W, H) for c in completions], n, repeat)
    print(f"batch of {n} completions (<= 4 GT, <= 8 predicted boxes, thinking text), best of {repeat}:")
    print(f"  dig_core task.parse only:        {parse_only:10,.0f} completions/s")
    print(f"  dig_core score_answer:           {fast:10,.0f} completions/s  (all components)")
    print(f"  naive per-sample reference:      {slow:10,.0f} completions/s")
    print(f"  speed-up: {fast / slow:.2f}x   rewards equal to the reference on {agree}/{n} samples")


# -- the OpenRLHF reward module (dig-train-openrlhf) ---------------------------------------------------
#: two 480x320 images for Qwen2.5-VL at max_pixels 256*28*28: 187 image tokens each, expanded in the query
OPENRLHF_PADS = 187


def bench_openrlhf(n: int, repeat: int, seed: int, group: int = 8) -> None:
    """``reward_func`` called as OpenRLHF 0.11 calls it: one query per call (decoded prompt with every
    image pad expanded + response + ``<|im_end|>``), the label as the exported JSON string (one per
    prompt, shared by its ``group`` rollouts), appending each sample to a real rewards.jsonl."""
    import tempfile

    try:
        from dig_train_openrlhf.reward_module import RewardFunction, load_reward_config
    except ModuleNotFoundError as e:
        if e.name != "dig_train_openrlhf":
            raise
        print("OpenRLHF reward module: dig-train-openrlhf is not installed, row skipped")
        return
    import logging

    logging.getLogger("dig_train_openrlhf.reward").setLevel(logging.ERROR)  # format-0 warnings are expected
    completions, gts = make_batch(n, seed)
    vision = "<|vision_start|>" + "<|image_pad|>" * OPENRLHF_PADS + "<|vision_end|>"
    head = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n" + vision * 2
            + DigTask().prompt(W, H, 2) + "<|im_end|>\n<|im_start|>assistant\n")
    queries = [head + c + "<|im_end|>" for c in completions]
    parsed = [Label(f"p-{i // group}", "dig-1", len(g), tuple(tuple(map(float, b)) for b in g), W, H, "pixels", None)
              for i, g in enumerate(gts)]
    labels = [lab.to_json() for lab in parsed]
    prompts = ["<image><image>"] * n
    task, reward = DigTask(), DigReward()
    with tempfile.TemporaryDirectory() as run_dir:
        fn = RewardFunction(load_reward_config(None), run_dir, "dig-1")

        def one_per_call():
            for q, p, lab in zip(queries, prompts, labels):
                fn([q], [p], [lab])

        module_wall, module_cpu = _rate(one_per_call, n, repeat), _rate(one_per_call, n, repeat, time.process_time)
        got = [fn([q], [p], [lab])["rewards"].item() for q, p, lab in zip(queries, prompts, labels)]
        logged = sum(1 for _ in open(f"{run_dir}/dig-1/rewards.jsonl"))

    def bare() -> list[float]:
        return [score_answer(task, reward, c, lab).result.reward for c, lab in zip(completions, parsed)]

    bare_wall, bare_cpu = _rate(bare, n, repeat), _rate(bare, n, repeat, time.process_time)
    want = bare()
    agree = sum(abs(a - b) < 1e-6 for a, b in zip(got, want))
    us = 1e6 / module_cpu
    print(f"OpenRLHF reward_func, one query per call ({2 * OPENRLHF_PADS} expanded image pads, JSON label, "
          f"rewards.jsonl append), {n} queries, best of {repeat} (wall clock / CPU time of this process):")
    print(f"  dig_core score_answer:           {bare_wall:10,.0f} completions/s  "
          f"({1e6 / bare_wall:6.1f} / {1e6 / bare_cpu:6.1f} us/sample)")
    print(f"  dig_train_openrlhf reward_func:  {module_wall:10,.0f} completions/s  "
          f"({1e6 / module_wall:6.1f} / {us:6.1f} us/sample; target < 100 us CPU: {'ok' if us < 100 else 'OVER'})")
    print(f"  module cost: {bare_cpu / module_cpu:.2f}x the bare scoring (CPU); rewards equal on {agree}/{n}; "
          f"{logged} lines logged")


_FUZZ_TOKENS = ["[", "]", "[[", "]]", ",", ", ", " ", "-", ".", "e", "E", "+", "nan", "NaN", "inf", "-inf", "Infinity",
                "</think>", "<think>", "<answer>", "</answer>", "```", "```json\n", "\n", "<|image_pad|>", "<|",
                "|>", '"bbox_2d": ', '"bbox":', "{", "}", '"', "'", ":", "0", "1", "7", "42", "480", "1000",
                "99999999999999999999", "1e308", "1e-320", "0.5", "\\", "\x00", "\u200b", "é", "🙂"]


def _fuzz_input(rng: random.Random, seeds: list[str]) -> str:
    mode = rng.randrange(4)
    if mode == 0:
        return "".join(rng.choice(_FUZZ_TOKENS) for _ in range(rng.randint(0, 80)))
    if mode == 1:
        return "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 120)))
    s = list(rng.choice(seeds))
    for _ in range(rng.randint(1, 12)):  # mutate a realistic completion
        op = rng.randrange(3)
        i = rng.randint(0, len(s))
        if op == 0 and s:
            del s[min(i, len(s) - 1)]
        elif op == 1:
            s.insert(i, rng.choice(_FUZZ_TOKENS))
        else:
            s[i:i + rng.randint(1, 30)] = []
    return "".join(s)


def fuzz(n: int, seed: int) -> int:
    rng = random.Random(seed)
    seeds, _ = make_batch(200, seed + 1)
    tasks = [DigTask(), DigTask(DigTask.Config(coords="rel1000"))]
    raised, bad = 0, 0
    t = time.perf_counter()
    for k in range(n):
        text = _fuzz_input(rng, seeds)
        for task in tasks:
            try:
                boxes = task.parse(text, W, H, scale=1.5 if k % 2 else None)
            except Exception as e:  # noqa: BLE001 - counting is the point
                raised += 1
                if raised <= 5:
                    print(f"  RAISED {type(e).__name__}: {e} on {text!r}", file=sys.stderr)
                continue
            for x0, y0, x1, y1 in boxes:
                if not (0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H):
                    bad += 1
    dt = time.perf_counter() - t
    print(f"fuzz: {n:,} inputs x {len(tasks)} parsers in {dt:.1f}s: {raised} raised, {bad} invalid boxes returned")
    return raised + bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000, help="completions per batch")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fuzz", type=int, default=0, help="also run this many fuzz inputs through the parser")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--openrlhf-n", type=int, default=5000,
                    help="queries for the OpenRLHF reward_func row (0 = skip; needs dig-train-openrlhf)")
    args = ap.parse_args()
    bench(args.n, args.repeat, args.seed)
    if args.openrlhf_n:
        bench_openrlhf(args.openrlhf_n, args.repeat, args.seed)
    if args.fuzz and fuzz(args.fuzz, args.seed):
        sys.exit(1)


if __name__ == "__main__":
    main()
