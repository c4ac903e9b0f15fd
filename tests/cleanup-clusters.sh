#!/usr/bin/env bash
# Stops PostgreSQL servers left running under the test suite's temporary folders (a test
# binary that crashed cannot stop its own). Touches nothing else.
set -u
tmp=${TMPDIR:-/tmp}
for pidfile in "$tmp"/herald-*/pgdata/postmaster.pid "$tmp"/herald-*/*/pgdata/postmaster.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(head -n 1 "$pidfile")
  datadir=$(dirname "$pidfile")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q "$datadir" "/proc/$pid/cmdline" 2>/dev/null; then
    kill -QUIT "$pid" 2>/dev/null || true
  fi
done
exit 0
