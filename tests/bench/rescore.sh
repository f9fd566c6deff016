#!/usr/bin/env bash
# Re-scoring benchmark, end to end: `ciclod rescore` on a SQLite store (synchronous FULL) of
# LEADS leads with 20 interactions each, under the shipped rules (config/scoring.yaml,
# config/personas.yaml). The leads come in through `ciclod import leads`; the interactions
# are written straight into the store. Three passes, timed:
#   first    every lead scored for the first time (all written)
#   changed  after a change of rules (every behaviour rule worth one point more): all written
#   same     the same rules again: every lead read, none written (the idempotent case)
# next to a baseline measured in the same run: the sqlite3 shell reading every lead, every
# interaction and every ledger entry the pass reads, in the same order (no scoring, no
# writing). Prints seconds, leads/s and the ratios.
#   tests/bench/rescore.sh [BUILD_DIR] [LEADS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
leads=${2:-1000000}
work=$(mktemp -d)
trap '[ -n "${CICLO_BENCH_KEEP:-}" ] || rm -rf "$work"' EXIT

python3 - "$work" "$leads" <<'PY'
import random, sys
work, n = sys.argv[1], int(sys.argv[2])
random.seed(7)
titles = ["Plant Manager", "Titolare", "Buyer", "Studente", "Responsabile acquisti", ""]
industries = ["Manufacturing", "Logistics", "Retail", "Bakery", "Automotive", ""]
with open(f"{work}/list.csv", "w", newline="") as f:
    f.write("email,first_name,company,job_title,industry,country,employees\r\n")
    for i in range(n):
        f.write(f"person{i}@company{i % 50000}.example.com,Name{i},Company {i % 50000},"
                f"{random.choice(titles)},{random.choice(industries)},"
                f"{random.choice(['IT', 'DE', 'CH', ''])},{random.randint(1, 5000)}\r\n")
PY

cat >"$work/ciclo.yaml" <<YAML
store:
  url: sqlite:$work/ciclo.db
  sqlite_synchronous: full
secrets:
  master_key_file: $work/master.key
  create_master_key: true
profiling:
  personas: $PWD/config/personas.yaml
scoring:
  rules: $work/scoring.yaml
log:
  level: warning
YAML
cp config/scoring.yaml "$work/scoring.yaml"

seconds_of() {  # runs a command quietly; prints its wall-clock seconds
  python3 - "$@" <<'PY'
import subprocess, sys, time
start = time.monotonic()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"{time.monotonic() - start:.2f}")
PY
}
ciclod() { "$build/ciclod" --config "$work/ciclo.yaml" "$@"; }

echo "importing $leads leads ..."
ciclod import leads "$work/list.csv" --source bench >/dev/null 2>&1
# 20 interactions a lead over the last 120 days, of the types the rules score.
sqlite3 "$work/ciclo.db" <<'SQL'
PRAGMA synchronous = OFF;
WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < 19),
types(i, t) AS (VALUES (0, 'page_visited'), (1, 'content_downloaded'), (2, 'video_watched'),
  (3, 'event_attended'), (4, 'form_submitted'), (5, 'email_opened'), (6, 'email_clicked'),
  (7, 'email_replied'), (8, 'page_visited'), (9, 'email_opened'))
INSERT INTO interactions (id, lead_id, type, occurred_at, doc, created_at)
SELECT 'int_' || l.id || '_' || k.n, l.id, t.t,
       strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-' || (120 - k.n * 6) || ' days',
                '-' || (abs(random()) % 86400) || ' seconds'),
       json_object('id', 'int_' || l.id || '_' || k.n, 'lead_id', l.id, 'type', t.t),
       strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
FROM leads l CROSS JOIN k JOIN types t ON t.i = (k.n + length(l.id)) % 10;
SQL
echo "interactions: $(sqlite3 "$work/ciclo.db" 'SELECT COUNT(*) FROM interactions')"

report() {  # LABEL SECONDS
  awk -v l="$1" -v s="$2" -v n="$leads" 'BEGIN { printf "%-8s %d leads in %.2f s, %.0f leads/s\n", l, n, s, n / s }'
}
first=$(seconds_of "$build/ciclod" --config "$work/ciclo.yaml" rescore)
report first "$first"
python3 - "$work/scoring.yaml" <<'PY2'
import re, sys
p = sys.argv[1]
head, tail = open(p).read().split("\nbehaviour:", 1)
tail = re.sub(r"points: (-?\d+)", lambda m: f"points: {int(m.group(1)) + 1}", tail)
open(p, "w").write(head + "\nbehaviour:" + tail)
PY2
changed=$(seconds_of "$build/ciclod" --config "$work/ciclo.yaml" rescore)
report changed "$changed"
same=$(seconds_of "$build/ciclod" --config "$work/ciclo.yaml" rescore)
report same "$same"

base=$(seconds_of sqlite3 "$work/ciclo.db" \
  "SELECT doc FROM leads WHERE merged_into IS NULL ORDER BY id" \
  "SELECT lead_id, id, type, occurred_at FROM interactions ORDER BY lead_id, occurred_at, id" \
  "SELECT lead_id, rule, fit, cause, points, awarded_at, half_life_seconds FROM score_ledger ORDER BY lead_id, seq")
report baseline "$base"
echo "ledger entries: $(sqlite3 "$work/ciclo.db" 'SELECT COUNT(*) FROM score_ledger')"
awk -v b="$base" -v s="$same" -v c="$changed" 'BEGIN {
  printf "ratio baseline/same = %.2f (read and scored, nothing written)\n", b / s
  printf "ratio baseline/changed = %.2f (read, scored and written)\n", b / c }'
