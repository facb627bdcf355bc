package.path = os.getenv("WRK_DIR") .. "/?.lua;" .. package.path
require("common")
-- Each wrk thread walks its own half of the ids and toggles each order processing <-> canceled
-- (both valid transitions; reactivation re-reserves stock, cancel releases it).
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local ids, state, i
function init(args)
  -- ID_SLICE="r/n": only the ids whose position is r modulo n, so that each round of
  -- http_load.sh toggles orders no earlier round touched (a fresh wrk run assumes "created").
  local all = load_ids()
  local r, n = string.match(os.getenv("ID_SLICE") or "0/1", "(%d+)/(%d+)")
  r, n = tonumber(r), tonumber(n)
  ids = {}
  for k = 1, #all do
    if (k - 1) % n == r then ids[#ids + 1] = all[k] end
  end
  -- An even count keeps each thread on its own half (it steps by 2 from its thread number).
  if #ids % 2 == 1 then ids[#ids] = nil end
  state = {}
  i = tid
end
local verified = false
function request()
  -- wrk calls request() once on thread 0's state before any connection, to count the requests a
  -- call returns (script_verify_request), and never sends that one: it must not flip an order's
  -- state here, or that order's next request asks for the status it already has (a 400).
  if tid == 0 and not verified then
    verified = true
    return wrk.format("PUT", "/orders/" .. ids[1] .. "/status", {["Content-Type"] = "application/json"},
      '{"status":"canceled"}')
  end
  i = (i + 2) % #ids
  local id = ids[i + 1]
  local to = (state[id] == "canceled") and "processing" or "canceled"
  state[id] = to
  return wrk.format("PUT", "/orders/" .. id .. "/status", {["Content-Type"] = "application/json"},
    '{"status":"' .. to .. '"}')
end
function done(summary, latency, requests) report("update_status", summary, latency) end
