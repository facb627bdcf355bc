#!/bin/sh
# Makes outbox-pending-v1.tar.gz: a data directory written by the release before the relay tails
# the log (the release this script was committed with, and the ones before), with every outbox
# row still pending (the broker was unreachable the whole time). For the upgrade-in-place test of
# issue 18; run it with that release's binary:  make-outbox-pending-v1.sh path/to/orderflow OUT.tar.gz
set -eu
bin=$1; out=$2
work=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=38555
USE_REAL_MESSAGE_BROKER=true AMQP_URL=amqp://guest:guest@127.0.0.1:1/ \
  "$bin" --data-dir "$work/db" --port $port >"$work/out" 2>"$work/err" &
pid=$!
until grep -q listening "$work/out" 2>/dev/null; do sleep 0.1; done
req() { curl -sf -X "$1" "http://127.0.0.1:$port$2" -H 'content-type: application/json' ${3:+-d "$3"}; }
id() { sed 's/.*"data":{"id":"\([0-9a-f-]*\)".*/\1/'; }
body='{"customerId":"a23e4567-e89b-12d3-a456-426614174000","items":[{"productId":"123e4567-e89b-12d3-a456-426614174000","quantity":2},{"productId":"223e4567-e89b-12d3-a456-426614174001","quantity":1}]}'
a=$(req POST /orders "$body" | id); b=$(req POST /orders "$body" | id); c=$(req POST /orders "$body" | id)
req PUT "/orders/$a/status" '{"status":"shipped"}' >/dev/null
req PUT "/orders/$b/status" '{"status":"canceled","statusReason":"Kunde: \"zu spät\" — 🚚"}' >/dev/null
req PUT "/orders/$c/shipping" '{"trackingNumber":"T-1","trackingCompany":"DHL"}' >/dev/null
req DELETE "/orders/$c" >/dev/null
kill -TERM $pid; wait $pid || true
tar -C "$work" -czf "$out" db
echo "$a $b $c"
