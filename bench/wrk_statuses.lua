-- wrk script for bench.api's sustained phase: rotate over the bearer tokens
-- listed (with their paths) in the file given as the script's argument, and
-- print how many responses each HTTP status had ("status <code> <count>").
--
--   wrk ... -s bench/wrk_statuses.lua <url> -- <file of "token path" lines>

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  targets = {}
  for line in io.lines(args[1]) do
    local token, path = line:match("^(%S+)%s+(%S+)$")
    table.insert(targets, { token = token, path = path })
  end
  -- each thread starts at its own place in the rotation
  next_target = math.random(#targets)
end

function request()
  local target = targets[next_target]
  next_target = next_target % #targets + 1
  return wrk.format("GET", target.path, { Authorization = "Bearer " .. target.token })
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      total[code] = (total[code] or 0) + count
    end
  end
  for code, count in pairs(total) do
    io.write(string.format("status %d %d\n", code, count))
  end
end
