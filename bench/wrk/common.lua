-- Shared by the wrk scripts: per-thread ids, bearer tokens read from $BENCH_WRK_DATA, status counts,
-- and a JSON summary printed by done() (parsed by bench/drivers/http_bench.py).
local M = {}
local threads = {}
local next_id = 0

function M.setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

function M.load()
  local data = {tokens = {}, markets = {}}
  local f = assert(io.open(os.getenv("BENCH_WRK_DATA"), "r"))
  local first = true
  for line in f:lines() do
    if first then
      for m in string.gmatch(line, "%d+") do table.insert(data.markets, tonumber(m)) end
      first = false
    elseif #line > 0 then
      table.insert(data.tokens, line)
    end
  end
  f:close()
  return data
end

function M.count(status)
  if status == 201 or status == 200 or status == 202 then ok = (ok or 0) + 1
  elseif status >= 500 then e5 = (e5 or 0) + 1
  else e4 = (e4 or 0) + 1; last4 = status end
end

function M.done(summary, latency, requests)
  local ok_n, e4_n, e5_n, last = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    ok_n = ok_n + (t:get("ok") or 0)
    e4_n = e4_n + (t:get("e4") or 0)
    e5_n = e5_n + (t:get("e5") or 0)
    last = t:get("last4") or last
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"ok":%d,"http_4xx":%d,"http_5xx":%d,"last_4xx":%d,' ..
    '"socket_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, ok_n, e4_n, e5_n, last,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end

return M
