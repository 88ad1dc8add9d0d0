#!/usr/bin/env bash
# GPU smoke test of dig-train-openrlhf: two curriculum stages of two GRPO steps each on one GPU, with a
# tiny Qwen2.5-VL built locally by `dig tiny-model` (no hub access), a tiny DiG dataset written without
# Blender, vLLM colocated with DeepSpeed. Stage 2 starts from stage 1's checkpoint (the chaining a first
# real run would hit); then the last checkpoint is loaded with AutoProcessor / AutoModelForImageTextToText,
# `dig eval model.name=hf` runs on 4 held-out pairs, and `dig plot-rewards` draws the curves. Prints the
# time per step and the peak GPU memory. Target: under 10 minutes on one H100/H200.
#
# Wheels (one CUDA machine, Python 3.10-3.12, no bpy in this environment: vLLM needs numpy 2):
#   pip install torch==2.13.0 torchvision==0.28.0          # first: flash-attn builds against it
#   pip install --no-build-isolation -e packages/dig-core -e 'packages/dig-train-openrlhf[gpu]' \
#       -e 'packages/dig-eval[hf]'
#   ([gpu] pins openrlhf[vllm] 0.11.2, vllm 0.29.0, transformers 5.15.0, ray[default] 2.55.0,
#   deepspeed 0.19.6, flash-attn 2.8.3; this script uses sdpa attention, flash-attn need not work)
#
#   bash scripts/gpu-smoke.sh             # GPU machine
#   bash scripts/gpu-smoke.sh --dry-run   # CPU: only print the training commands (checked against OpenRLHF's parser)
#
# Environment: PYTHON (default python), WORK (default a new /tmp/dig-gpu-smoke.* folder), FAMILY (qwen2_5_vl |
# qwen3_vl), ATTN (default sdpa; flash_attention_2 needs flash-attn).
set -euo pipefail

DRY=0
if [[ "${1:-}" == "--dry-run" ]]; then DRY=1; fi
PY=${PYTHON:-python}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/dig-gpu-smoke.XXXXXX)}
FAMILY=${FAMILY:-qwen2_5_vl}
MODEL=$WORK/tiny-$FAMILY
DATA=$WORK/data
BENCH=$WORK/bench
RUN=$WORK/run
mkdir -p "$WORK"

# two stages of 8 pairs, 4 prompts per rollout step x G=4 samples: 2 GRPO steps per stage, an HF
# checkpoint at each (save_steps 1; the superseded ones are deleted after each stage's DONE)
OVERRIDES=(
  trainer.name=openrlhf
  "trainer.params.model=$MODEL" "trainer.params.data=$DATA" "trainer.params.run_dir=$RUN"
  "curriculum.stages=[{name: dig-1, k_min: 1, k_max: 1, count_in_prompt: true, pairs: 8}, {name: dig-2, k_min: 2, k_max: 2, count_in_prompt: true, pairs: 8}]"
  curriculum.advance.name=fixed
  trainer.params.gpus_per_node=1 trainer.params.num_nodes=1 trainer.params.colocate_all=true
  trainer.params.vllm_gpu_memory_utilization=0.3
  trainer.params.n_samples_per_prompt=4 trainer.params.rollout_batch_size=4 trainer.params.train_batch_size=16
  trainer.params.micro_train_batch_size=4 trainer.params.micro_rollout_batch_size=4
  trainer.params.max_len=2048 trainer.params.max_new_tokens=64
  trainer.params.zero_stage=2 trainer.params.gradient_checkpointing=false
  "trainer.params.attn_implementation=${ATTN:-sdpa}" trainer.params.save_steps=1
  "trainer.params.extra_args=[--vllm.enforce_eager]"
)

if [[ $DRY == 1 ]]; then
  "$PY" -m dig_core train --dry-run "${OVERRIDES[@]}"
  exit 0
fi

command -v nvidia-smi >/dev/null || { echo "error: no nvidia-smi: this script needs a GPU machine" >&2; exit 1; }

echo "== tiny $FAMILY model and datasets in $WORK"
[[ -f $MODEL/config.json ]] || "$PY" -m dig_core tiny-model --family "$FAMILY" --out "$MODEL"
[[ -f $DATA/dataset.json ]] || (cd "$ROOT" && "$PY" -c "
from tests.helpers import write_dig_dataset
write_dig_dataset('$DATA', stages=[('dig-1', 1, 1, True, 8), ('dig-2', 2, 2, True, 8)], size=(112, 84))
write_dig_dataset('$BENCH', stages=[('dig-1', 1, 1, True, 4)], size=(112, 84), seed=1)
")

echo "== training, two stages (logs: $RUN/dig-1/train.log, $RUN/dig-2/train.log)"
MEMLOG=$WORK/gpu-memory.csv
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 > "$MEMLOG" &
MONITOR=$!
trap 'kill $MONITOR 2>/dev/null || true' EXIT
START=$(date +%s.%N)
"$PY" -m dig_core train "${OVERRIDES[@]}"
END=$(date +%s.%N)
kill $MONITOR 2>/dev/null || true

echo "== stage chaining and the last checkpoint"
"$PY" - "$RUN" <<'PYEOF'
import json, sys
from pathlib import Path
run = Path(sys.argv[1])
for name in ("dig-1", "dig-2"):
    done = json.loads((run / name / "DONE").read_text())
    assert done["checkpoint"] == f"{name}/checkpoint", done
    assert not (run / name / "ckpt").exists(), f"{run / name / 'ckpt'} was not cleaned up after DONE"
log = (run / "dig-2" / "train.log").read_text(errors="replace")
assert str(run / "dig-1" / "checkpoint") in log, "stage 2 did not start from stage 1's checkpoint"
from transformers import AutoModelForImageTextToText, AutoProcessor
ckpt = run / "dig-2" / "checkpoint"
processor = AutoProcessor.from_pretrained(ckpt, local_files_only=True)
model = AutoModelForImageTextToText.from_pretrained(ckpt, local_files_only=True)
print(f"loaded {ckpt}: {type(processor).__name__}, {type(model).__name__}")
PYEOF

echo "== dig eval model.name=hf on 4 pairs"
"$PY" -m dig_core eval model.name=hf "model.params.path=$RUN/dig-2/checkpoint" model.params.max_new_tokens=64 \
  evaluator.name=dig "evaluator.params.dataset=$BENCH" evaluator.params.limit=4 --out "$WORK/eval"
[[ -f $WORK/eval/dig/scores.jsonl ]] || { echo "error: dig eval wrote no $WORK/eval/dig/scores.jsonl" >&2; exit 1; }

echo "== reward curves"
"$PY" -m dig_core plot-rewards "$RUN" --out "$WORK/rewards.png" --smooth 1

"$PY" - "$RUN" "$MEMLOG" "$START" "$END" <<'PYEOF'
import re, sys
run, memlog, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
steps = []
for name in ("dig-1", "dig-2"):
    text = open(f"{run}/{name}/train.log", encoding="utf-8", errors="replace").read()
    found = [float(m) for m in re.findall(r"Global step \d+: .*?'timing/step_total': ([0-9.eE+-]+)", text)]
    print(f"{name}: GRPO steps logged by OpenRLHF: {len(found)}")
    for i, s in enumerate(found, 1):
        print(f"  step {i}: {s:.2f} s (timing/step_total)")
    steps.append(len(found))
mem = [int(v) for v in open(memlog).read().split() if v.strip().isdigit()]
print(f"wall time of `dig train` (export, Ray, vLLM and DeepSpeed start-up included, both stages): {end - start:.1f} s")
print(f"peak GPU memory (nvidia-smi, every 0.5 s): {max(mem) if mem else '?'} MiB")
sys.exit(0 if all(n >= 2 for n in steps) else 1)
PYEOF
echo "== ok: $RUN (DONE, checkpoints, rewards.jsonl), $WORK/eval, $WORK/rewards.png"
