-- wrk script for the max-RPS runs; prints one machine-readable "JSON {...}" line at the end.
--
--   wrk -t1 -c32 -d10s -s bench/wrk_bench.lua http://127.0.0.1:PORT/ -- TOKEN N_USERS UNKNOWN_PCT [PLACEMENT]
--
-- PLACEMENT (optional) adds &placement=PLACEMENT, e.g. a configured placement with rules,
-- diversity and the learned ranker (see bench/placements_bench.py for such a file).
-- With N_USERS > 0 it rotates GET /v1/recommendations?user_id=u<k>&n=10 over random real
-- users u0..u<N_USERS-1>, plus UNKNOWN_PCT percent never-seen users (cold start path).
-- With N_USERS = 0 (or no arguments) it requests the URL's own path: the hello-world run.
-- Requests are pre-formatted in init() so the Lua side costs almost nothing per request.

local requests = {}
local count = 0
local index = 0

function init(args)
  local token = args[1]
  local n_users = tonumber(args[2] or "0") or 0
  local unknown_pct = tonumber(args[3] or "5") or 5
  local placement = ""
  if args[4] ~= nil and args[4] ~= "" then
    placement = "&placement=" .. args[4]
  end
  if token ~= nil and token ~= "" and token ~= "-" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  if n_users <= 0 then
    requests[1] = wrk.format(nil, wrk.path)
    count = 1
    return
  end
  math.randomseed(12345)
  count = 20000
  for i = 1, count do
    local user
    if math.random(100) <= unknown_pct then
      user = "anon-" .. math.random(0, 999999999)
    else
      user = "u" .. math.random(0, n_users - 1)
    end
    requests[i] = wrk.format("GET", "/v1/recommendations?user_id=" .. user .. "&n=10" .. placement)
  end
end

function request()
  index = index % count + 1
  return requests[index]
end

function done(summary, latency, requests_)
  local e = summary.errors
  print(string.format(
    'JSON {"duration_us":%d,"requests":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p99.9":%d}}',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
