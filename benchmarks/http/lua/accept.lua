-- POST /api/v1/orders/<id>/accept for each quoted order once: a line of the orders file is
-- "order_id<TAB>token<TAB>voucher_id"; each thread takes every n-th line. Every request has
-- its own Idempotency-Key. When a thread has accepted all its orders it asks for a path that
-- answers 404 (counted apart, not an accept) and stops.
-- wrk ... -s accept.lua URL -- ORDERS_FILE THREADS
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("common")

local orders, next_index, stopping

function init(args)
  orders = lines_of(args[1], tonumber(args[2]), id)
  next_index = 1
  math.randomseed(id * 7919 + os.time())
end

function request()
  local line = orders[next_index]
  if line == nil then
    if not stopping then
      stopping = true
      wrk.thread:stop()
    end
    return wrk.format("GET", "/bench-exhausted")
  end
  next_index = next_index + 1
  local f = split(line)
  local key = string.format("bench-%d-%d-%08x%08x", id, next_index, math.random(0, 0x7fffffff),
    math.random(0, 0x7fffffff))
  return wrk.format("POST", "/api/v1/orders/" .. f[1] .. "/accept", {
    ["Authorization"] = "Bearer " .. f[2],
    ["Idempotency-Key"] = key,
    ["Content-Type"] = "application/json",
  }, '{"voucher_id": ' .. f[3] .. ', "agree": true}')
end
