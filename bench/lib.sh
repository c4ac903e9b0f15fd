# Shared by the bench/*.sh scripts (sourced, not run): a throwaway `herald serve` on its
# embedded PostgreSQL, accounts made with the CLI, small helpers.

herald=build/herald
[[ -x "$herald" ]] || { echo "$0: build first (scripts/build.sh)" >&2; exit 2; }

work=$(mktemp -d /tmp/herald-bench-XXXXXX)
chmod 755 "$work"
server_pid=
bench_cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap bench_cleanup EXIT
trap "exit 130" INT TERM  # so that the EXIT trap runs

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }
# field NAME: the first value of "NAME" in the JSON on standard input (flat values only).
field() { sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" | head -n 1 | tr -d '"'; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# epoch TIMESTAMP: an RFC 3339 time from the API as seconds since 1970 (this machine's clock).
epoch() { date -d "$1" +%s.%N; }

# start_server [VAR=value ...]: starts `herald serve` with those settings; sets $base.
start_server() {
  env HERALD_AUTH_RATE_LIMIT_PER_TOKEN=0 HERALD_AUTH_RATE_LIMIT_PER_IP=0 HERALD_HTTP_ACCESS_LOG=false "$@" \
    "$herald" serve --data-dir "$work/data" --http-port 0 --log-level warn > "$work/serve.out" 2>&1 &
  server_pid=$!
  local port=
  for _ in $(seq 1 300); do
    port=$(sed -n 's|.*HTTP: *http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/serve.out")
    [[ -n "$port" ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.out" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n "$port" ]] || { echo "the server did not start" >&2; cat "$work/serve.out" >&2; exit 1; }
  base="http://127.0.0.1:$port"
}

# make_account NAME [--admin]: creates the account and prints an API token for it.
make_account() {
  local name=$1; shift
  echo "bench password $name" | "$herald" user create --data-dir "$work/data" --log-level warn \
    --username "$name" --email "$name@bench.test" --password-stdin "$@" > /dev/null
  "$herald" token create --data-dir "$work/data" --log-level warn --user "$name" --name bench 2>/dev/null | tail -n 1
}

# api METHOD PATH TOKEN [JSON]: prints the answer's body.
api() {
  curl -sS -X "$1" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' \
    ${4:+--data-binary "$4"} "$base$2"
}

# make_csv N FILE: valid US numbers in ten area codes, names, an e-mail and two custom columns.
make_csv() {
  awk -v n="$1" 'BEGIN {
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
  }' > "$2"
}

# import_csv TOKEN FILE [QUERY]: imports and waits; prints the finished job. Polls only a few
# times a second: each poll starts processes that would take CPU from the import itself; the
# job's finished_at says when it ended.
import_csv() {
  local reply id job status
  reply=$(curl -sS -H "Authorization: Bearer $1" -H 'Content-Type: text/csv' --data-binary @"$2" \
    "$base/v1/contacts/import?default_region=US${3:+&$3}")
  id=$(field id <<< "$reply")
  [[ -n "$id" ]] || { echo "import was not accepted: $reply" >&2; exit 1; }
  while true; do
    job=$(api GET "/v1/contacts/imports/$id" "$1")
    status=$(field status <<< "$job")
    [[ "$status" == completed || "$status" == failed ]] && break
    sleep 0.25
  done
  [[ "$status" == completed ]] || { echo "import failed: $job" >&2; exit 1; }
  echo "$job"
}

# peak_rss_mb PID: the process's peak resident set, in MB.
peak_rss_mb() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# wrk_get PATH TOKEN CONNECTIONS SECONDS THREADS: GET PATH under wrk; prints "REQUESTS/S P99".
# Any answer other than 2xx ends the benchmark.
wrk_get() {
  local out non2xx
  out=$(wrk -t"$5" -c"$3" -d"$4s" --latency -H "Authorization: Bearer $2" "$base$1")
  non2xx=$(awk '/Non-2xx/ { print $NF }' <<< "$out")
  [[ -z "$non2xx" ]] || { echo "wrk saw $non2xx non-2xx answers" >&2; echo "$out" >&2; return 1; }
  awk '/^Requests\/sec/ { r = $2 } $1 == "99%" { p = $2 } END { print r, p }' <<< "$out"
}

# write_post_lua FILE: a wrk script that POSTs /v1/messages, a random US number and code each.
write_post_lua() {
  cat > "$1" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local body = string.format('{"to": "+1212%07d", "body": "Your code is %06d"}',
    math.random(2000000, 9999999), math.random(0, 999999))
  return wrk.format(nil, nil, nil, body)
end
LUA
}

# wait_all_sent TOKEN: until none of the token's messages is queued or sending.
wait_all_sent() {
  while api GET "/v1/messages?status=queued&limit=1" "$1" | grep -q '"id"' \
    || api GET "/v1/messages?status=sending&limit=1" "$1" | grep -q '"id"'; do sleep 0.1; done
}

# wait_all_final TOKEN: until none of the token's messages waits for its receipt.
wait_all_final() {
  while api GET "/v1/messages?status=sent&limit=1" "$1" | grep -q '"id"'; do sleep 0.1; done
}
