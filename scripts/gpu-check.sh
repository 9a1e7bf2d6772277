#!/usr/bin/env bash
# Checks medtune's CUDA stack on an NVIDIA machine and prints one table per stage:
#  1. what medtune sees (driver, GPUs, NVRTC, cuBLASLt);
#  2. every kernel against its CPU reference, a timed cuBLASLt bf16 GEMM and the decoding
#     products, and the GPU model against the CPU one (bench gpu --model-check);
#  3. the GPU model against HF transformers on the same GPU, for random Qwen2 models of a toy
#     shape and of Qwen2.5-0.5B's shapes made there by scripts/peers/hf_gpu_reference.py
#     (float32: logits within 1e-3 and identical greedy ids, base and with a PEFT adapter;
#     bfloat16: teacher-forced agreement and NLL);
#  4. training on the GPU (bench gpu --train-check: the loss and every LoRA gradient against the CPU
#     path, checkpointing, bfloat16, AdamW curves; --train-reference: against PEFT on the same GPU,
#     float32 gradients and SGD steps, bfloat16 loss and AdamW curves, from
#     scripts/peers/hf_peft_train_reference.py), then `medtune train --device cuda` on a random
#     Qwen2 made by scripts/peers/hf_random_qwen2.py over data/medical_demo.jsonl: a run stopped by
#     Ctrl-C after step 3 and resumed ends with the adapter of an uninterrupted run, byte for byte;
#     in float32, a GPU checkpoint resumed on the CPU ends with the GPU run's losses (1e-3), and
#     the adapter trained on the GPU, loaded by PEFT, gives medtune's logits (--reference).
# Exits non-zero when no GPU is usable or any check fails. Needs python3 with torch (CUDA),
# transformers and peft for stage 3 ($MEDTUNE_PYTHON names another interpreter).
#   scripts/gpu-check.sh [path/to/medtune] [--device cuda:N]
# The binary defaults to .build/release/medtune; a machine without Swift gets one built
# elsewhere with `swift build -c release --static-swift-stdlib --product medtune`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$ROOT/.build/release/medtune}"
[[ $# -gt 0 ]] && shift
PYTHON="${MEDTUNE_PYTHON:-python3}"
if [[ ! -x "$BIN" ]]; then
  echo "gpu-check: $BIN is not an executable medtune binary" >&2
  exit 2
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
failed=()

echo "== medtune inspect --system"
"$BIN" inspect --system
echo
echo "== medtune bench gpu --model-check --train-check $*"
"$BIN" bench gpu --model-check --train-check "$@" || failed+=("bench gpu --model-check --train-check")
for shape in toy 0.5b; do
  echo
  echo "== HF transformers reference, $shape shapes"
  if "$PYTHON" "$ROOT/scripts/peers/hf_gpu_reference.py" "$WORK/$shape" --shape "$shape"; then
    echo "== medtune bench gpu --reference ($shape) $*"
    "$BIN" bench gpu --reference "$WORK/$shape" "$@" || failed+=("reference $shape")
  else
    failed+=("hf_gpu_reference.py $shape")
  fi
done
echo
echo "== HF transformers + PEFT training reference (float32 gradients and SGD steps, bfloat16 loss and AdamW steps)"
if "$PYTHON" "$ROOT/scripts/peers/hf_peft_train_reference.py" "$WORK/train-reference" >/dev/null; then
  "$BIN" bench gpu --train-reference "$WORK/train-reference" "$@" || failed+=("training reference")
else
  failed+=("hf_peft_train_reference.py")
fi
echo
echo "== medtune train on the GPU: resume, and a GPU checkpoint resumed on the CPU"
if "$PYTHON" "$ROOT/scripts/peers/hf_random_qwen2.py" "$WORK/train-model" --shape toy >/dev/null; then
  train() {  # train OUTPUT [flags…]: six steps of the demo data on the toy model
    local output="$1"; shift
    "$BIN" train --model "$WORK/train-model" --data "$ROOT/data/medical_demo.jsonl" --output-dir "$output" --max-steps 6 \
      --save-steps 1 --logging-steps 1 --eval-steps 0 --max-length 96 --lora-r 8 --target-modules q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj "$@"
  }
  # Runs `train` in the background and sends it Ctrl-C once step 3 is logged; it stops after a step.
  interrupted() {
    local output="$1"; shift
    train "$output" "$@" > "$WORK/interrupted.log" 2>&1 &
    local pid=$!
    until grep -q "step 3/6" "$WORK/interrupted.log" 2>/dev/null || ! kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" || true
  }
  losses() { python3 -c 'import json,sys; print(" ".join("%.6f" % json.loads(l)["loss"] for l in open(sys.argv[1]) if "\"loss\"" in l))' "$1/metrics.jsonl"; }
  if train "$WORK/straight" --device cuda > "$WORK/straight.log" 2>&1; then
    interrupted "$WORK/stopped" --device cuda
    train "$WORK/stopped" --device cuda --resume > "$WORK/resumed.log" 2>&1 || { cat "$WORK/resumed.log"; failed+=("train --resume on the GPU"); }
    if cmp -s "$WORK/straight/adapter_model.safetensors" "$WORK/stopped/adapter_model.safetensors"; then
      echo "stopped at step $(ls -d "$WORK"/stopped/checkpoint-[0-9]* | sed 's/.*-//' | sort -n | head -1)… and resumed: adapter identical to the uninterrupted run's"
    else
      echo "resumed adapter DIFFERS from the uninterrupted run's"; failed+=("GPU resume not bit-identical")
    fi
    echo "losses, uninterrupted: $(losses "$WORK/straight")"
    echo "losses, resumed:       $(losses "$WORK/stopped")"
  else
    cat "$WORK/straight.log"; failed+=("train --device cuda")
  fi
  if train "$WORK/exact" --device cuda --matmul-precision float32 > "$WORK/exact.log" 2>&1; then
    interrupted "$WORK/moved" --device cuda --matmul-precision float32
    train "$WORK/moved" --device cpu --matmul-precision float32 --resume > "$WORK/moved.log" 2>&1 || { cat "$WORK/moved.log"; failed+=("GPU checkpoint resumed on the CPU"); }
    echo "float32 losses, GPU:               $(losses "$WORK/exact")"
    echo "float32 losses, GPU then CPU:      $(losses "$WORK/moved")"
    python3 - "$WORK/exact/metrics.jsonl" "$WORK/moved/metrics.jsonl" <<'PY' || failed+=("GPU checkpoint resumed on the CPU: losses differ")
import json, sys
def losses(path): return [json.loads(l)["loss"] for l in open(path) if '"loss"' in l]
a, b = losses(sys.argv[1]), losses(sys.argv[2])
worst = max(abs(x - y) / abs(x) for x, y in zip(a, b))
print(f"largest relative difference {worst:.1e} over {len(a)} steps (tolerance 1e-3)")
sys.exit(0 if len(a) == len(b) == 6 and worst <= 1e-3 else 1)
PY
    echo "== the adapter trained on the GPU, loaded by PEFT: HF transformers against medtune (bench gpu --reference)"
    if "$PYTHON" "$ROOT/scripts/peers/hf_gpu_reference.py" "$WORK/trained" --model "$WORK/train-model" --adapter "$WORK/exact" >/dev/null; then
      "$BIN" bench gpu --reference "$WORK/trained" "$@" || failed+=("reference of the GPU-trained adapter")
    else
      failed+=("hf_gpu_reference.py on the GPU-trained adapter")
    fi
  else
    cat "$WORK/exact.log"; failed+=("train --device cuda --matmul-precision float32")
  fi
else
  failed+=("hf_random_qwen2.py toy")
fi
echo
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "gpu-check: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "gpu-check: every check passed"
