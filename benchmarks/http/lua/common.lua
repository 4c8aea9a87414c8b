-- Shared by the benchmark's wrk scripts: thread numbering, status counting and a JSON
-- summary on stdout (the last line, read by benchmarks/http/load.py).
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

statuses = {}

function count_status(status)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function response(status, headers, body)
  count_status(status)
end

local function encode_counts(all)
  local parts = {}
  for key, value in pairs(all) do
    table.insert(parts, string.format('"%s": %d', key, value))
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
  local all = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for key, value in pairs(counts) do
      all[key] = (all[key] or 0) + value
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"duration_us": %d, "requests": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p95": %d, "p99": %d, "max": %d}, ' ..
    '"statuses": %s}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, encode_counts(all)))
end

function lines_of(path, every, offset)
  -- Every ``every``-th line of ``path`` starting at ``offset`` (0-based): a thread's share.
  local out, n = {}, 0
  for line in io.lines(path) do
    if line ~= "" and n % every == offset then
      table.insert(out, line)
    end
    n = n + 1
  end
  return out
end

function split(line)
  local fields = {}
  for field in string.gmatch(line, "[^\t]+") do
    table.insert(fields, field)
  end
  return fields
end
