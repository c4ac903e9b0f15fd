#!/usr/bin/env bash
# HTTP API benchmarks against a real `herald serve` on its embedded PostgreSQL:
#   1. a CSV import of N contacts, end to end: from the first byte of the upload until the
#      job reports `completed` (each run into a fresh tenant), and
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
herald=build/herald
[[ -x "$herald" ]] || { echo "bench/http_api.sh: build first (scripts/build.sh)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench/http_api.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }

work=$(mktemp -d /tmp/herald-bench-XXXXXX)
chmod 755 "$work"
server_pid=
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }

# The file: valid US numbers in ten area codes, names, an e-mail and two custom columns.
csv="$work/contacts.csv"
awk -v n="$rows" 'BEGIN {
  split("212 213 305 312 415 512 617 702 718 801", area, " ");
  split("Ann Bob Cy Di Ed Flo Gus Hal Ivy Jo", first, " ");
  split("Smith Ng Lee Diaz Khan Roy Berg Okafor Silva Novak", last, " ");
  split("gold silver bronze", plan, " ");
  print "phone,first_name,last_name,email,plan,balance";
  for (i = 0; i < n; i++) {
    a = area[i % 10 + 1]; local = 2000000 + int(i / 10);
    f = first[int(i / 7) % 10 + 1];
    printf "+1%s%07d,%s,%s,%s.%d@example.com,%s,%d.%02d\n", a, local, f, last[int(i / 3) % 10 + 1], tolower(f), i, plan[i % 3 + 1], i % 1000, i % 100;
  }
}' > "$csv"
echo "file: $rows rows, $(du -h "$csv" | cut -f1)"

HERALD_AUTH_RATE_LIMIT_PER_TOKEN=0 HERALD_AUTH_RATE_LIMIT_PER_IP=0 HERALD_HTTP_ACCESS_LOG=false \
  "$herald" serve --data-dir "$work/data" --http-port 0 --log-level warn > "$work/serve.out" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  port=$(sed -n 's|.*HTTP: *http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/serve.out")
  [[ -n "$port" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.out" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "the server did not start" >&2; cat "$work/serve.out" >&2; exit 1; }
base="http://127.0.0.1:$port"

make_tenant() {  # prints a token for a new tenant
  local name=$1
  echo "bench password $name" | "$herald" user create --data-dir "$work/data" --log-level warn \
    --username "$name" --email "$name@bench.test" --password-stdin > /dev/null
  "$herald" token create --data-dir "$work/data" --log-level warn --user "$name" --name bench 2>/dev/null | tail -n 1
}
field() { sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" | tr -d '"'; }

import_times=()
token=
for run in $(seq 1 "$import_runs"); do
  token=$(make_tenant "bench$run")
  t0=$(now)
  reply=$(curl -sS -H "Authorization: Bearer $token" -H 'Content-Type: text/csv' --data-binary @"$csv" \
    "$base/v1/contacts/import?default_region=US")
  t_upload=$(now)
  id=$(field id <<< "$reply")
  [[ -n "$id" ]] || { echo "import was not accepted: $reply" >&2; exit 1; }
  while true; do
    job=$(curl -sS -H "Authorization: Bearer $token" "$base/v1/contacts/imports/$id")
    status=$(field status <<< "$job")
    [[ "$status" == completed || "$status" == failed ]] && break
    sleep 0.05
  done
  t1=$(now)
  [[ "$status" == completed ]] || { echo "import failed: $job" >&2; exit 1; }
  imported=$(field imported <<< "$job") rejected=$(field rejected <<< "$job")
  [[ "$imported" == "$rows" ]] || { echo "expected $rows imported: $job" >&2; exit 1; }
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  up=$(awk -v a="$t0" -v b="$t_upload" 'BEGIN { printf "%.2f", b - a }')
  echo "import run $run: ${secs} s end to end (upload ${up} s), $imported imported, $rejected rejected, $(awk -v r="$rows" -v s="$secs" 'BEGIN { printf "%.0f", r / s }') rows/s"
  import_times+=("$secs")
done
echo "import median: $(printf '%s\n' "${import_times[@]}" | median) s for $rows rows"

rps=()
for run in $(seq 1 "$wrk_runs"); do
  out=$(wrk -t"$threads" -c"$connections" -d"${wrk_seconds}s" --latency -H "Authorization: Bearer $token" \
    "$base/v1/contacts?limit=50")
  r=$(awk '/^Requests\/sec/ { print $2 }' <<< "$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<< "$out")
  non2xx=$(awk '/Non-2xx/ { print $NF }' <<< "$out")
  [[ -z "$non2xx" ]] || { echo "wrk saw $non2xx non-2xx answers" >&2; echo "$out" >&2; exit 1; }
  echo "GET /v1/contacts?limit=50 run $run: $r req/s, p99 $p99"
  rps+=("$r")
done
echo "GET /v1/contacts?limit=50 median: $(printf '%s\n' "${rps[@]}" | median) req/s at $connections connections"
