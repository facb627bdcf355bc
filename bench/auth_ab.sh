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
start() {  # name, extra args...
  local name=$1; shift
  "$bin" --host 127.0.0.1 --port 0 --data-dir "$work/$name" --log-level warn "$@" > "$work/$name.out" 2> "$work/$name.log" &
  pids+=($!)
  wait_port "$work/$name.out"
}
open_port=$(start open); keyed_port=$(start keyed --api-keys-file "$work/keys.json")
body='{"customerId":"123e4567-e89b-12d3-a456-426614174001","items":[{"productId":"123e4567-e89b-12d3-a456-426614174000","quantity":1}]}'
for _ in $(seq 1 200); do
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$open_port/orders"
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $key" -d "$body" \
    "http://127.0.0.1:$keyed_port/orders"
done
save_order_ids "$open_port" "$work/open.ids"
curl -s -H "Authorization: Bearer $key" "http://127.0.0.1:$keyed_port/orders?limit=1000" |
  python3 -c 'import json,sys; [print(o["id"]) for o in json.load(sys.stdin)["data"]]' > "$work/keyed.ids"
for r in $(seq 1 "$rounds"); do
  WRK_DIR="$here/wrk" IDS_FILE="$work/open.ids" AUTH_KEY="" LABEL="open_round$r" \
    wrk -t1 -c16 -d"${secs}s" -s "$here/wrk/get_auth.lua" "http://127.0.0.1:$open_port" | grep RESULT
  WRK_DIR="$here/wrk" IDS_FILE="$work/keyed.ids" AUTH_KEY="$key" LABEL="keyed_round$r" \
    wrk -t1 -c16 -d"${secs}s" -s "$here/wrk/get_auth.lua" "http://127.0.0.1:$keyed_port" | grep RESULT
done
if grep -q "$key" "$work/keyed.log"; then echo "FAIL: the key appears in the server log" >&2; exit 1; fi
