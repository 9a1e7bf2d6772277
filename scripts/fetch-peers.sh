#!/usr/bin/env bash
# Installs the programs that `medtune bench` measures medtune against, into an ignored cache folder
# (.cache/peers, or $MEDTUNE_PEERS). Never needed to use medtune; only for its comparisons.
#
#   llama.cpp   llama-bench, llama-completion and llama-perplexity built from the llama.cpp
#               sources vendored in the llama-cpp-python sdist (pinned version and SHA-256), for
#               the CPU it is built on.
#               `medtune bench generate` finds llama-bench in .cache/peers/bin or on PATH; the
#               merge and export-lora tests run llama-completion on medtune's GGUF files, and
#               the perplexity test runs llama-perplexity beside `medtune perplexity`.
#   python      a virtualenv with torch (CPU), transformers, peft and gguf at pinned versions,
#               the HF peer of `bench generate`, `bench train` and `bench score`.
#
# Both come through pip by package name, so pip's own configuration (pip.conf, PIP_INDEX_URL,
# PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS) decides where from: a mirror or a local wheel folder
# works as well as the public index. torch's CPU-only build (+cpu) is published on PyTorch's
# own wheel index, which pip has to be told about in the same way.
#
# Usage: scripts/fetch-peers.sh [llama.cpp] [python]   (both when none is named)
# Idempotent: finished parts are kept.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PEERS="${MEDTUNE_PEERS:-$ROOT/.cache/peers}"
PYTHON="${PYTHON:-python3}"
LLAMA_CPP_PYTHON=0.3.36
LLAMA_CPP_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
REQUIREMENTS="$ROOT/scripts/peers/requirements.txt"

say() { echo "fetch-peers: $*" >&2; }

apt_install() {
  local missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  (( ${#missing[@]} == 0 )) && return
  local sudo=""
  [[ "$(id -u)" == 0 ]] || sudo=sudo
  say "installing ${missing[*]}"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

fetch_llama_cpp() {
  local targets=(llama-bench llama-completion llama-perplexity) missing=()
  for target in "${targets[@]}"; do [[ -x "$PEERS/bin/$target" ]] || missing+=("$target"); done
  if (( ${#missing[@]} == 0 )); then say "llama.cpp tools present: $PEERS/bin"; return; fi
  apt_install cmake g++
  local archive="$PEERS/downloads/llama_cpp_python-$LLAMA_CPP_PYTHON.tar.gz"
  mkdir -p "$PEERS/downloads" "$PEERS/bin"
  if [[ ! -f "$archive" ]]; then
    say "downloading llama-cpp-python $LLAMA_CPP_PYTHON sources"
    # The source archive only (no wheel, none of its dependencies); its build requirements may
    # come as wheels, since pip reads the archive's metadata before handing it over.
    "$PYTHON" -m pip download --quiet --no-deps --no-binary llama-cpp-python --dest "$PEERS/downloads" \
      "llama-cpp-python==$LLAMA_CPP_PYTHON"
  fi
  if [[ "$(sha256sum "$archive" | cut -d' ' -f1)" != "$LLAMA_CPP_SHA256" ]]; then
    rm -f "$archive"
    say "error: $archive: SHA-256 mismatch (removed; run again)"
    exit 1
  fi
  local src="$PEERS/llama.cpp-src"
  rm -rf "$src" && mkdir -p "$src"
  tar xzf "$archive" -C "$src" --strip-components=3 "llama_cpp_python-$LLAMA_CPP_PYTHON/vendor/llama.cpp"
  say "building ${targets[*]} (several minutes)"
  local log="$PEERS/llama.cpp-build.log"
  if ! { cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
           -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF &&
         cmake --build "$src/build" --target "${targets[@]}" -j "$(nproc)"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    say "error: building llama.cpp failed (whole log: $log)"
    exit 1
  fi
  for target in "${targets[@]}"; do ln -sf "$src/build/bin/$target" "$PEERS/bin/$target"; done
  say "llama.cpp tools: ${targets[*]} in $PEERS/bin"
}

fetch_python() {
  local venv="$PEERS/python"
  if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c "import torch, transformers, peft, gguf" 2>/dev/null; then
    say "python peer present: $venv"; return
  fi
  say "creating $venv with the packages of $REQUIREMENTS"
  "$PYTHON" -m venv "$venv"
  if ! "$venv/bin/pip" install --quiet -r "$REQUIREMENTS"; then
    say "error: pip could not install the packages of $REQUIREMENTS; torch's +cpu build is on PyTorch's CPU wheel index: add it to pip's configuration (PIP_EXTRA_INDEX_URL or pip.conf), or a folder of wheels (PIP_FIND_LINKS)"
    exit 1
  fi
  say "python peer: $venv/bin/python"
}

parts=("$@")
(( ${#parts[@]} > 0 )) || parts=(llama.cpp python)
for part in "${parts[@]}"; do
  case "$part" in
    llama.cpp) fetch_llama_cpp ;;
    python) fetch_python ;;
    *) say "error: unknown part '$part' (llama.cpp, python)"; exit 2 ;;
  esac
done
