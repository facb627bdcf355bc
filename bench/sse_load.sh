#!/usr/bin/env bash
# Creates/s with and without 1,000 Server-Sent Events subscribers on GET /events, in one run, and
# the delivery lag of the events to the subscribers (issue 19).
# Usage: bench/sse_load.sh [BUILD_DIR]
#   env: DURATION=8s CONNECTIONS=64 SUBSCRIBERS=1000 PROCESSES=4 ROUNDS=3 PACED_CONNECTIONS=4 DELAY_MS=8
# Each round: wrk creates at full speed alone (the baseline), then the same wrk run while
# SUBSCRIBERS subscribers (over PROCESSES client processes, bench/sse_subscribers) read every event
# from the head; then a paced run (PACED_CONNECTIONS connections, DELAY_MS between requests: a few
# hundred creates/s) with the subscribers, for the lag at a rate the fan-out can carry. The ratio is
# per round (the VM drifts); the lag is now - occurredAt of every event one connection in 20 reads
# (occurredAt is stamped before the group commit, so the lag includes the commit's fsync).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
duration=${DURATION:-8s}
conns=${CONNECTIONS:-64}
subscribers=${SUBSCRIBERS:-1000}
processes=${PROCESSES:-4}
rounds=${ROUNDS:-3}
export WRK_DIR="$here/wrk"
# shellcheck source=bench/http_common.sh
source "$here/http_common.sh"
seconds=${duration%s}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk -t2 -c$conns -d$duration; $subscribers subscribers over $processes processes"

LOG_LEVEL=warn SUBSCRIBERS_MAX=$((subscribers + 10)) "$build/server/orderflow" --host 127.0.0.1 --port 0 \
  --data-dir "$work/data" > "$work/server.out" 2> "$work/server.log" &
pids+=($!)
port=$(wait_port "$work/server.out")
head_of() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^orderflow_event_log_head_sequence /{print $2}'; }
subscribed() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^orderflow_feed_subscribers /{print $2}'; }

with_subscribers() {  # name wrk-args...: runs wrk while the subscribers read; prints both result lines
  local name=$1; shift
  "$build/bench/sse_subscribers" "$port" "$subscribers" "$processes" "$((seconds + 6))" "$(head_of)" > "$work/subs.out" &
  local spid=$!
  for _ in $(seq 1 200); do [ "$(subscribed)" = "$subscribers" ] && break; sleep 0.05; done
  echo "subscribed: $(subscribed)"
  sleep 1
  wrk "$@" "http://127.0.0.1:$port" | grep '^RESULT' | sed "s/^RESULT [a-z_]*/RESULT $name/" | tee -a "$work/results"
  wait "$spid"
  sed "s/^RESULT subscribers/RESULT ${name}_subscribers/" "$work/subs.out" | tee -a "$work/results"
  for _ in $(seq 1 200); do [ "$(subscribed)" = "0" ] && break; sleep 0.05; done
}

for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds"
  wrk -t2 -c"$conns" -d"$duration" --timeout 5s -s "$WRK_DIR/create.lua" "http://127.0.0.1:$port" | grep '^RESULT' | tee -a "$work/results"
  with_subscribers create_subscribed -t2 -c"$conns" -d"$duration" --timeout 5s -s "$WRK_DIR/create.lua"
  DELAY_MS=${DELAY_MS:-8} with_subscribers paced_subscribed -t1 -c"${PACED_CONNECTIONS:-4}" -d"$duration" --timeout 5s \
    -s "$WRK_DIR/create_paced.lua"
done

python3 - "$work/results" <<'PY'
import re, statistics, sys
rows = []
for line in open(sys.argv[1]):
    name = line.split()[1]
    rows.append((name, dict((k, float(v)) for k, v in re.findall(r'(\w+)=([\d.]+)', line))))
ratios, base = [], None
for name, r in rows:
    if name == "create": base = r["rps"]
    if name == "create_subscribed": ratios.append(r["rps"] / base)
def med(name, key): return statistics.median(r[key] for n, r in rows if n == name)
print()
print(f"creates/s alone (median): {med('create', 'rps'):.0f}")
print(f"creates/s with subscribers (median): {med('create_subscribed', 'rps'):.0f}; per round % of the round's baseline: "
      + " ".join(f"{100*x:.1f}%" for x in ratios) + f" (median {100*statistics.median(ratios):.1f}%, target >= 80%)")
for n in ("create_subscribed_subscribers", "paced_subscribed_subscribers"):
    sel = [r for m, r in rows if m == n]
    print(f"{n}: connected {' '.join(str(int(r['connected'])) for r in sel)}; events per probe "
          f"{' '.join(str(int(r['events_per_probe'])) for r in sel)}; lag p50 {' '.join(str(int(r['lag_p50_ms'])) for r in sel)} ms, "
          f"p99 {' '.join(str(int(r['lag_p99_ms'])) for r in sel)} ms (target < 50), max {' '.join(str(int(r['lag_max_ms'])) for r in sel)} ms; "
          f"MB received {' '.join(str(int(r['bytes'] // 1000000)) for r in sel)}")
print(f"paced creates/s with subscribers: {' '.join(str(int(r['rps'])) for n, r in rows if n == 'paced_subscribed')}")
PY
