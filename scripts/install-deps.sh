#!/usr/bin/env bash
# Installs what Herald needs on Debian 12 with apt-get. Only missing packages are installed,
# so a second run is quick. Usage: scripts/install-deps.sh [--test]
#   (no flag)  build and run: compiler, CMake, libraries, PostgreSQL
#   --test     also the test tools: GoogleTest, Google Benchmark, clang (fuzzing), Node.js,
#              Chromium (dashboard tests) and wrk (benchmarks)
set -euo pipefail

base=(build-essential cmake ninja-build pkg-config ccache ca-certificates tzdata locales
      libboost-dev libssl-dev libpq-dev postgresql postgresql-client libphonenumber-dev libicu-dev libsodium-dev
      nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
      libhowardhinnant-date-dev libjemalloc-dev procps)
test_extra=(libgtest-dev libgmock-dev libbenchmark-dev clang wrk chromium)

want=("${base[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${test_extra[@]}")
  # Node.js and npm drive the SMPP interop and browser tests; keep a newer node if present.
  command -v node >/dev/null 2>&1 || want+=(nodejs)
  command -v npm >/dev/null 2>&1 || want+=(npm)
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Herald runs its own PostgreSQL clusters; stop Debian from creating and starting a "main"
# cluster on port 5432 when the server package is first installed.
if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
  "${sudo[@]}" mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | "${sudo[@]}" tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
