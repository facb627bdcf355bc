package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
require("common")
wrk.method = "POST"
wrk.path = "/orders"
wrk.headers["Content-Type"] = "application/json"
-- A listed product with 1,000,000 units of stock, so a long run does not run dry.
wrk.body = '{"customerId":"123e4567-e89b-12d3-a456-426614174001","items":[{"productId":"123e4567-e89b-12d3-a456-426614174000","quantity":1}]}'
function done(summary, latency, requests) report("create", summary, latency) end
