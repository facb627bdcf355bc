package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
require("common")
wrk.method = "GET"
wrk.path = "/"
function done(summary, latency, requests) report("ceiling", summary, latency) end
