#!/usr/bin/env bash
# Runs a `medtune export` job on one NVIDIA GPU and checks that it trains as medtune does:
#  1. a random Qwen2 of the given shapes, made there by scripts/peers/hf_random_qwen2.py (bf16
#     weights, a byte-level tokenizer), and a recipe over data/medical_demo.jsonl (LoRA r 16 on
#     q/v, 2 × up to 256 tokens, AdamW, dropout 0, 20 steps, no shuffling);
#  2. `medtune export`, then train.py under `accelerate launch` (1 process) and under
#     `torchrun --nproc-per-node 1 --fsdp` (FULL_SHARD), both in bfloat16 on the GPU;
#  3. `medtune train` on the same recipe (on the GPU, its default where one works; bf16), unless
#     --no-medtune-train;
#  4. the losses side by side: every step within 1e-2 relative of medtune's (and of each other);
#  5. the adapter the accelerate run wrote, against PEFT in float32 on the GPU through
#     `medtune bench gpu --reference --float32` (logits within 1e-3, greedy ids). Only float32: at
#     HF's default initialisation the random base's own bf16 greedy ids differ from its float32 ones
#     at up to a sixth of the positions, so bf16 agreement would measure that base's noise.
# Exits non-zero on any failure. Needs python3 with torch (CUDA), transformers, peft and accelerate
# ($MEDTUNE_PYTHON names another interpreter).
#   scripts/gpu-export-check.sh path/to/medtune [--shape 0.5b|7b|toy] [--steps N] [--no-medtune-train]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:?usage: gpu-export-check.sh path/to/medtune [--shape 0.5b|7b|toy] [--steps N] [--no-medtune-train]}"
shift
SHAPE=0.5b STEPS=20 MEDTUNE_TRAIN=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --shape) SHAPE="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --no-medtune-train) MEDTUNE_TRAIN=0; shift ;;
    *) echo "gpu-export-check: unknown option $1" >&2; exit 2 ;;
  esac
done
PYTHON="${MEDTUNE_PYTHON:-python3}"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
PY_BIN="$(dirname "$(command -v "$PYTHON")")"
export PATH="$PY_BIN:$PATH" TOKENIZERS_PARALLELISM=false

echo "== random Qwen2, $SHAPE shapes"
"$PYTHON" "$ROOT/scripts/peers/hf_random_qwen2.py" "$WORK/model" --shape "$SHAPE"
cat > "$WORK/recipe.yaml" <<YAML
name: export-check-$SHAPE
model: $WORK/model
data: $ROOT/data/medical_demo.jsonl
loss_on: after_prompt
max_length: 256
validation_count: 4
shuffle: false
seed: 7
lora_r: 16
lora_alpha: 32
lora_dropout: 0
target_modules: [q_proj, v_proj]
micro_batch_size: 2
gradient_accumulation_steps: 1
max_steps: $STEPS
optimizer: adamw
learning_rate: 2.0e-4
lr_scheduler: constant
warmup_steps: 0
max_grad_norm: 1.0
logging_steps: 1
eval_steps: 0
save_steps: 0
matmul_precision: bfloat16
YAML
echo "== medtune export"
"$BIN" export --config "$WORK/recipe.yaml" --output "$WORK/job"
runs=()
echo "== train.py under accelerate launch (1 process)"
start=$SECONDS
bash "$WORK/job/launch.sh" accelerate single 1 --output-dir "$WORK/run-accelerate"
echo "accelerate: $((SECONDS - start)) s"
runs+=("accelerate=$WORK/run-accelerate")
echo "== train.py under torchrun --nproc-per-node 1 with FSDP FULL_SHARD"
start=$SECONDS
NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 bash "$WORK/job/launch.sh" torchrun 1 --fsdp --output-dir "$WORK/run-fsdp"
echo "torchrun fsdp: $((SECONDS - start)) s"
runs+=("fsdp=$WORK/run-fsdp")
if [[ $MEDTUNE_TRAIN == 1 ]]; then
  echo "== medtune train"
  start=$SECONDS
  "$BIN" train --config "$WORK/recipe.yaml" --output-dir "$WORK/run-medtune"
  echo "medtune train: $((SECONDS - start)) s"
  runs=("medtune=$WORK/run-medtune" "${runs[@]}")
fi
failed=()
echo "== losses"
"$PYTHON" - "${runs[@]}" <<'PY' || failed+=("losses")
import json, sys
runs = [arg.split("=", 1) for arg in sys.argv[1:]]
losses = {}
for name, folder in runs:
    with open(f"{folder}/metrics.jsonl") as f:
        losses[name] = {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}
first = runs[0][0]
steps = sorted(losses[first])
print("step  " + "".join(f"{name:>14}" for name, _ in runs) + "   max rel. to " + first)
worst = 0.0
for step in steps:
    row = [losses[name].get(step) for name, _ in runs]
    rel = max(abs(v - row[0]) / abs(row[0]) for v in row if v is not None)
    worst = max(worst, rel)
    print(f"{step:>4}  " + "".join(f"{v:>14.6f}" if v is not None else f"{'-':>14}" for v in row) + f"   {rel:.2e}")
missing = [name for name, _ in runs if len(losses[name]) != len(steps)]
print(f"largest relative difference: {worst:.2e} (bound 1e-2)" + (f"; missing steps in {missing}" if missing else ""))
sys.exit(0 if worst <= 1e-2 and not missing else 1)
PY
echo "== the accelerate run's adapter: PEFT float32 on the GPU against medtune"
if "$PYTHON" "$ROOT/scripts/peers/hf_gpu_reference.py" "$WORK/reference" --model "$WORK/model" --adapter "$WORK/run-accelerate"; then
  "$BIN" bench gpu --reference "$WORK/reference" --float32 || failed+=("adapter reference")
else
  failed+=("hf_gpu_reference.py")
fi
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "gpu-export-check: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "gpu-export-check: every check passed"
