#!/usr/bin/env bash
# A/B of two orderflow binaries under the same wrk scenario, alternating runs on the same machine
# (this VM's speed drifts by up to 2x within minutes, so A and B take turns, round after round).
# Usage: bench/http_ab.sh BIN_A BIN_B SCRIPT [ROUNDS] [DURATION]   e.g. bench/http_ab.sh old/orderflow
#        build/server/orderflow get.lua 4 4s   (env: CONNECTIONS=64)
# Both servers run throughout (sync on, LOG_LEVEL=warn, a temp data dir each, a free port each);
# each first takes 3 s of creates so that get.lua and status.lua have orders (their first 1000
# ids). Prints wrk's RESULT lines, tagged [A] and [B].
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
a=$1 b=$2 script=$3 rounds=${4:-4} duration=${5:-4s}
conns=${CONNECTIONS:-64}
export WRK_DIR="$here/wrk"
# shellcheck source=bench/http_common.sh
source "$here/http_common.sh"

LOG_LEVEL=warn "$a" --host 127.0.0.1 --port 0 --data-dir "$work/a" > "$work/a.out" 2>&1 &
pids+=($!)
LOG_LEVEL=warn "$b" --host 127.0.0.1 --port 0 --data-dir "$work/b" > "$work/b.out" 2>&1 &
pids+=($!)
port_a=$(wait_port "$work/a.out")
port_b=$(wait_port "$work/b.out")

run() {  # tag port script duration
  IDS_FILE="$work/ids_$2.txt" wrk -t2 -c"$conns" -d"$4" --timeout 5s -s "$WRK_DIR/$3" "http://127.0.0.1:$2" |
    grep '^RESULT' | sed "s/^/[$1] /"
}
run A "$port_a" create.lua 3s
save_order_ids "$port_a" "$work/ids_$port_a.txt"
run B "$port_b" create.lua 3s
save_order_ids "$port_b" "$work/ids_$port_b.txt"
for _ in $(seq 1 "$rounds"); do
  run A "$port_a" "$script" "$duration"
  run B "$port_b" "$script" "$duration"
done
