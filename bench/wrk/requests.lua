-- The requests of bench/server.ts for wrk (KVCASK_BENCH_CLIENT=wrk). Arguments after `--`:
--   get <file> <threads>                the paths in <file>, one a line, each thread cycling through them;
--   put <first> <size> <threads>        PUT of a new key per request: thread i sends the keys
--                                       first + i, first + i + threads, ... (never one twice),
--                                       with a body of <size> bytes 'v'.
-- done() prints one JSON line for the benchmark to parse.

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local requests, next_index, key, step, head, tail

function init(args)
  local mode = args[1]
  if mode == "get" then
    requests = {}
    for path in io.lines(args[2]) do
      requests[#requests + 1] = wrk.format("GET", path)
    end
    -- Threads start at different places in the list, as connections do in autocannon.
    next_index = (id * math.floor(#requests / tonumber(args[3]))) % #requests + 1
  elseif mode == "put" then
    step = tonumber(args[4])
    key = tonumber(args[2]) + id
    local body = string.rep("v", tonumber(args[3]))
    -- Built once: each request only formats its key between these two.
    head = "PUT /kv/key-"
    local host = wrk.port and (wrk.host .. ":" .. wrk.port) or wrk.host
    tail = " HTTP/1.1\r\nHost: " .. host .. "\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
  else
    error("unknown mode " .. tostring(mode))
  end
end

function request()
  if requests then
    local r = requests[next_index]
    next_index = next_index % #requests + 1
    return r
  end
  local r = head .. string.format("%012x", key) .. tail
  key = key + step
  return r
end

-- CPU seconds (user + system) of this wrk process, all threads, from /proc; -1 where there is none.
local function cpu_seconds()
  local f = io.open("/proc/self/stat", "r")
  if not f then return -1 end
  local stat = f:read("*a")
  f:close()
  local fields = {}
  for field in stat:match("%) (.*)"):gmatch("%S+") do fields[#fields + 1] = field end
  return (tonumber(fields[12]) + tonumber(fields[13])) / 100
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"non2xx":%d,"errors":%d,"cpuSeconds":%.2f}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout, cpu_seconds()))
end
