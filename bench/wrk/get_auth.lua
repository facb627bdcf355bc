package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
require("common")
-- GET /orders/:id with the API key of AUTH_KEY (empty: no credential), for bench/auth_ab.sh.
local ids
local headers = {}
function init(args)
  ids = load_ids()
  math.randomseed(os.time())
  local key = os.getenv("AUTH_KEY") or ""
  if key ~= "" then headers["Authorization"] = "Bearer " .. key end
end
function request()
  return wrk.format("GET", "/orders/" .. ids[math.random(#ids)], headers)
end
function done(summary, latency, requests) report(os.getenv("LABEL") or "get", summary, latency) end
