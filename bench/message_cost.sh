#!/usr/bin/env bash
# What one message sent through POST /v1/messages costs in CPU, and where: against a real
# `herald serve` (embedded PostgreSQL, built-in SMSC simulator on loopback, receipts after
# 100 ms). Each run puts wrk on POST /v1/messages (64 connections), waits until the
# dispatcher has persisted every send and every receipt of that load, and divides the CPU
# time each thread of Herald and each PostgreSQL process used meanwhile by the messages
# accepted. Throughput depends on how fast the machine is; the cost per message, and the
# share of each part, compare better across machines.
# With --statements, PostgreSQL loads pg_stat_statements and the statements' time per
# message is printed too (the last run's).
# Prints each run and the medians. Stops the server and removes its data when done.
#
#   bench/message_cost.sh [--runs K] [--wrk-seconds S] [--connections C] [--binds B]
#                         [--statements]
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3 wrk_seconds=10 connections=64 binds=4 statements=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --wrk-seconds) wrk_seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --binds) binds=$2; shift 2 ;;
    --statements) statements=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench/message_cost.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$runs" "$wrk_seconds" "$connections" "$binds"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || { echo "bench/message_cost.sh: options take positive whole numbers" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "bench/message_cost.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
source bench/lib.sh

settings=(HERALD_SIMULATOR_RECEIPT_LATENCY=100ms HERALD_DISPATCH_BINDS="$binds")
start_server "${settings[@]}"
sql() { "$herald" db psql --data-dir "$work/data" --log-level warn -- -Atqc "$1"; }
if [[ -n "$statements" ]]; then
  kill "$server_pid"; wait "$server_pid" || true
  echo "shared_preload_libraries = 'pg_stat_statements'" >> "$work/data/pgdata/postgresql.auto.conf"
  start_server "${settings[@]}"
  sql "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
fi
admin=$(make_account benchadmin --admin)
token=$(make_account sender)
tenant=$(api GET /v1/auth/me "$token" | field id)
api POST "/v1/admin/tenants/$tenant/credits" "$admin" '{"credits": 20000000, "amount": "0"}' > /dev/null
api PUT "/v1/admin/tenants/$tenant/sender-ids/Acme" "$admin" '{"is_default": true}' > /dev/null
write_post_lua "$work/post.lua"
post() {  # post SECONDS: prints wrk's report
  wrk -t2 -c"$connections" -d"$1s" --latency -s "$work/post.lua" -H "Authorization: Bearer $token" \
    "$base/v1/messages"
}
post 3 > /dev/null  # warm-up: connections, prepared statements, the simulator's binds
wait_all_final "$token"

# snapshot: "PART TICKS" for each thread of Herald (by name) and each PostgreSQL process (by
# application name, or its kind). Threads of one name are summed later.
ticks() { awk '{ print $14 + $15 }' "$1" 2>/dev/null || echo 0; }
snapshot() {
  local t p
  for t in /proc/"$server_pid"/task/*; do echo "$(basename "$t") herald/$(cat "$t/comm") $(ticks "$t/stat")"; done
  while IFS='|' read -r p name; do
    echo "$p postgres/${name// /_} $(ticks "/proc/$p/stat")"
  done < <(sql "SELECT pid, coalesce(nullif(application_name, ''), backend_type) FROM pg_stat_activity")
  # processes that pg_stat_activity does not list (the logger, the archiver)
  for p in $(pgrep -x postgres || true); do echo "$p postgres/other $(ticks "/proc/$p/stat")"; done
}
hz=$(getconf CLK_TCK)
declare -A per_run  # part -> "µs µs ..." over the runs
rates=()
for run in $(seq 1 "$runs"); do
  [[ -n "$statements" ]] && sql "SELECT pg_stat_statements_reset()" > /dev/null
  snapshot > "$work/before"
  out=$(post "$wrk_seconds")
  wait_all_sent "$token"
  wait_all_final "$token"
  snapshot > "$work/after"
  n=$(awk '/requests in/ { print $1 }' <<< "$out")
  non2xx=$(awk '/Non-2xx/ { print $NF }' <<< "$out")
  [[ -z "$non2xx" ]] || { echo "wrk saw $non2xx non-2xx answers" >&2; echo "$out" >&2; exit 1; }
  r=$(awk '/^Requests\/sec/ { print $2 }' <<< "$out")
  rates+=("$r")
  # A process listed twice (by name, then as "other") counts once, under its name.
  lines=$(awk -v n="$n" -v hz="$hz" '
    FNR == NR { if (!($1 in b)) { b[$1] = $3; name[$1] = $2 } next }
    ($1 in b) && !($1 in seen) { seen[$1] = 1; d[name[$1]] += $3 - b[$1] }
    END { for (k in d) printf "%s %.1f\n", k, d[k] * 1e6 / hz / n }' "$work/before" "$work/after")
  while read -r part us; do
    per_run[$part]+="$us "
  done <<< "$lines"
  th=$(awk '$1 ~ /^herald\// { s += $2 } END { printf "%.1f", s }' <<< "$lines")
  tp=$(awk '$1 ~ /^postgres\// { s += $2 } END { printf "%.1f", s }' <<< "$lines")
  per_run[total/herald]+="$th " per_run[total/postgres]+="$tp "
  echo "run $run: $n messages at $r accepted/s; CPU per message: Herald $th µs, PostgreSQL $tp µs"
done

echo "median over $runs runs ($(printf '%s\n' "${rates[@]}" | median) accepted/s), CPU µs per accepted message, sent and receipted:"
for part in "${!per_run[@]}"; do
  m=$(tr ' ' '\n' <<< "${per_run[$part]}" | grep . | median)
  echo "$part $m"
done | sort -k2 -gr | awk '$2 >= 0.5 { printf "  %-34s %7.1f\n", $1, $2 }'

if [[ -n "$statements" ]]; then
  echo "statements of the last run, µs of statement time per accepted message:"
  sql "SELECT round((total_exec_time * 1000 / $n)::numeric, 1), calls,
         left(regexp_replace(query, '\s+', ' ', 'g'), 100)
       FROM pg_stat_statements WHERE total_exec_time * 1000 / $n >= 0.5
       ORDER BY total_exec_time DESC" | awk -F'|' '{ printf "  %7s  %6d calls  %s\n", $1, $2, $3 }'
fi
