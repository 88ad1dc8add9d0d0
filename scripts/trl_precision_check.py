"""The core check of scripts/gpu-smoke-trl.sh: GRPO steps of the ``trl`` trainer under bf16 keep
float32 weights, and an AdamW step at the GRPO learning rate (1e-6) sticks.

It builds a tiny local model (``dig tiny-model``) and a tiny DiG dataset (no hub, no Blender), builds
the stage's ``GRPOTrainer`` exactly as ``dig train trainer.name=trl`` does
(:meth:`dig_train_trl.trainer.TRLTrainer.grpo_stage`: the real loader, processor, TRL settings and
``bf16=true``), and trains ``--steps`` GRPO steps twice from the same start:

- as the trainer does (float32 weights, bf16 autocast): the weights must still be float32 and most
  of them must have moved;
- with the weights cast to bf16 (what the trainer did before): the fraction that moved is printed
  beside it, for comparison (AdamW's step of about lr = 1e-6 is far below a bf16 weight's spacing).

A random tiny model's answers all score 0 under the DiG reward, so GRPO would have no gradient; the
check therefore rewards each completion by its token ids (always different within a group). The DiG
reward itself is covered by the tests and the smoke script's ``dig train`` run.

    python scripts/trl_precision_check.py --device cuda [--work DIR] [--steps 2]

Exit 0 and a last line ``ok: ...`` when the checks hold; tests/train_trl/test_trl_precision.py runs
:func:`check` with ``device="cpu"`` (CPU bf16 autocast).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: the GRPO default learning rate (trainer.params.learning_rate)
LR = 1.0e-6


def token_reward(completion_ids=None, **kwargs: Any) -> list[float]:
    """A reward that tells sampled completions apart (so GRPO's group advantage is never all 0)."""
    return [float(sum(ids) % 101) / 100.0 for ids in completion_ids]


def _setup(work: Path, device: str, family: str) -> tuple[Path, Path]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from dig_core.models.tiny import build_tiny_vlm

    from tests.helpers import write_dig_dataset

    model = work / f"tiny-{family}"
    if not (model / "config.json").is_file():
        build_tiny_vlm(family, model, seed=0)
    data = work / "data"
    if not (data / "dataset.json").is_file():
        write_dig_dataset(data, size=(64, 48), stages=[("dig-1", 1, 1, True, 4)])
    return model, data


def grpo(work: Path, run_name: str, device: str, family: str = "qwen2_5_vl", steps: int = 2,
         weights_bf16: bool = False) -> dict[str, Any]:
    """Train ``steps`` GRPO steps of stage dig-1 with ``bf16=true``; the fraction of weight elements
    that changed and the weights' dtypes before and after. ``weights_bf16``: cast the weights to bf16
    first (the old behaviour, for comparison)."""
    import torch
    from dig_core.cli.commands.train_cmd import TRAIN_SECTIONS, resolve_trainer
    from dig_core.config import load_config
    from dig_core.training import RunDir

    model, data = _setup(work, device, family)
    run = work / run_name
    cfg = load_config(None, [
        "trainer.name=trl", f"trainer.params.model={model}", f"trainer.params.data={data}",
        f"trainer.params.run_dir={run}", f"trainer.params.device={device}", "trainer.params.bf16=true",
        f"trainer.params.learning_rate={LR}", f"trainer.params.max_steps={steps}", "trainer.params.num_generations=4",
        "trainer.params.max_new_tokens=8", "trainer.params.save_steps=-1", "trainer.params.report_to=[]",
        "trainer.params.seed=0",
        "curriculum.stages=[{name: dig-1, k_min: 1, k_max: 1, count_in_prompt: true, pairs: 4}]",
    ], sections=TRAIN_SECTIONS)
    trainer = resolve_trainer(cfg)
    trainer.progress = False
    stage = trainer.plan(cfg)[0]
    trainer._load_rows(cfg, stage.init_model)
    g = trainer.grpo_stage(cfg, RunDir(run), stage, reward_func=token_reward)
    net = g.trainer.model
    loaded = sorted({str(p.dtype) for p in net.parameters()})
    if weights_bf16:
        net.to(torch.bfloat16)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    try:
        g.trainer.train()
    finally:
        g.close()
    after = dict(g.trainer.model.named_parameters())
    changed = sum(int((after[n].detach() != b).sum()) for n, b in before.items())
    total = sum(b.numel() for b in before.values())
    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return {"peak_gpu_mib": peak, "loaded": loaded, "trained": sorted({str(p.dtype) for p in after.values()}),
            "changed": changed / total, "steps": int(g.trainer.state.global_step),
            "bf16_autocast": g.trainer.accelerator.mixed_precision == "bf16", "device": str(next(net.parameters()).device)}


def check(work: str | Path, device: str = "cuda", family: str = "qwen2_5_vl", steps: int = 2) -> dict[str, Any]:
    """:func:`grpo` as the trainer trains, then with bf16 weights; raises AssertionError with the
    numbers when float32 weights did not stay float32 or did not move."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    fp32 = grpo(work, "run-fp32", device, family, steps)
    pure = grpo(work, "run-bf16-weights", device, family, steps, weights_bf16=True)
    out = {"fp32_master": fp32, "bf16_weights": pure}
    print(json.dumps(out, indent=1))
    assert fp32["steps"] == steps and fp32["bf16_autocast"], out
    assert fp32["loaded"] == fp32["trained"] == ["torch.float32"], f"the policy's weights are not float32: {out}"
    assert fp32["changed"] > 0.5, f"under bf16 autocast only {fp32['changed']:.2%} of the weights moved: {out}"
    assert fp32["changed"] > 5 * pure["changed"], f"float32 weights moved no more than bf16 ones: {out}"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--work", default=None, help="folder for the tiny model, data and runs (default: a temp folder)")
    ap.add_argument("--family", default="qwen2_5_vl", choices=("qwen2_5_vl", "qwen3_vl"))
    ap.add_argument("--steps", type=int, default=2)
    a = ap.parse_args(argv)
    import tempfile

    work = a.work or tempfile.mkdtemp(prefix="dig-trl-precision.")
    try:
        out = check(work, a.device, a.family, a.steps)
    except AssertionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    f, b = out["fp32_master"], out["bf16_weights"]
    print(f"ok: {a.steps} GRPO steps on {f['device']} at lr {LR}: weights {f['trained'][0]}, "
          f"{f['changed']:.2%} of them moved (bf16 weights: {b['changed']:.2%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
