#!/usr/bin/env bash
# Runs medtune's whole test suite on a fresh Debian machine: system packages, real test models,
# then a release build of the tests (numeric code in a debug build is 10–100× slower).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh deps assets
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build "$@"
