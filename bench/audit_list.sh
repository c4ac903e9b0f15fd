#!/usr/bin/env bash
# A tenant's audit trail on a large shared log, against a real `herald serve` on its embedded
# PostgreSQL. A small tenant makes a few changes through the API; then the log gets N newer
# rows of one big tenant (as its sends leave them: one per message) and 200 rows each of 300
# other tenants, written straight into the database, since a million API calls would take
# longer than the benchmark. Then `GET /v1/audit?limit=50` runs under wrk for the small
# tenant (its page lies behind every other tenant's rows) and for the big one.
# Prints each run and the medians. Stops the server and removes its data when done.
#
#   bench/audit_list.sh [--rows N] [--wrk-runs K] [--wrk-seconds S] [--connections C]
set -euo pipefail
cd "$(dirname "$0")/.."

rows=1000000 wrk_runs=3 wrk_seconds=10 connections=8
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) rows=$2; shift 2 ;;
    --wrk-runs) wrk_runs=$2; shift 2 ;;
    --wrk-seconds) wrk_seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "bench/audit_list.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$rows" "$wrk_runs" "$wrk_seconds" "$connections"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || { echo "bench/audit_list.sh: options take positive whole numbers" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "bench/audit_list.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
source bench/lib.sh

start_server
small=$(make_account small)
big=$(make_account big)
big_id=$(api GET /v1/auth/me "$big" | field id)
for i in $(seq 1 20); do api POST /v1/groups "$small" "{\"name\": \"group $i\"}" > /dev/null; done
sql() { "$herald" db psql --data-dir "$work/data" --log-level warn -- -q -v ON_ERROR_STOP=1 -c "$1"; }
t0=$(now)
sql "INSERT INTO audit_logs (user_id, tenant_id, action, target_type, target_id, details)
     SELECT '$big_id', '$big_id', 'messages.send', 'message', gen_random_uuid()::text,
            '{\"to\": \"+12125550100\", \"segments\": 1}'
     FROM generate_series(1, $rows)"
sql "INSERT INTO audit_logs (user_id, tenant_id, action)
     SELECT t, t, 'contacts.create' FROM (SELECT gen_random_uuid() AS t FROM generate_series(1, 300)) tenants,
            generate_series(1, 200)"
sql "ANALYZE audit_logs"
echo "audit log: the small tenant's 20 rows, then $rows of the big tenant's and 60,000 of 300 others ($(elapsed "$t0" "$(now)") s to write)"

for who in small big; do
  token=${!who} rps=() p99s=()
  first=$(api GET "/v1/audit?limit=50" "$token")
  [[ $first == *'"data":[{'* ]] || { echo "the $who tenant's audit page is empty: $first" >&2; exit 1; }
  for run in $(seq 1 "$wrk_runs"); do
    got=$(wrk_get "/v1/audit?limit=50" "$token" "$connections" "$wrk_seconds" 2)
    read -r r p99 <<< "$got"
    echo "GET /v1/audit?limit=50, $who tenant, run $run: $r req/s, p99 $p99"
    rps+=("$r") p99s+=("$p99")
  done
  echo "GET /v1/audit?limit=50, $who tenant, median: $(printf '%s\n' "${rps[@]}" | median) req/s at $connections connections; p99s ${p99s[*]}"
done
