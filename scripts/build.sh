#!/usr/bin/env bash
# Configures and builds Herald into ./build. Usage: scripts/build.sh [--with-tests] [targets...]
set -euo pipefail
cd "$(dirname "$0")/.."

tests=OFF
if [[ "${1:-}" == "--with-tests" ]]; then tests=ON; shift; fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DHERALD_BUILD_TESTS=$tests -DHERALD_BUILD_BENCH=$tests >/dev/null
ninja -C build "$@"
