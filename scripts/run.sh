#!/usr/bin/env bash
# Installs what is missing, builds, and runs Herald on its embedded defaults: its own
# PostgreSQL in ./var and HTTP on 127.0.0.1:8080. Extra arguments go to `herald serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh herald

args=("$@")
if [[ " ${args[*]} " != *" --data-dir "* ]]; then
  data_dir="$PWD/var"
  # As root the embedded cluster runs as the postgres user, which must be able to reach the
  # data folder; a checkout under /root is not reachable, so fall back to /var/lib/herald.
  if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$PWD" 2>/dev/null; then
    data_dir=/var/lib/herald
    echo "run: the postgres user cannot reach $PWD; keeping Herald's data in $data_dir"
  fi
  args+=(--data-dir "$data_dir")
fi
exec build/herald serve "${args[@]}"
