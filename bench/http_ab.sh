#!/usr/bin/env bash
# A/B of two orderflow binaries under the same wrk scenario, alternating runs on the same machine
# (this VM's speed drifts by up to 2x within minutes, so A and B take turns, round after round).
# Usage: bench/http_ab.sh BIN_A BIN_B SCRIPT [ROUNDS] [DURATION]   e.g. bench/http_ab.sh old/orderflow
#        build/app/orderflow get.lua 4 4s   (env: PORT_A=18090 PORT_B=18091 CONNECTIONS=64)
# Both servers run throughout (sync on, LOG_LEVEL=warn, a temp data dir each); each first takes 3 s
# of creates so that get.lua and status.lua have orders (their first 1000 ids). Prints wrk's RESULT
# lines, tagged [A] and [B].
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
a=$1 b=$2 script=$3 rounds=${4:-4} duration=${5:-4s}
port_a=${PORT_A:-18090} port_b=${PORT_B:-18091} conns=${CONNECTIONS:-64}
export WRK_DIR="$here/wrk"
work=$(mktemp -d /tmp/orderflow-ab-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
LOG_LEVEL=warn "$a" --host 127.0.0.1 --port "$port_a" --data-dir "$work/a" > "$work/a.out" 2>&1 &
pids+=($!)
LOG_LEVEL=warn "$b" --host 127.0.0.1 --port "$port_b" --data-dir "$work/b" > "$work/b.out" 2>&1 &
pids+=($!)
for f in "$work/a.out" "$work/b.out"; do
  for _ in $(seq 1 200); do grep -q "listening on" "$f" 2>/dev/null && break; sleep 0.05; done
  grep -q "listening on" "$f" || { echo "a server did not start: $(cat "$f")" >&2; exit 1; }
done
run() {  # tag port script duration
  IDS_FILE="$work/ids_$2.txt" wrk -t2 -c"$conns" -d"$4" --timeout 5s -s "$WRK_DIR/$3" "http://127.0.0.1:$2" |
    grep '^RESULT' | sed "s/^/[$1] /"
}
for tagged in "A $port_a" "B $port_b"; do
  set -- $tagged
  run "$1" "$2" create.lua 3s
  curl -s "http://127.0.0.1:$2/orders?limit=1000" |
    python3 -c 'import json,sys; [print(o["id"]) for o in json.load(sys.stdin)["data"]]' > "$work/ids_$2.txt"
done
for _ in $(seq 1 "$rounds"); do
  run A "$port_a" "$script" "$duration"
  run B "$port_b" "$script" "$duration"
done
