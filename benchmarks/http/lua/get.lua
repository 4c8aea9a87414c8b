-- GET requests in turn: each line of the paths file is "path" or "path<TAB>token" (sent as a
-- bearer token); each thread starts at its own line and cycles through all of them.
-- wrk ... -s get.lua URL -- PATHS_FILE
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
require("common")

local requests, next_index

function init(args)
  requests = {}
  for _, line in ipairs(lines_of(args[1], 1, 0)) do
    local f = split(line)
    local headers = {}
    if f[2] then
      headers["Authorization"] = "Bearer " .. f[2]
    end
    table.insert(requests, wrk.format("GET", f[1], headers))
  end
  next_index = (id % #requests) + 1
end

function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end
