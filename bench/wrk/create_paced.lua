-- create.lua at a bounded rate: each connection waits DELAY_MS (default 8) before each request,
-- so `-c N` offers about N * 1000 / (DELAY_MS + latency) creates a second (bench/sse_load.sh).
dofile(os.getenv("WRK_DIR") .. "/create.lua")
local delay_ms = tonumber(os.getenv("DELAY_MS") or "8")
function delay() return delay_ms end
function done(summary, latency, requests) report("create_paced", summary, latency) end
