#!/usr/bin/env bash
# HTTP load benchmark of the order API against the machine's HTTP ceiling, side by side in one run.
# Usage: bench/http_load.sh [BUILD_DIR]   (env: DURATION=10s CONNECTIONS=64 WRK_THREADS=2 ROUNDS=3)
# Starts a trivial Beast server (bench/http_ceiling) and orderflow (sync on, logs at warn, a temp
# data dir), drives each with wrk, and prints requests/s, p50/p99 and the ratio to the ceiling.
# This VM's speed drifts by up to 2x within minutes (noisy neighbours), so every scenario run is
# paired with a ceiling run just before it, each round, and a scenario's ratio is the median over
# the rounds of (scenario / the ceiling run paired with it); req/s and latencies are medians too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
duration=${DURATION:-10s}
conns=${CONNECTIONS:-64}
wrk_threads=${WRK_THREADS:-2}
export WRK_DIR="$here/wrk"

# shellcheck source=bench/http_common.sh
source "$here/http_common.sh"

run_wrk() {  # name script port
  wrk -t"$wrk_threads" -c"$conns" -d"$duration" --timeout 5s -s "$WRK_DIR/$2" "http://127.0.0.1:$3" | grep '^RESULT' | tee -a "$work/results"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(df -T /tmp | awk 'NR==2{print $2}') /tmp"
echo "wrk -t$wrk_threads -c$conns -d$duration"

"$build/bench/http_ceiling" 0 2 > "$work/ceiling.out" 2>&1 &
pids+=($!)
ceiling_port=$(wait_port "$work/ceiling.out")

LOG_LEVEL=warn "$build/server/orderflow" --host 127.0.0.1 --port 0 --data-dir "$work/data" > "$work/server.out" 2> "$work/server.log" &
pids+=($!)
port=$(wait_port "$work/server.out")

rounds=${ROUNDS:-3}
for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds"
  run_wrk ceiling ceiling.lua "$ceiling_port"
  run_wrk create create.lua "$port"
  if [ "$round" = 1 ]; then
    save_order_ids "$port" "$work/ids.txt"
    export IDS_FILE="$work/ids.txt"
    echo "ids for get/update: $(wc -l < "$work/ids.txt")"
  fi
  run_wrk ceiling ceiling.lua "$ceiling_port"
  run_wrk get_by_id get.lua "$port"
  run_wrk ceiling ceiling.lua "$ceiling_port"
  ID_SLICE="$((round - 1))/$rounds" run_wrk update_status status.lua "$port"
  run_wrk ceiling ceiling.lua "$ceiling_port"
  run_wrk list list.lua "$port"
done

python3 - "$work/results" <<'PY'
import re, statistics, sys
runs, last_ceiling = {}, None
for line in open(sys.argv[1]):
    name = line.split()[1]
    r = dict((k, float(v)) for k, v in re.findall(r'(\w+)=([\d.]+)', line))
    if name == "ceiling":
        last_ceiling = r["rps"]
    else:
        r["ratio"] = r["rps"] / last_ceiling
    runs.setdefault(name, []).append(r)
med = lambda rows, key: statistics.median(x[key] for x in rows)
print(f"\n{'scenario':<15}{'req/s':>10}{'% ceiling':>11}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}   per-round % of the paired ceiling")
for name, rows in runs.items():
    ratio = 100.0 if name == "ceiling" else 100 * med(rows, "ratio")
    per_round = "" if name == "ceiling" else " ".join(f"{100 * x['ratio']:.1f}%" for x in rows)
    print(f"{name:<15}{med(rows, 'rps'):>10.0f}{ratio:>10.1f}%{med(rows, 'p50_ms'):>9.2f}{med(rows, 'p99_ms'):>9.2f}"
          f"{int(sum(x['non2xx'] for x in rows)):>9}   {per_round}")
print(f"(medians of {len(runs['ceiling'])} ceiling runs and {len(runs.get('create', []))} rounds; non-2xx summed)")
PY
