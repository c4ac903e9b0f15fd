#!/usr/bin/env bash
# Stops PostgreSQL servers left running under the test suite's temporary folders (a test
# binary that crashed cannot stop its own). Touches nothing else: the suite's folders are
# named herald-<what>-<pid>-<n> (tests/support/pg.cpp), unlike a benchmark's herald-bench-XXXXXX
# or any other cluster.
set -u
tmp=${TMPDIR:-/tmp}
for pidfile in "$tmp"/herald-*-[0-9]*-[0-9]*/pgdata/postmaster.pid \
               "$tmp"/herald-*-[0-9]*-[0-9]*/*/pgdata/postmaster.pid; do
  [ -f "$pidfile" ] || continue
  pid=$(head -n 1 "$pidfile")
  datadir=$(dirname "$pidfile")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q "$datadir" "/proc/$pid/cmdline" 2>/dev/null; then
    kill -QUIT "$pid" 2>/dev/null || true
  fi
done
exit 0
