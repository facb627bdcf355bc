#!/usr/bin/env bash
# HTTP load benchmark of the order API against the machine's HTTP ceiling, side by side in one run.
# Usage: bench/http_load.sh [BUILD_DIR]   (env: DURATION=10s CONNECTIONS=64 WRK_THREADS=2)
# Starts a trivial Beast server (bench/http_ceiling) and orderflow (sync on, logs at warn, a temp
# data dir), drives each with wrk, and prints requests/s, p50/p99 and the ratio to the ceiling.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
duration=${DURATION:-10s}
conns=${CONNECTIONS:-64}
wrk_threads=${WRK_THREADS:-2}
export WRK_DIR="$here/wrk"

work=$(mktemp -d /tmp/orderflow-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_port() {  # file with the "listening on host:port" line -> port
  for _ in $(seq 1 200); do
    if grep -q "listening on" "$1" 2>/dev/null; then grep -o "listening on [0-9.]*:[0-9]*" "$1" | head -1 | sed 's/.*://'; return; fi
    sleep 0.05
  done
  echo "server did not start: $(cat "$1")" >&2; exit 1
}

run_wrk() {  # name script port
  wrk -t"$wrk_threads" -c"$conns" -d"$duration" --timeout 5s -s "$WRK_DIR/$2" "http://127.0.0.1:$3" | grep '^RESULT' | tee -a "$work/results"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(df -T /tmp | awk 'NR==2{print $2}') /tmp"
echo "wrk -t$wrk_threads -c$conns -d$duration"

"$build/bench/http_ceiling" 0 2 > "$work/ceiling.out" 2>&1 &
pids+=($!)
ceiling_port=$(wait_port "$work/ceiling.out")
run_wrk ceiling ceiling.lua "$ceiling_port"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true

LOG_LEVEL=warn "$build/app/orderflow" --host 127.0.0.1 --port 0 --data-dir "$work/data" > "$work/server.out" 2> "$work/server.log" &
pids+=($!)
port=$(wait_port "$work/server.out")

run_wrk create create.lua "$port"
curl -s "http://127.0.0.1:$port/orders?limit=1000" | python3 -c 'import json,sys; [print(o["id"]) for o in json.load(sys.stdin)["data"]]' > "$work/ids.txt"
export IDS_FILE="$work/ids.txt"
echo "ids for get/update: $(wc -l < "$work/ids.txt")"
run_wrk get_by_id get.lua "$port"
run_wrk update_status status.lua "$port"
run_wrk list list.lua "$port"

python3 - "$work/results" <<'PY'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    name = line.split()[1]
    rows[name] = dict((k, float(v)) for k, v in re.findall(r'(\w+)=([\d.]+)', line))
ceiling = rows["ceiling"]["rps"]
print(f"\n{'scenario':<15}{'req/s':>10}{'% ceiling':>11}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
for name, r in rows.items():
    print(f"{name:<15}{r['rps']:>10.0f}{100*r['rps']/ceiling:>10.1f}%{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{int(r['non2xx']):>9}")
PY
