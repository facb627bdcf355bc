package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
require("common")
-- GET /orders/:id with the API key of AUTH_KEY (empty: no credential), for bench/auth_ab.sh. The
-- requests are formatted once, in init: wrk shares the machine with the server, and formatting a
-- header table per request would make the keyed run's client slower, not its server.
local requests = {}
function init(args)
  math.randomseed(os.time())
  local key = os.getenv("AUTH_KEY") or ""
  local headers = {}
  if key ~= "" then headers["Authorization"] = "Bearer " .. key end
  for _, id in ipairs(load_ids()) do requests[#requests + 1] = wrk.format("GET", "/orders/" .. id, headers) end
end
function request()
  return requests[math.random(#requests)]
end
function done(summary, latency, requests) report(os.getenv("LABEL") or "get", summary, latency) end
