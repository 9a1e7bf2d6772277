#!/usr/bin/env bash
# The GPU speed benches of the CUDA issues in one go, each beside its peer measured in the same
# run (HF transformers + PEFT bf16 for training, HF transformers bf16 for generation):
#   bench train --device cuda: 7B shapes at 2 × 512 (with --profile), 2 × 512 with gradient
#   checkpointing and 8 × 512; 0.5B shapes at 2 × 512 and 8 × 512;
#   bench generate --device cuda: 7B and 0.5B shapes.
# Each bench's whole output goes to OUT/<name>.txt and its table to the terminal; a bench that
# fails or outlives its time limit is reported and the others still run. Needs what
# scripts/gpu-check.sh needs.
#   scripts/gpu-bench.sh [path/to/medtune] [OUT]
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$ROOT/.build/release/medtune}"
OUT="${2:-$(mktemp -d)}"
if [[ ! -x "$BIN" ]]; then
  echo "gpu-bench: $BIN is not an executable medtune binary" >&2
  exit 2
fi
mkdir -p "$OUT"
failed=()
bench() {  # bench NAME SECONDS ARGUMENTS…
  local name="$1" seconds="$2"; shift 2
  echo "== medtune bench $*"
  if timeout "$seconds" "$BIN" bench "$@" > "$OUT/$name.txt" 2>&1; then
    sed -n '/^----/,$p' "$OUT/$name.txt" | grep -v '^----'
  else
    tail -5 "$OUT/$name.txt"; failed+=("$name")
  fi
  echo
}
bench train-7b-b2 150 train --device cuda --shape 7b --batch 2 --steps 4 --profile
bench train-7b-b2-checkpointing 150 train --device cuda --shape 7b --batch 2 --steps 4 --checkpointing
bench train-7b-b8 200 train --device cuda --shape 7b --batch 8 --steps 4
bench train-0.5b-b2 100 train --device cuda --shape 0.5b --batch 2 --steps 4
bench train-0.5b-b8 100 train --device cuda --shape 0.5b --batch 8 --steps 4
bench generate-7b 200 generate --device cuda --shape 7b
bench generate-0.5b 120 generate --device cuda --shape 0.5b
echo "outputs: $OUT"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "gpu-bench: FAILED or timed out: ${failed[*]}" >&2
  exit 1
fi
