#!/usr/bin/env bash
# Capture benchmarks, in one run on this machine, all against ciclod on SQLite (synchronous
# FULL: every 2xx committed) and driven by wrk:
#   ceiling    a bare Poco server that parses the JSON and stores nothing (the baseline),
#              measured before and after each phase of leads and forms: a ratio is to the
#              mean of the two around it, so that a shared machine's drift in speed over the
#              run does not land on one side of it
#   leads      POST /v1/leads at 64 connections, one new lead each
#   forms      a landing page's form, urlencoded, one new lead each, at 64 connections; then
#              at half the rate it peaked at, for the latency a normal day sees
#   referrals  signed partner batches of 100 new referrals, at 8 connections
# Leads and forms are measured in ROUNDS rounds (ceiling, leads, ceiling, forms, ..., ceiling):
# a shared machine's speed moves by more than a change is worth from one phase to the next,
# and the median ratio of several rounds is the figure to compare.
# Prints requests/s, p50 and p99 for each phase, leads/s for the batches, each round's ratios
# and their medians.
#   tests/bench/run.sh [BUILD_DIR] [SECONDS] [ROUNDS]
# CICLO_BENCH_READERS sets store.read_connections for ciclod (default 4, as shipped).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
seconds=${2:-15}
rounds=${3:-3}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

wait_for() { for _ in $(seq 1 300); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "timed out waiting for $1" >&2; return 1; }
drive() {  # PORT LABEL SCRIPT CONNECTIONS
  wrk -t2 -c"$4" -d"${seconds}s" --latency -s "tests/bench/$3" "http://127.0.0.1:$1" >"$work/$2.wrk" 2>&1
  grep RESULT "$work/$2.wrk" | sed "s/^RESULT/$2/" | tee "$work/$2.result"
}
rps() { sed -E 's/.*rps=([0-9]+).*/\1/' "$work/$1.result"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ratio() {  # PHASE CEILING_BEFORE CEILING_AFTER: the phase's rate over the mean of the two
  awk -v s="$(rps "$1")" -v a="$(rps "$2")" -v b="$(rps "$3")" 'BEGIN { printf "%.3f", 2 * s / (a + b) }'
}

"$build/tests/bench/ceiling_server" "$work/ceiling.port" &
wait_for "$work/ceiling.port"
ceiling() { CICLO_BENCH_RUN=ceiling drive "$(cat "$work/ceiling.port")" "ceiling$1" post_lead.lua 64; }

secret="whsec_$(head -c 24 /dev/urandom | base64)"
cat >"$work/ciclo.yaml" <<YAML
server:
  listen: 127.0.0.1:0
  trusted_proxies: [127.0.0.1]
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
plugins:
  - name: webform
    path: $build/plugins/webform.so
    config:
      forms:
        bench:
          fields: {nome: first_name, azienda: company}
          required: [email]
          allowed_origins: [https://bench.example]
          min_fill_seconds: 0
          rate_limit: {per_minute: 60000, burst: 100000}
          consent_text: Yes, send me news.
  - name: referrals
    path: $build/plugins/referrals.so
    config:
      partners:
        bench:
          name: Bench Partner
          secrets: ["$secret"]
YAML
key=$("$build/ciclod" --config "$work/ciclo.yaml" apikey create --name bench --scopes leads:write 2>/dev/null)
"$build/ciclod" --config "$work/ciclo.yaml" --port-file "$work/ciclod.port" 2>"$work/ciclod.log" &
wait_for "$work/ciclod.port" || { cat "$work/ciclod.log" >&2; exit 1; }
port=$(cat "$work/ciclod.port")

c=1  # the ceiling phases are numbered; c is the latest
ceiling $c
for r in $(seq 1 "$rounds"); do
  CICLO_BENCH_KEY=$key CICLO_BENCH_RUN=$RANDOM drive "$port" "leads$r" post_lead.lua 64
  ceiling $((c + 1))
  CICLO_BENCH_RUN=$RANDOM drive "$port" "forms$r" post_form.lua 64
  ceiling $((c + 2))
  leads=$(ratio "leads$r" "ceiling$c" "ceiling$((c + 1))")
  forms=$(ratio "forms$r" "ceiling$((c + 1))" "ceiling$((c + 2))")
  echo "$leads" >>"$work/leads.ratios"
  echo "$forms" >>"$work/forms.ratios"
  echo "round $r: leads/ceiling $leads, forms/ceiling $forms"
  c=$((c + 2))
done
median_rps() { for r in $(seq 1 "$rounds"); do rps "$1$r"; done | median; }
# Half the peak: each of the 64 connections waits so that together they offer half the rate.
delay=$(awk -v r="$(median_rps forms)" 'BEGIN { d = 2 * 64 * 1000 / r; printf "%d", (d < 1 ? 1 : d) }')
CICLO_BENCH_RUN=$RANDOM CICLO_BENCH_DELAY_MS=$delay drive "$port" forms_half_peak post_form.lua 64
# Enough signed batches for the run at 40,000 leads/s, signed just before it.
python3 tests/bench/make_batches.py "$secret" $((seconds * 400)) 100 "$RANDOM" >"$work/batches.tsv"
CICLO_BENCH_BATCHES=$work/batches.tsv CICLO_BENCH_THREADS=2 drive "$port" referral_batches post_referrals.lua 8
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^ciclo_store_(commits|writes)_total' | tr '\n' ' '; echo
echo "sqlite journal_mode=$(sqlite3 "$work/ciclo.db" 'PRAGMA journal_mode;') synchronous=full"

for phase in leads forms; do
  awk -v p="$phase" -v n="$rounds" -v r="$(median <"$work/$phase.ratios")" -v s="$(median_rps "$phase")" \
    'BEGIN { printf "ratio %s/ceiling = %.2f (median of %d rounds; %s: median %.0f req/s)\n", p, r, n, p, s }'
done
for (( i = 1; i <= c; i++ )); do rps "ceiling$i"; done | median | awk '{ printf "ceiling: median %.0f req/s\n", $1 }'
echo "forms at half the peak ($delay ms between requests per connection): $(sed 's/^forms_half_peak //' "$work/forms_half_peak.result")"
awk -v b="$(rps referral_batches)" 'BEGIN { printf "referral batches of 100: %.0f leads/s\n", b * 100 }'
