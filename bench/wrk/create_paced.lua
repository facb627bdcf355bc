-- create.lua at a bounded rate: each connection waits DELAY_MS (default 8) before each request,
-- so `-c N` offers about N * 1000 / (DELAY_MS + latency) creates a second (bench/sse_load.sh).
package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
require("common")
wrk.method = "POST"
wrk.path = "/orders"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"customerId":"123e4567-e89b-12d3-a456-426614174001","items":[{"productId":"123e4567-e89b-12d3-a456-426614174000","quantity":1}]}'
local delay_ms = tonumber(os.getenv("DELAY_MS") or "8")
function delay() return delay_ms end
function done(summary, latency, requests) report("create_paced", summary, latency) end
