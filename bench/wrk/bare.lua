-- The ceiling: POST /api/v1/bench/rows (token auth, one INSERT), a random trader token per request.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local c = require("common")
local data
local path = os.getenv("BENCH_BARE_PATH") or "/api/v1/bench/rows"

function setup(thread) c.setup(thread) end

function init(args)
  data = c.load()
  math.randomseed(os.time() * 1000 + tid)
end

function request()
  local token = data.tokens[math.random(#data.tokens)]
  return wrk.format("POST", path,
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, '{"note":"wrk"}')
end

function response(status, headers, body) c.count(status) end

done = c.done
