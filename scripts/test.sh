#!/usr/bin/env bash
# Runs medtune's whole test suite on a fresh Debian machine: system packages, real test models,
# then a release build of the tests (numeric code in a debug build is 10–100× slower).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh deps assets

# NVRTC from NVIDIA's wheel (the CUDA version of the GPU machines medtune is checked on), so the
# CUDA tests compile every kernel to PTX without a GPU or the CUDA toolkit. Installed once into
# the cache; MEDTUNE_NVRTC, when already set, names another NVRTC to test with.
NVRTC_WHEEL="nvidia-cuda-nvrtc==13.0.88"
if [[ -z "${MEDTUNE_NVRTC:-}" ]]; then
  export MEDTUNE_NVRTC="$ROOT/.cache/nvrtc/nvidia/cu13/lib/libnvrtc.so.13"
  if [[ ! -f "$MEDTUNE_NVRTC" ]]; then
    echo "test: installing $NVRTC_WHEEL into .cache/nvrtc" >&2
    python3 -m pip install --quiet --upgrade --target "$ROOT/.cache/nvrtc" --no-deps "$NVRTC_WHEEL"
  fi
fi
# The reference Python stack (torch CPU, transformers, peft, gguf, bert-score at the pinned versions
# of scripts/peers/requirements.txt) in .cache/peers/python, for the tests that run the exported
# train.py or load medtune's files in transformers. Where pip cannot get it (torch's +cpu wheel
# needs PyTorch's wheel index or a wheel folder in pip's configuration), those tests say they
# are skipped and why.
if [[ -z "${MEDTUNE_PYTHON:-}" ]]; then
  bash scripts/fetch-peers.sh python || echo "test: no reference Python; the tests that need it are skipped" >&2
fi
# llama.cpp's llama-completion (built once into .cache/peers, several minutes), for the tests that
# run medtune's merged GGUF files and LoRA GGUFs in llama.cpp itself.
bash scripts/fetch-peers.sh llama.cpp || echo "test: no llama.cpp build; the tests that run it are skipped" >&2
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build "$@"
