#!/usr/bin/env bash
# Sets medtune up on a Debian machine: system packages, the real models used by the demo and the
# tests, and a release build. Idempotent; each stage can be run alone:
#   scripts/setup.sh [deps] [assets] [build]      (default: all three)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

stages=("$@")
[[ ${#stages[@]} -eq 0 ]] && stages=(deps assets build)

say() { echo "setup: $*" >&2; }

deps() {
  local packages=(libopenblas-dev libcurl4-openssl-dev zlib1g-dev pkg-config)
  python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)
  local missing=()
  for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [[ ${#missing[@]} -gt 0 ]]; then
    say "installing ${missing[*]}"
    local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ! command -v swift >/dev/null 2>&1; then
    say "error: the Swift toolchain (5.9 or newer) is not on PATH; install it from swift.org and re-run"
    exit 1
  fi
}

assets() { bash "$ROOT/scripts/fetch-assets.sh" all; }

build() {
  say "building medtune (release)"
  swift build -c release
  say "ready: $ROOT/.build/release/medtune"
}

for stage in "${stages[@]}"; do
  case "$stage" in
    deps|assets|build) "$stage" ;;
    *) say "unknown stage '$stage' (expected deps, assets, build)"; exit 2 ;;
  esac
done
