#!/usr/bin/env bash
# Checks medtune's CUDA stack on an NVIDIA machine: what medtune sees (driver, GPUs, NVRTC,
# cuBLASLt), then every kernel against its CPU reference and a timed cuBLASLt bf16 GEMM.
# Exits non-zero when no GPU is usable or any check fails.
#   scripts/gpu-check.sh [path/to/medtune] [bench gpu options, e.g. --device cuda:1]
# The binary defaults to .build/release/medtune; a machine without Swift gets one built
# elsewhere with `swift build -c release --static-swift-stdlib --product medtune`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$ROOT/.build/release/medtune}"
[[ $# -gt 0 ]] && shift
if [[ ! -x "$BIN" ]]; then
  echo "gpu-check: $BIN is not an executable medtune binary" >&2
  exit 2
fi
echo "== medtune inspect --system"
"$BIN" inspect --system
echo
echo "== medtune bench gpu $*"
"$BIN" bench gpu "$@"
