-- The request of every wrk scenario of bench/run.py, described by environment variables:
--   BENCH_METHOD, BENCH_PATH  e.g. GET and /products/{n}/
--   BENCH_BODY                a JSON body, sent with Content-Type: application/json ("" for none)
--   BENCH_MIN, BENCH_MAX      {n} in the path and body becomes a random integer in [BENCH_MIN, BENCH_MAX]
--   BENCH_TOKEN               sent as Authorization: Bearer <token> ("" for none)
-- done() prints the results as one line, "BENCH_RESULT <json>", for bench/run.py to read.

local function env(name)
  local value = os.getenv(name)
  if value == nil or value == "" then
    return nil
  end
  return value
end

local method = env("BENCH_METHOD") or "GET"
local path = env("BENCH_PATH") or "/"
local body = env("BENCH_BODY")
local low = tonumber(env("BENCH_MIN") or "1")
local high = tonumber(env("BENCH_MAX") or "1")
local token = env("BENCH_TOKEN")

local headers = {}
if token then
  headers["Authorization"] = "Bearer " .. token
end
if body then
  headers["Content-Type"] = "application/json"
end

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  -- Each thread has its own Lua state: seed each differently, or all draw the same numbers.
  math.randomseed(os.time() * 100 + thread_number)
end

function request()
  local n = tostring(math.random(low, high))
  local filled = body and (body:gsub("{n}", n))
  return wrk.format(method, (path:gsub("{n}", n)), headers, filled)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
      .. '"non_2xx_3xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout
  ))
end
