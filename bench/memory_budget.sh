#!/usr/bin/env bash
# Memory under a budget: the server's resident set as the store grows, and GET by id at scale.
# Usage: bench/memory_budget.sh [BUILD_DIR]
#   env: BUDGET_MB=256 OVERHEAD_MB=64 ORDERS="10000 100000 1000000" DURATION=5s CONNECTIONS=64
#        SAMPLE_IDS=20000 ROUNDS=2
# Starts orderflow (sync on, --memory-budget-mb BUDGET_MB, a temp data dir) and the trivial Beast
# server bench/http_ceiling, fills the store with durable creates over HTTP (wrk, create.lua) up to
# each count in ORDERS, and at each count prints:
#   - the server's RSS (VmRSS, and VmHWM, the peak so far) against BUDGET_MB + OVERHEAD_MB, the fixed
#     overhead that does not grow with the data (binary, threads, connection buffers, allocator);
#   - GET /orders/:id over SAMPLE_IDS ids spread over every order created so far (sampled through
#     createdFrom at random instants), each run paired with a ceiling run just before it (this VM
#     drifts), as a % of that ceiling, once the server is idle (its flushes and compactions done);
#     the figure at each count is the median over ROUNDS.
# Last, the GET ratio of the largest count to the smallest (target: >= 80%), and PASS/FAIL lines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
budget=${BUDGET_MB:-256}
overhead=${OVERHEAD_MB:-64}
counts=${ORDERS:-10000 100000 1000000}
duration=${DURATION:-5s}
conns=${CONNECTIONS:-64}
sample=${SAMPLE_IDS:-20000}
rounds=${ROUNDS:-2}
export WRK_DIR="$here/wrk"

# shellcheck source=bench/http_common.sh
source "$here/http_common.sh"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(df -T /tmp | awk 'NR==2{print $2}') /tmp"
echo "budget ${budget} MiB + fixed overhead ${overhead} MiB; wrk -t2 -c$conns -d$duration; $rounds GET rounds per count"

"$build/bench/http_ceiling" 0 2 > "$work/ceiling.out" 2>&1 &
pids+=($!)
ceiling_port=$(wait_port "$work/ceiling.out")

LOG_LEVEL=warn "$build/server/orderflow" --host 127.0.0.1 --port 0 --data-dir "$work/data" \
  --memory-budget-mb "$budget" > "$work/server.out" 2> "$work/server.log" &
server_pid=$!
pids+=($server_pid)
port=$(wait_port "$work/server.out")
rss_mb() { awk -v k="$1:" '$1 == k { printf "%.0f", $2 / 1024 }' "/proc/$server_pid/status"; }
echo "RSS at start (empty store): $(rss_mb VmRSS) MiB"

metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m { printf "%.0f", $2 }'; }
orders() { echo $(( $(metric orderflow_event_log_head_sequence) / 2 )); }  # a create = 2 events

sample_ids() {  # orders: SAMPLE_IDS ids (at most half the orders) spread over the whole creation period
  python3 - "$port" "$sample" "$1" > "$work/ids.txt" <<'PY'
import json, random, sys, urllib.request
port, want = sys.argv[1], min(int(sys.argv[2]), int(sys.argv[3]) // 2)
def page(query):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/orders?{query}") as r:
        return json.load(r)["data"]
first = page("limit=1")[0]["createdAt"]
last = page("limit=1&sort=-createdAt")[0]["createdAt"]
from datetime import datetime
t0 = datetime.fromisoformat(first.replace("Z", "+00:00")).timestamp()
t1 = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp()
ids, per = set(), 100
random.seed(7)
for _ in range(10 * want // per + 10):
    if len(ids) >= want: break
    at = datetime.utcfromtimestamp(random.uniform(t0, t1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    for o in page(f"limit={per}&createdFrom={at}"):
        ids.add(o["id"])
    if t1 - t0 < 0.001: break
print("\n".join(list(ids)[:want]))
PY
}

run_wrk() {  # script port -> the RESULT line
  wrk -t2 -c"$conns" -d"$1" --timeout 5s -s "$WRK_DIR/$2" "http://127.0.0.1:$3" | grep '^RESULT'
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
wait_idle() {  # until the server used under 5% of a core for a whole second (its flushes and
               # compactions of what was just written are done), at most 180 s
  for _ in $(seq 1 180); do
    local before; before=$(cpu_ticks); sleep 1
    [ $(( $(cpu_ticks) - before )) -lt 5 ] && return
  done
  echo "the server did not go idle within 180 s" >&2
}

fill_to() {  # count: durable creates until the store holds at least `count` orders
  local target=$1
  while [ "$(orders)" -lt "$target" ]; do
    local left=$(( target - $(orders) ))
    local secs=$(( left / 12000 + 1 ))  # several thousand creates/s here; overshoot is under a second's worth
    [ "$secs" -gt 20 ] && secs=20
    run_wrk "${secs}s" create.lua "$port" > /dev/null
  done
}

: > "$work/results"
for count in $counts; do
  fill_to "$count"
  have=$(orders)
  rss_filled=$(rss_mb VmRSS)
  wait_idle  # GETs measured beside a compaction would measure the compaction
  sample_ids "$have"
  export IDS_FILE="$work/ids.txt"
  for round in $(seq 1 "$rounds"); do
    c=$(run_wrk "$duration" ceiling.lua "$ceiling_port")
    g=$(run_wrk "$duration" get.lua "$port")
    echo "$count $c | $g" >> "$work/results"
  done
  rss_after=$(rss_mb VmRSS)
  peak=$(rss_mb VmHWM)
  echo "orders=$have rss_after_fill_mib=$rss_filled rss_after_gets_mib=$rss_after peak_mib=$peak" \
       "cache_mib=$(( $(metric orderflow_rocksdb_block_cache_bytes) >> 20 ))" \
       "memtables_mib=$(( $(metric orderflow_rocksdb_memtable_bytes) >> 20 ))" \
       "stream_heads=$(metric orderflow_stream_head_cache_entries)" \
       "aggregates=$(metric orderflow_aggregate_cache_entries) ids=$(wc -l < "$work/ids.txt")" | tee -a "$work/rss"
done

python3 - "$work/results" "$work/rss" "$budget" "$overhead" <<'PY'
import re, statistics, sys
results, rss, budget, overhead = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
by_count = {}
for line in open(results):
    count, rest = line.split(" ", 1)
    ceiling, get = rest.split("|")
    c = float(re.search(r"rps=([\d.]+)", ceiling).group(1))
    g = float(re.search(r"rps=([\d.]+)", get).group(1))
    by_count.setdefault(int(count), []).append((g, c, g / c))
print(f"\n{'orders':>9}{'GET/s':>10}{'% ceiling':>11}   per-round % of the paired ceiling")
for count, rows in by_count.items():
    print(f"{count:>9}{statistics.median(r[0] for r in rows):>10.0f}{100 * statistics.median(r[2] for r in rows):>10.1f}%   "
          + " ".join(f"{100 * r[2]:.1f}%" for r in rows))
lo, hi = min(by_count), max(by_count)
ratio = statistics.median(r[2] for r in by_count[hi]) / statistics.median(r[2] for r in by_count[lo])
limit = budget + overhead
peaks = [int(re.search(r"peak_mib=(\d+)", l).group(1)) for l in open(rss)]
print(f"GET at {hi} orders / GET at {lo} orders (each as % of its paired ceiling): {100 * ratio:.1f}%"
      f"  {'PASS' if ratio >= 0.8 else 'FAIL'} (target >= 80%)")
print(f"peak RSS {max(peaks)} MiB, limit {limit} MiB (budget {budget} + overhead {overhead})"
      f"  {'PASS' if max(peaks) <= limit else 'FAIL'}")
PY
