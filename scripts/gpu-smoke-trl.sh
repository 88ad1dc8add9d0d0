#!/usr/bin/env bash
# GPU smoke test of dig-train-trl (issue #23): the `trl` trainer on one GPU with a tiny Qwen-VL built
# locally by `dig tiny-model` (no hub access) and a tiny DiG dataset written without Blender.
#
# 1. scripts/trl_precision_check.py --device cuda: two GRPO steps at lr 1e-6 under bf16 autocast, built
#    as `dig train` builds them; the weights must stay float32 and most of them move (the same steps on
#    bf16 weights, the old load, are printed beside: a few percent move). tests/train_trl/
#    test_trl_precision.py runs the same file on the CPU.
# 2. `dig train trainer.name=trl` on cuda, bf16 left on auto (on where the GPU supports it), the DiG
#    reward: a 60-step SFT warm start (the tiny model then writes box lists, some right: 120 steps memorise the 4 pairs, every answer scores 1 and GRPO has no variance) and two GRPO steps of one
#    stage; DONE at step 2, whole groups in rewards.jsonl, the saved checkpoint float32. Where train.log
#    shows reward variance in a GRPO step (frac_reward_zero_std < 1) the weights must have moved from
#    the warm start's; a step without variance has no gradient (part 1 checks that updates stick).
# Prints the wall time of each part and part 1's peak GPU memory. Target: a few minutes on one H100/H200.
#
# What the machine needs (it has no internet: everything installed beforehand, e.g. from a wheelhouse
# with `pip install --no-index --find-links WHEELS ...`):
#   one CUDA GPU with bf16 (Ampere or newer); Python 3.11 or 3.12;
#   torch (CUDA build; 2.11+), torchvision matching it, transformers 5.15-5.17, trl==1.16.0 (the version
#   the trainer is written against), accelerate, datasets, tensorboard, pillow, numpy, scipy, omegaconf;
#   pip install --no-deps -e packages/dig-core -e packages/dig-train-trl   (from this checkout)
#
#   bash scripts/gpu-smoke-trl.sh            # GPU machine
#   DEVICE=cpu bash scripts/gpu-smoke-trl.sh # the same on a CPU (CPU bf16 autocast), slower
#
# Environment: PYTHON (default python), WORK (default a new /tmp/dig-gpu-smoke-trl.* folder), FAMILY
# (qwen2_5_vl | qwen3_vl), DEVICE (cuda | cpu).
set -euo pipefail

PY=${PYTHON:-python}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/dig-gpu-smoke-trl.XXXXXX)}
FAMILY=${FAMILY:-qwen2_5_vl}
DEVICE=${DEVICE:-cuda}
MODEL=$WORK/tiny-$FAMILY
DATA=$WORK/data
RUN=$WORK/run
G=4
mkdir -p "$WORK"
cd "$ROOT"

if [[ $DEVICE == cuda ]]; then
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "error: torch sees no CUDA device: run on a GPU machine, or DEVICE=cpu" >&2; exit 1; }
fi
"$PY" -c "import trl, transformers, torch; print(f'torch {torch.__version__}, transformers {transformers.__version__}, trl {trl.__version__}')"

echo "== 1. bf16 autocast over float32 weights: two GRPO steps at lr 1e-6 ($DEVICE)"
START=$(date +%s)
"$PY" scripts/trl_precision_check.py --device "$DEVICE" --work "$WORK/precision" --family "$FAMILY"
echo "part 1: $(( $(date +%s) - START )) s"

echo "== 2. dig train trainer.name=trl: two GRPO steps ($DEVICE, bf16 auto) in $RUN"
[[ -f $MODEL/config.json ]] || "$PY" -m dig_core tiny-model --family "$FAMILY" --out "$MODEL"
[[ -f $DATA/dataset.json ]] || "$PY" -c "
from tests.helpers import write_dig_dataset
write_dig_dataset('$DATA', stages=[('dig-1', 1, 1, True, 4)], size=(112, 84))
"
START=$(date +%s)
"$PY" -m dig_core train trainer.name=trl "trainer.params.model=$MODEL" "trainer.params.data=$DATA" \
  "trainer.params.run_dir=$RUN" "trainer.params.device=$DEVICE" trainer.params.num_generations=$G \
  trainer.params.max_new_tokens=32 trainer.params.max_steps=2 trainer.params.save_steps=1 \
  trainer.params.report_to=[] trainer.params.sft_max_steps=60 trainer.params.sft_learning_rate=3e-3 \
  trainer.params.sft_eval_steps=30 trainer.params.sft_eval_pairs=4 \
  "curriculum.stages=[{name: dig-1, k_min: 1, k_max: 1, count_in_prompt: true, pairs: 4}]" \
  curriculum.advance.name=fixed
echo "part 2: $(( $(date +%s) - START )) s"

"$PY" - "$RUN" "$RUN/sft/checkpoint" "$G" "$DEVICE" <<'PYEOF'
import json, sys
from pathlib import Path

from transformers import AutoModelForImageTextToText

run, start, g, device = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
done = json.loads((run / "dig-1" / "DONE").read_text())
assert done["step"] == 2 and done["checkpoint"] == "dig-1/checkpoint", done
lines = (run / "dig-1" / "rewards.jsonl").read_text().splitlines()
assert lines and len(lines) % g == 0, f"{len(lines)} reward lines for groups of {g}"
log = [json.loads(x) for x in (run / "dig-1" / "train.log").read_text().splitlines() if x.startswith("{")]
zero_std = [r["frac_reward_zero_std"] for r in log if "frac_reward_zero_std" in r]
model = AutoModelForImageTextToText.from_pretrained(run / "dig-1" / "checkpoint", local_files_only=True, dtype="auto")
dtypes = {str(p.dtype) for p in model.parameters()}
assert dtypes == {"torch.float32"}, f"the trained checkpoint's weights are {dtypes}, not float32"
ref = AutoModelForImageTextToText.from_pretrained(start, local_files_only=True, dtype="auto")
pairs = list(zip(model.parameters(), ref.parameters()))
moved = sum(int((a != b).sum()) for a, b in pairs) / sum(a.numel() for a, _ in pairs)
print(f"dig-1: DONE at step {done['step']}, {len(lines)} reward lines, checkpoint float32, "
      f"{moved:.2%} of the weights moved from the warm start (frac_reward_zero_std per step: {zero_std})")
if any(z < 1 for z in zero_std):
    assert moved > 0.5, f"a step had reward variance, yet only {moved:.2%} of the weights moved"
PYEOF
echo "== ok: $WORK"
