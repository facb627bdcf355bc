-- Shared by the wrk scripts: one machine-readable result line per run.
function report(name, summary, latency)
  local secs = summary.duration / 1e6
  local non2xx = summary.errors.status or 0
  local sockerr = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %s rps=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d non2xx=%d socket_errors=%d\n",
    name, summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, non2xx, sockerr))
end

function load_ids()
  local ids = {}
  for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
  return ids
end
