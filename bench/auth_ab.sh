#!/usr/bin/env bash
# GET /orders/:id without access control vs with an API key and a rate limit that is never hit
# (issue 20: the keyed run should reach >= 90% of the open one). Both servers run at once, with the
# same 200 orders; the runs alternate (open, keyed, open, keyed, ...) so a slow period hits both.
# Usage: bench/auth_ab.sh [BUILD_DIR] [ROUNDS] [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}; rounds=${2:-3}; secs=${3:-5}
source "$here/http_common.sh"
bin="$build/server/orderflow"
key="of_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
digest=$(printf %s "$key" | sha256sum | cut -c1-64)
printf '{"keys":[{"name":"bench","sha256":"%s","scopes":["orders:read","orders:write"],"rateLimitPerSecond":10000000,"burst":10000000}]}' \
  "$digest" > "$work/keys.json"
start() {  # name, extra args... (not in a subshell: `pids` must see the server to stop it)
  local name=$1; shift
  "$bin" --host 127.0.0.1 --port 0 --data-dir "$work/$name" --log-level warn "$@" > "$work/$name.out" 2> "$work/$name.log" &
  pids+=($!)
}
start open; open_pid=${pids[-1]}
start keyed --api-keys-file "$work/keys.json"; keyed_pid=${pids[-1]}
open_port=$(wait_port "$work/open.out"); keyed_port=$(wait_port "$work/keyed.out")
body='{"customerId":"123e4567-e89b-12d3-a456-426614174001","items":[{"productId":"123e4567-e89b-12d3-a456-426614174000","quantity":1}]}'
for _ in $(seq 1 200); do
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$open_port/orders"
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $key" -d "$body" \
    "http://127.0.0.1:$keyed_port/orders"
done
save_order_ids "$open_port" "$work/open.ids"
curl -s -H "Authorization: Bearer $key" "http://127.0.0.1:$keyed_port/orders?limit=1000" |
  python3 -c 'import json,sys; [print(o["id"]) for o in json.load(sys.stdin)["data"]]' > "$work/keyed.ids"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # the process's user + system time
run() {  # label ids port key seconds pid -> the RESULT line, with the server's CPU per request
  local before after line
  before=$(cpu_ticks "$6")
  line=$(WRK_DIR="$here/wrk" IDS_FILE="$2" AUTH_KEY="$4" LABEL="$1" \
    wrk -t1 -c16 -d"$5s" -s "$here/wrk/get_auth.lua" "http://127.0.0.1:$3" | grep RESULT)
  after=$(cpu_ticks "$6")
  local requests=${line#*requests=}; requests=${requests%% *}
  echo "$line server_cpu_us_per_req=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"
}
# A first, unreported run on each: the first seconds of a server (caches, per-thread series) are
# not what the comparison is about, and whichever ran first would pay them alone.
run warm_open "$work/open.ids" "$open_port" "" 2 "$open_pid" > /dev/null
run warm_keyed "$work/keyed.ids" "$keyed_port" "$key" 2 "$keyed_pid" > /dev/null
ratios=()
for r in $(seq 1 "$rounds"); do
  o=$(run "open_round$r" "$work/open.ids" "$open_port" "" "$secs" "$open_pid"); echo "$o"
  k=$(run "keyed_round$r" "$work/keyed.ids" "$keyed_port" "$key" "$secs" "$keyed_pid"); echo "$k"
  ratios+=("$(awk -v o="${o#*rps=}" -v k="${k#*rps=}" 'BEGIN { printf "%.1f", 100 * (k + 0) / (o + 0) }')")
  echo "ratio_round$r keyed/open=${ratios[-1]}%"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "MEDIAN keyed/open=%s%% over %d rounds (target >= 90%%)\n", v[int((NR + 1) / 2)], NR }'
if grep -q "$key" "$work/keyed.log"; then echo "FAIL: the key appears in the server log" >&2; exit 1; fi
