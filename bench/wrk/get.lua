package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
require("common")
local ids
function init(args)
  ids = load_ids()
  math.randomseed(os.time())
end
function request()
  return wrk.format("GET", "/orders/" .. ids[math.random(#ids)])
end
function done(summary, latency, requests) report("get_by_id", summary, latency) end
