-- bench/api/wrk.lua: what wrk sends, and the one line bench/api/run reads from it.
--
--   WQ_METHOD=POST WQ_BODY='{"mode":"HEAD_SWAP"}' wrk -s bench/api/wrk.lua URL   -- POST /api/v1/tasks
--   WQ_TOKEN=eyJ… wrk -s bench/api/wrk.lua URL                                   -- with a JWT
--
-- Every request is the same, so it is formatted once (wrk.format) instead of per request.
local method = os.getenv("WQ_METHOD") or "GET"
local body = os.getenv("WQ_BODY")
local token = os.getenv("WQ_TOKEN")
local headers = {}
if body then headers["Content-Type"] = "application/json" end
if token then headers["Authorization"] = "Bearer " .. token end
local formatted = nil

-- Formatted on first use, in each thread: wrk fills wrk.headers (Host) only after loading the script.
request = function()
  if not formatted then formatted = wrk.format(method, nil, headers, body) end
  return formatted
end

-- Non-2xx answers count as errors.status in wrk's summary; a run with any is not a valid measurement.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK rps=%.0f p50_us=%d p99_us=%d max_us=%d requests=%d errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99), latency.max,
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status))
end
