# Shared by bench/http_load.sh and bench/http_ab.sh (sourced, not run): a temp work dir removed on
# exit with every process in `pids`, and the helpers both scripts start and feed servers with.
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

save_order_ids() {  # port file: the ids of the server's first 1000 orders, one a line (get.lua, status.lua)
  curl -s "http://127.0.0.1:$1/orders?limit=1000" |
    python3 -c 'import json,sys; [print(o["id"]) for o in json.load(sys.stdin)["data"]]' > "$2"
}
