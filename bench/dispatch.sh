#!/usr/bin/env bash
# Dispatch benchmarks against a real `herald serve` (embedded PostgreSQL, built-in SMSC
# simulator over SMPP on loopback):
#   1. campaign: a 1-segment campaign to N recipients (default 1,000,000). Timed from the
#      start call until every submit is acknowledged and persisted (nothing queued or
#      sending), and until every receipt is persisted (all delivered). K runs, each a new
#      campaign to the same group. Prints the server's peak RSS at the end.
#   2. messages: POST /v1/messages under wrk (64 connections, each reply a durable 202) from
#      a tenant of its own,
#      then how long the dispatcher needs after the load stops to persist every send and
#      every receipt of it.
# Prints each run and the medians. Stops the server and removes its data when done.
#
#   bench/dispatch.sh [--recipients N] [--campaign-runs K] [--wrk-runs K] [--wrk-seconds S]
#                     [--connections C] [--threads T] [--binds B] [--window W]
#                     [--only campaign|messages]
set -euo pipefail
cd "$(dirname "$0")/.."

recipients=1000000 campaign_runs=3 wrk_runs=3 wrk_seconds=10 connections=64 threads=2 only=
binds=1 window=256
while [[ $# -gt 0 ]]; do
  case "$1" in
    --recipients) recipients=$2; shift 2 ;;
    --campaign-runs) campaign_runs=$2; shift 2 ;;
    --wrk-runs) wrk_runs=$2; shift 2 ;;
    --wrk-seconds) wrk_seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --binds) binds=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench/dispatch.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$recipients" "$campaign_runs" "$wrk_runs" "$wrk_seconds" "$connections" "$threads" "$binds" "$window"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || { echo "bench/dispatch.sh: options take positive whole numbers" >&2; exit 2; }
done
[[ -z "$only" || "$only" == campaign || "$only" == messages ]] \
  || { echo "bench/dispatch.sh: --only takes campaign or messages" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench/dispatch.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
source bench/lib.sh

start_server HERALD_SIMULATOR_RECEIPT_LATENCY=100ms HERALD_DISPATCH_BINDS="$binds" HERALD_DISPATCH_WINDOW="$window"
echo "built-in simulator: $binds bind(s), window $window"
admin=$(make_account benchadmin --admin)
token=$(make_account sender)
tenant=$(api GET /v1/auth/me "$token" | field id)
credits=$(( recipients * campaign_runs + 1000 ))
api POST "/v1/admin/tenants/$tenant/credits" "$admin" "{\"credits\": $credits, \"amount\": \"0\"}" > /dev/null
api PUT "/v1/admin/tenants/$tenant/sender-ids/Acme" "$admin" '{"is_default": true}' > /dev/null

if [[ "$only" != messages ]]; then
  csv="$work/audience.csv"
  make_csv "$recipients" "$csv"
  group=$(api POST /v1/groups "$token" '{"name": "audience"}' | field id)
  import_csv "$token" "$csv" "group_id=$group" > /dev/null
  echo "audience: $recipients contacts"
  sent_times=() receipt_times=()
  for run in $(seq 1 "$campaign_runs"); do
    id=$(api POST /v1/campaigns "$token" \
      "{\"name\": \"bench $run\", \"message_template\": \"Your bill is ready\", \"groups\": [\"$group\"]}" | field id)
    t0=$(now)
    api POST "/v1/campaigns/$id/start" "$token" > /dev/null
    # The campaign completes when its last submit's answer is persisted (nothing left in
    # the send queue): completed_at - started_at is the send time, measured by the server.
    # Reading one campaign row is cheap; counting a million log rows is not, so the counts
    # are read only after that, until every receipt is in. The polls are one curl a second
    # and no other process: at four a second with sed, awk and date they took a tenth of
    # the machine's CPU from the server being measured.
    deadline=$((SECONDS + 900))
    while true; do
      sleep 1
      c=$(api GET "/v1/campaigns/$id" "$token")
      [[ $c == *'"status":"completed"'* ]] && break
      (( SECONDS < deadline )) || { echo "campaign run $run did not finish: $c" >&2; exit 1; }
    done
    started=$(date -d "$(field started_at <<< "$c")" +%s.%N) completed=$(date -d "$(field completed_at <<< "$c")" +%s.%N)
    t_sent=$(awk -v t0="$t0" -v a="$started" -v b="$completed" 'BEGIN { printf "%.3f", t0 + (b - a) }')
    while true; do
      st=$(api GET "/v1/campaigns/$id/stats" "$token")
      t=$EPOCHREALTIME
      [[ $st =~ \"delivered\":([0-9]+) && ${BASH_REMATCH[1]} == "$recipients" ]] && { t_done=$t; break; }
      (( SECONDS < deadline )) || { echo "campaign run $run: receipts missing: $st" >&2; exit 1; }
      sleep 0.5
    done
    s=$(elapsed "$t0" "$t_sent") d=$(elapsed "$t0" "$t_done")
    echo "campaign run $run: all sent in $s s ($(awk -v n="$recipients" -v s="$s" 'BEGIN { printf "%.0f", n / s }') msg/s), all receipts in $d s ($(awk -v n="$recipients" -v s="$d" 'BEGIN { printf "%.0f", n / s }') msg/s)"
    sent_times+=("$s") receipt_times+=("$d")
  done
  ms=$(printf '%s\n' "${sent_times[@]}" | median) md=$(printf '%s\n' "${receipt_times[@]}" | median)
  echo "campaign median: sent $(awk -v n="$recipients" -v s="$ms" 'BEGIN { printf "%.0f", n / s }') msg/s, receipts $(awk -v n="$recipients" -v s="$md" 'BEGIN { printf "%.0f", n / s }') msg/s ($recipients recipients)"
  echo "server peak RSS after the campaigns: $(peak_rss_mb "$server_pid") MB"
fi

if [[ "$only" != campaign ]]; then
  # A tenant of its own: the polls below look for its queued, sending and sent messages by
  # the tenant's message list, which without a status index steps over every message the
  # tenant has (after the campaigns, three million: seconds a poll, the measuring itself).
  ptoken=$(make_account apisender)
  ptenant=$(api GET /v1/auth/me "$ptoken" | field id)
  api POST "/v1/admin/tenants/$ptenant/credits" "$admin" '{"credits": 20000000, "amount": "0"}' > /dev/null
  api PUT "/v1/admin/tenants/$ptenant/sender-ids/Acme" "$admin" '{"is_default": true}' > /dev/null
  write_post_lua "$work/post.lua"
  rps=() p99s=() lags=()
  for run in $(seq 1 "$wrk_runs"); do
    out=$(wrk -t"$threads" -c"$connections" -d"${wrk_seconds}s" --latency -s "$work/post.lua" \
      -H "Authorization: Bearer $ptoken" "$base/v1/messages")
    t_end=$(now)
    r=$(awk '/^Requests\/sec/ { print $2 }' <<< "$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<< "$out")
    non2xx=$(awk '/Non-2xx/ { print $NF }' <<< "$out")
    [[ -z "$non2xx" ]] || { echo "wrk saw $non2xx non-2xx answers" >&2; echo "$out" >&2; exit 1; }
    wait_all_sent "$ptoken"
    t_sent=$(now)
    wait_all_final "$ptoken"
    t_final=$(now)
    echo "POST /v1/messages run $run: $r accepted/s, p99 $p99; after the load: all sent +$(elapsed "$t_end" "$t_sent") s, all receipts +$(elapsed "$t_end" "$t_final") s"
    rps+=("$r") p99s+=("$p99") lags+=("$(elapsed "$t_end" "$t_final")")
  done
  echo "POST /v1/messages median: $(printf '%s\n' "${rps[@]}" | median) accepted/s at $connections connections; p99s ${p99s[*]}; receipts persisted $(printf '%s\n' "${lags[@]}" | median) s after the load stopped"
  echo "server peak RSS: $(peak_rss_mb "$server_pid") MB"
fi
