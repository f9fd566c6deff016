#!/usr/bin/env bash
# Lead-creation benchmark: ciclod on SQLite (synchronous FULL, every 2xx committed) against a
# bare Poco server that parses the JSON and stores nothing, both driven by wrk at 64
# connections in the same run. Prints requests/s, p50 and p99 for each, and the ratio.
#   tests/bench/run.sh [BUILD_DIR] [SECONDS]
# CICLO_BENCH_READERS sets store.read_connections for ciclod (default 4, as shipped).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
seconds=${2:-15}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

wait_for() { for _ in $(seq 1 300); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "timed out waiting for $1" >&2; return 1; }
drive() {  # PORT LABEL
  wrk -t2 -c64 -d"${seconds}s" --latency -s tests/bench/post_lead.lua "http://127.0.0.1:$1" >"$work/$2.wrk" 2>&1
  grep RESULT "$work/$2.wrk" | sed "s/^RESULT/$2/"
}

"$build/tests/bench/ceiling_server" "$work/ceiling.port" &
wait_for "$work/ceiling.port"
CICLO_BENCH_RUN=ceiling drive "$(cat "$work/ceiling.port")" ceiling | tee "$work/ceiling.result"
kill %1; wait %1 2>/dev/null || true

cat >"$work/ciclo.yaml" <<YAML
server:
  listen: 127.0.0.1:0
store:
  url: sqlite:$work/ciclo.db
  sqlite_synchronous: full
  read_connections: ${CICLO_BENCH_READERS:-4}
secrets:
  master_key_file: $work/master.key
  create_master_key: true
log:
  level: warning
  requests: true
YAML
key=$("$build/ciclod" --config "$work/ciclo.yaml" apikey create --name bench --scopes leads:write 2>/dev/null)
"$build/ciclod" --config "$work/ciclo.yaml" --port-file "$work/ciclod.port" 2>"$work/ciclod.log" &
wait_for "$work/ciclod.port" || { cat "$work/ciclod.log" >&2; exit 1; }
port=$(cat "$work/ciclod.port")
CICLO_BENCH_KEY=$key CICLO_BENCH_RUN=$RANDOM drive "$port" ciclod | tee "$work/ciclod.result"
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^ciclo_store_(commits|writes)_total' | tr '\n' ' '; echo
sync_level=$(sqlite3 "$work/ciclo.db" 'PRAGMA journal_mode;')
echo "sqlite journal_mode=$sync_level synchronous=full"

c=$(sed -E 's/.*rps=([0-9]+).*/\1/' "$work/ceiling.result")
s=$(sed -E 's/.*rps=([0-9]+).*/\1/' "$work/ciclod.result")
awk -v s="$s" -v c="$c" 'BEGIN { printf "ratio ciclod/ceiling = %.2f\n", s / c }'
