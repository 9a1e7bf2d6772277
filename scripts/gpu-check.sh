#!/usr/bin/env bash
# Checks medtune's CUDA stack on an NVIDIA machine and prints one table per stage:
#  1. what medtune sees (driver, GPUs, NVRTC, cuBLASLt);
#  2. every kernel against its CPU reference, a timed cuBLASLt bf16 GEMM and the decoding
#     products, and the GPU model against the CPU one (bench gpu --model-check);
#  3. the GPU model against HF transformers on the same GPU, for random Qwen2 models of a toy
#     shape and of Qwen2.5-0.5B's shapes made there by scripts/peers/hf_gpu_reference.py
#     (float32: logits within 1e-3 and identical greedy ids, base and with a PEFT adapter;
#     bfloat16: teacher-forced agreement and NLL).
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
echo "== medtune bench gpu --model-check $*"
"$BIN" bench gpu --model-check "$@" || failed+=("bench gpu --model-check")
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
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "gpu-check: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "gpu-check: every check passed"
