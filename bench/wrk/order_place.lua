-- POST /api/v1/orders: limit orders from many trading organizations over several markets, a mix of
-- resting (60%: 1..50 ticks away from the mid, GTC) and crossing (40%: 60 ticks through the mid, half
-- IOC, half GTC) orders of 1..5 lots, each with its own Idempotency-Key as a careful client sends.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local c = require("common")
local data
local counter = 0
local run = os.getenv("BENCH_RUN_ID") or "0"
local mid = tonumber(os.getenv("BENCH_MID_PRICE") or "10000")
local path = os.getenv("BENCH_ORDERS_PATH") or "/api/v1/orders"

function setup(thread) c.setup(thread) end

function init(args)
  data = c.load()
  math.randomseed(os.time() * 1000 + tid)
end

local function yuan(fen)
  return string.format("%d.%02d", math.floor(fen / 100), fen % 100)
end

function request()
  counter = counter + 1
  local token = data.tokens[math.random(#data.tokens)]
  local market = data.markets[math.random(#data.markets)]
  local buy = math.random() < 0.5
  local r = math.random()
  local price, tif
  if r < 0.6 then
    local off = math.random(1, 50)
    price = buy and (mid - off) or (mid + off)
    tif = "gtc"
  else
    price = buy and (mid + 60) or (mid - 60)
    tif = (r < 0.8) and "ioc" or "gtc"
  end
  local body = string.format('{"market":%d,"side":"%s","price":"%s","quantity":"%d","time_in_force":"%s"}',
    market, buy and "buy" or "sell", yuan(price), math.random(1, 5), tif)
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("wrk-%s-%d-%d", run, tid, counter),
  }, body)
end

function response(status, headers, body) c.count(status) end

done = c.done
