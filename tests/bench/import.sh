#!/usr/bin/env bash
# Bulk import benchmark: `ciclod import leads` of a 100,000-row purchased list into a fresh
# SQLite store (synchronous FULL), next to a baseline measured in the same run: the sqlite3
# shell's own .import of the same file into a bare table (no checks, no merging, no timeline
# or events). Then the same import of a list four times as long, to show memory stays flat.
# Prints seconds, rows/s, the ratio to the baseline and the peak memory of each run.
#   tests/bench/import.sh [BUILD_DIR] [ROWS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
rows=${2:-100000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work" "$rows" <<'PY'
import random, sys
work, rows = sys.argv[1], int(sys.argv[2])
random.seed(7)
titles = ["CTO", "Head of Sales", "Buyer", "Office Manager", "CFO", "Marketing Lead"]
def write(path, n):
    with open(path, "w", newline="") as f:
        f.write("email,first_name,last_name,company,job_title,phone,country,employees,custom.list_id\r\n")
        for i in range(n):
            phone = f"+39 02 {random.randint(1000000, 9999999)}" if i % 10 == 0 else ""
            f.write(f"person{i}@company{i % 20000}.example.com,Name{i},Surname{i},"
                    f"\"Company {i % 20000}, S.p.A.\",{random.choice(titles)},{phone},IT,"
                    f"{random.randint(1, 5000)},{i}\r\n")
write(f"{work}/list.csv", rows)
write(f"{work}/long.csv", rows * 4)
PY

config() {  # DIR
  cat >"$1/ciclo.yaml" <<YAML
store:
  url: sqlite:$1/ciclo.db
  sqlite_synchronous: full
secrets:
  master_key_file: $1/master.key
  create_master_key: true
log:
  level: warning
YAML
}
# Runs a command; prints "SECONDS PEAK_RSS_MB".
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
start = time.monotonic()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
took = time.monotonic() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{took:.2f} {peak:.0f}")
PY
}

mkdir -p "$work/base"
read -r base_s base_mb < <(measure sqlite3 "$work/base/bare.db" \
  "PRAGMA journal_mode=WAL;" "PRAGMA synchronous=FULL;" ".mode csv" ".import $work/list.csv leads")
awk -v n="$rows" -v s="$base_s" -v m="$base_mb" \
  'BEGIN { printf "baseline sqlite3 .import: %d rows in %.2f s, %.0f rows/s, peak %d MB\n", n, s, n / s, m }'

mkdir -p "$work/one" && config "$work/one"
read -r ciclo_s ciclo_mb < <(measure "$build/ciclod" --config "$work/one/ciclo.yaml" \
  import leads "$work/list.csv" --source bench)
awk -v n="$rows" -v s="$ciclo_s" -v m="$ciclo_mb" \
  'BEGIN { printf "ciclod import leads:     %d rows in %.2f s, %.0f rows/s, peak %d MB\n", n, s, n / s, m }'
created=$(sqlite3 "$work/one/ciclo.db" "SELECT COUNT(*) FROM leads")
echo "leads created: $created"

mkdir -p "$work/four" && config "$work/four"
read -r long_s long_mb < <(measure "$build/ciclod" --config "$work/four/ciclo.yaml" \
  import leads "$work/long.csv" --source bench)
awk -v n="$((rows * 4))" -v s="$long_s" -v m="$long_mb" \
  'BEGIN { printf "ciclod import, 4x rows:  %d rows in %.2f s, %.0f rows/s, peak %d MB\n", n, s, n / s, m }'

awk -v b="$base_s" -v c="$ciclo_s" 'BEGIN { printf "ratio ciclod/baseline rows/s = %.2f\n", b / c }'
awk -v a="$ciclo_mb" -v b="$long_mb" 'BEGIN { printf "peak memory 4x rows / 1x rows = %.2f\n", b / a }'
