#!/usr/bin/env bash
# GPU smoke test of dig-train-openrlhf: two GRPO steps of one curriculum stage on one GPU, with a tiny
# Qwen2.5-VL built locally (no hub access), a tiny DiG dataset written without Blender, vLLM colocated
# with DeepSpeed; then `dig plot-rewards`. Prints the time per step and the peak GPU memory.
#
#   bash scripts/gpu-smoke.sh             # needs: pip install -e packages/dig-core -e 'packages/dig-train-openrlhf[gpu]'
#   bash scripts/gpu-smoke.sh --dry-run   # CPU: only print the training command (checked against OpenRLHF's parser)
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
RUN=$WORK/run
mkdir -p "$WORK"

# one stage of 8 pairs, 4 prompts per rollout step x G=4 samples: 2 GRPO steps
OVERRIDES=(
  trainer.name=openrlhf
  "trainer.params.model=$MODEL" "trainer.params.data=$DATA" "trainer.params.run_dir=$RUN"
  "curriculum.stages=[{name: dig-1, k_min: 1, k_max: 1, count_in_prompt: true, pairs: 8}]"
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

echo "== tiny $FAMILY model and dataset in $WORK"
[[ -f $MODEL/config.json ]] || "$PY" -m dig_core tiny-model --family "$FAMILY" --out "$MODEL"
[[ -f $DATA/dataset.json ]] || (cd "$ROOT" && "$PY" -c "
from tests.helpers import write_dig_dataset
write_dig_dataset('$DATA', stages=[('dig-1', 1, 1, True, 8)], size=(112, 84))
")

echo "== training (log: $RUN/dig-1/train.log)"
MEMLOG=$WORK/gpu-memory.csv
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 > "$MEMLOG" &
MONITOR=$!
trap 'kill $MONITOR 2>/dev/null || true' EXIT
START=$(date +%s.%N)
"$PY" -m dig_core train "${OVERRIDES[@]}"
END=$(date +%s.%N)
kill $MONITOR 2>/dev/null || true

echo "== reward curves"
"$PY" -m dig_core plot-rewards "$RUN" --out "$WORK/rewards.png" --smooth 1

"$PY" - "$RUN/dig-1/train.log" "$MEMLOG" "$START" "$END" <<'PYEOF'
import re, sys
log, memlog, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
text = open(log, encoding="utf-8", errors="replace").read()
steps = [float(m) for m in re.findall(r"Global step \d+: .*?'timing/step_total': ([0-9.eE+-]+)", text)]
mem = [int(v) for v in open(memlog).read().split() if v.strip().isdigit()]
print(f"GRPO steps logged by OpenRLHF: {len(steps)}")
for i, s in enumerate(steps, 1):
    print(f"  step {i}: {s:.2f} s (timing/step_total)")
print(f"wall time of `dig train` (export, Ray, vLLM and DeepSpeed start-up included): {end - start:.1f} s")
print(f"peak GPU memory (nvidia-smi, every 0.5 s): {max(mem) if mem else '?'} MiB")
sys.exit(0 if len(steps) >= 2 else 1)
PYEOF
echo "== ok: $RUN (DONE, checkpoint, rewards.jsonl), $WORK/rewards.png"
