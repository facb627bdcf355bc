package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
require("common")
wrk.method = "GET"
wrk.path = "/orders?limit=20"
function done(summary, latency, requests) report("list_20", summary, latency) end
