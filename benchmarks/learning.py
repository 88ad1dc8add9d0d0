"""Does the DiG training loop learn? SFT warm start, then GRPO, with the ``trl`` trainer on CPU.

A tiny random Qwen2.5-VL is built locally (``dig_core.tiny_models``); a small DiG-1 dataset at low
resolution is written without Blender (``tests.helpers.write_dig_dataset``: dig-core's real planner
and samplers, flat-coloured boxes instead of renders), plus a held-out set from another seed. The
script runs ``dig train trainer.name=trl`` with an SFT warm start stage and one GRPO stage, then
prints per block of steps the mean format and accuracy reward (r_acc = 0.5 F1 + 0.5 mIoU):

* warm start: greedy answers on training pairs (``sft/eval.jsonl``) and on held-out pairs;
* GRPO: the sampled completions' rewards (``dig-1/rewards.jsonl``), and greedy answers of the final
  model on training and held-out pairs.

It writes the reward-curve PNG (default docs/learning-curve.png). Not a test: ~5 minutes on 2 cores.

    python benchmarks/learning.py [--out docs/learning-curve.png] [--sft-steps 200] [--grpo-steps 60]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def block_means(values: list[float], n_blocks: int) -> list[float]:
    size = max(1, len(values) // n_blocks)
    return [sum(values[i:i + size]) / len(values[i:i + size]) for i in range(0, size * n_blocks, size)
            if values[i:i + size]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "docs" / "learning-curve.png"))
    ap.add_argument("--train-pairs", type=int, default=48)
    ap.add_argument("--heldout-pairs", type=int, default=16)
    ap.add_argument("--size", default="64x48", help="image size WxH")
    ap.add_argument("--sft-steps", type=int, default=200)
    ap.add_argument("--sft-lr", type=float, default=3e-3)
    ap.add_argument("--grpo-steps", type=int, default=60)
    ap.add_argument("--grpo-lr", type=float, default=5e-5)
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=None, help="work folder (default: a temporary one)")
    a = ap.parse_args()

    import torch
    from click.testing import CliRunner
    from dig_core.cli import DigGroup
    from dig_core.commands.train_cmd import train
    from dig_core.config import load_config
    from dig_core.reward_log import SampleScorer
    from dig_core.tiny_models import build_tiny_vlm
    from dig_core.training import read_rewards
    from dig_core.vlm import VLProcessor
    from dig_train_trl.data import load_rows
    from dig_train_trl.sft import evaluate
    from transformers import AutoModelForImageTextToText

    from tests.helpers import write_dig_dataset

    torch.manual_seed(a.seed)
    w, h = (int(v) for v in a.size.split("x"))
    work = Path(a.work or tempfile.mkdtemp(prefix="dig-learning-"))
    t0 = time.time()
    model = build_tiny_vlm("qwen2_5_vl", work / "model", seed=a.seed, overwrite=True)
    train_data = write_dig_dataset(work / "train", size=(w, h), seed=a.seed,
                                   stages=[("dig-1", 1, 1, True, a.train_pairs)])
    held_data = write_dig_dataset(work / "heldout", size=(w, h), seed=a.seed + 1000,
                                  stages=[("dig-1", 1, 1, True, a.heldout_pairs)])
    stage = ["curriculum.stages=[{name: dig-1, k_min: 1, k_max: 1, count_in_prompt: true, "
             f"pairs: {a.train_pairs}}}]"]
    run = work / "run"
    args = ["trainer.name=trl", f"trainer.params.model={model}", f"trainer.params.data={train_data}",
            f"trainer.params.run_dir={run}", f"trainer.params.seed={a.seed}",
            f"trainer.params.sft_max_steps={a.sft_steps}", f"trainer.params.sft_learning_rate={a.sft_lr}",
            "trainer.params.sft_eval_steps=25", "trainer.params.sft_eval_pairs=16",
            f"trainer.params.max_steps={a.grpo_steps}", f"trainer.params.learning_rate={a.grpo_lr}",
            f"trainer.params.num_generations={a.generations}", "trainer.params.max_new_tokens=24",
            "trainer.params.save_steps=-1", *stage]
    cli = DigGroup(commands={})
    cli.add_command(train)
    r = CliRunner().invoke(cli, ["train", *args], catch_exceptions=False)
    if r.exit_code:
        sys.exit(r.output)
    train_s = time.time() - t0

    cfg = load_config(None, stage, sections=("task", "reward"))
    scorer = SampleScorer(cfg)
    rows = {}
    for name, data in (("train", train_data), ("held-out", held_data)):
        vlp = VLProcessor(model)
        rows[name] = [r for rs in load_rows(cfg, data, vlp).values() for r in rs][:16]
    greedy = {}
    for ckpt_name, ckpt in (("base", model), ("after SFT", run / "sft" / "checkpoint"),
                            ("after GRPO", run / "dig-1" / "checkpoint")):
        vlp = VLProcessor(ckpt)
        m = AutoModelForImageTextToText.from_pretrained(ckpt, local_files_only=True).eval()
        greedy[ckpt_name] = {n: evaluate(m, vlp.processor, rs, scorer, 24) for n, rs in rows.items()}

    sft_eval = [json.loads(x) for x in (run / "sft" / "eval.jsonl").read_text().splitlines()]
    grpo = read_rewards(run)["dig-1"]
    per_step = a.generations
    steps = [grpo[i:i + per_step] for i in range(0, len(grpo), per_step)]
    fmt = [sum(x["format"] for x in s) / len(s) for s in steps]
    acc = [sum(x["accuracy"] for x in s) / len(s) for s in steps]

    print(f"\nDiG learning benchmark: tiny Qwen2.5-VL, DiG-1 {w}x{h}, {a.train_pairs} train / "
          f"{a.heldout_pairs} held-out pairs, {a.sft_steps} SFT + {a.grpo_steps} GRPO steps (G={a.generations}); "
          f"{train_s:.0f} s to build and train")
    print("\nSFT warm start, greedy answers on 16 training pairs")
    print(f"{'step':>6} {'loss':>8} {'format':>8} {'accuracy':>9}")
    for e in sft_eval:
        loss = "-" if e["loss"] is None else f"{e['loss']:.3f}"
        print(f"{e['step']:>6} {loss:>8} {e['format']:>8.3f} {e['accuracy']:>9.3f}")
    print("\nGRPO, sampled completions (training pairs), mean per block of steps")
    n_blocks = min(6, len(fmt))
    size = max(1, len(fmt) // n_blocks)
    print(f"{'steps':>9} {'format':>8} {'accuracy':>9}")
    for i, (f_, a_) in enumerate(zip(block_means(fmt, n_blocks), block_means(acc, n_blocks))):
        print(f"{i * size + 1:>4}-{(i + 1) * size:<4} {f_:>8.3f} {a_:>9.3f}")
    print("\nGreedy answers (16 pairs each)")
    print(f"{'model':<12} {'train fmt':>10} {'train acc':>10} {'held fmt':>9} {'held acc':>9}")
    for name, res in greedy.items():
        print(f"{name:<12} {res['train']['format']:>10.3f} {res['train']['accuracy']:>10.3f} "
              f"{res['held-out']['format']:>9.3f} {res['held-out']['accuracy']:>9.3f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3), dpi=80)
    ax1.plot([e["step"] for e in sft_eval], [e["format"] for e in sft_eval], "o-", label="format")
    ax1.plot([e["step"] for e in sft_eval], [e["accuracy"] for e in sft_eval], "s-", label="accuracy")
    ax1.set(title="SFT warm start (greedy, train pairs)", xlabel="step", ylim=(-0.05, 1.05))
    ax1.legend()
    xs = list(range(1, len(fmt) + 1))
    ax2.plot(xs, fmt, alpha=0.3, color="C0")
    ax2.plot(xs, acc, alpha=0.3, color="C1")
    k = 5
    smooth = [sum(v[max(0, i - k + 1):i + 1]) / len(v[max(0, i - k + 1):i + 1]) for v in (fmt, acc)
              for i in range(len(v))]
    ax2.plot(xs, smooth[:len(xs)], color="C0", label="format")
    ax2.plot(xs, smooth[len(xs):], color="C1", label="accuracy")
    ax2.set(title="GRPO (sampled, train pairs)", xlabel="step", ylim=(-0.05, 1.05))
    ax2.legend()
    fig.tight_layout()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    print(f"\nwrote {out} ({out.stat().st_size // 1024} KB); run folder {run}")


if __name__ == "__main__":
    main()
