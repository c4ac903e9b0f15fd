#!/usr/bin/env bash
# Installs what is missing, builds everything, and runs the whole test suite: unit,
# integration (real PostgreSQL started by the tests), SMPP interop and browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test
if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
scripts/build.sh --with-tests
cd build
ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@"
