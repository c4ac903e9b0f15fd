#!/usr/bin/env bash
# Builds the fuzz targets with clang and runs the SMPP decoder fuzzer for N seconds
# (default 60). Exits non-zero on a crash, leak or failed property.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DHERALD_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build-fuzz fuzz_smpp_decode | grep -v "^\[" || true
test -x build-fuzz/fuzz_smpp_decode
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp tests/fuzz/corpus/smpp/* "$work/"
cd build-fuzz
./fuzz_smpp_decode -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 "$work" 2>&1 | tail -n 25
