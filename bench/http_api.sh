#!/usr/bin/env bash
# HTTP API benchmarks against a real `herald serve` on its embedded PostgreSQL:
#   1. a CSV import of N contacts, end to end: from the first byte of the upload until the
#      job is `completed` (its finished_at; each run into a fresh tenant), and
#   2. authenticated `GET /v1/contacts?limit=50` under wrk (64 connections by default) on the
#      tenant that holds the imported contacts.
# Prints each run and the medians. Stops the server and removes its data when done.
#
#   bench/http_api.sh [--rows N] [--import-runs K] [--wrk-runs K] [--wrk-seconds S]
#                     [--connections C] [--threads T]
set -euo pipefail
cd "$(dirname "$0")/.."

rows=1000000 import_runs=3 wrk_runs=3 wrk_seconds=10 connections=64 threads=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) rows=$2; shift 2 ;;
    --import-runs) import_runs=$2; shift 2 ;;
    --wrk-runs) wrk_runs=$2; shift 2 ;;
    --wrk-seconds) wrk_seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "bench/http_api.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$rows" "$import_runs" "$wrk_runs" "$wrk_seconds" "$connections" "$threads"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || { echo "bench/http_api.sh: options take positive whole numbers" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "bench/http_api.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
source bench/lib.sh

csv="$work/contacts.csv"
make_csv "$rows" "$csv"
echo "file: $rows rows, $(du -h "$csv" | cut -f1)"
start_server

import_times=()
token=
for run in $(seq 1 "$import_runs"); do
  token=$(make_account "bench$run")
  t0=$(now)
  job=$(import_csv "$token" "$csv")
  t1=$(epoch "$(field finished_at <<< "$job")")  # the server's clock, on this machine
  imported=$(field imported <<< "$job") rejected=$(field rejected <<< "$job")
  [[ "$imported" == "$rows" ]] || { echo "expected $rows imported: $job" >&2; exit 1; }
  secs=$(elapsed "$t0" "$t1")
  echo "import run $run: ${secs} s end to end, $imported imported, $rejected rejected, $(awk -v r="$rows" -v s="$secs" 'BEGIN { printf "%.0f", r / s }') rows/s"
  import_times+=("$secs")
done
echo "import median: $(printf '%s\n' "${import_times[@]}" | median) s for $rows rows"

rps=()
for run in $(seq 1 "$wrk_runs"); do
  got=$(wrk_get "/v1/contacts?limit=50" "$token" "$connections" "$wrk_seconds" "$threads")
  read -r r p99 <<< "$got"
  echo "GET /v1/contacts?limit=50 run $run: $r req/s, p99 $p99"
  rps+=("$r")
done
echo "GET /v1/contacts?limit=50 median: $(printf '%s\n' "${rps[@]}" | median) req/s at $connections connections"
