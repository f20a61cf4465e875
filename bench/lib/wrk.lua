-- wrk's side of bench/lib/wrk.mjs. Arguments after `--`: METHOD PATH INSTANCES [HEADER-NAME HEADER-VALUE]…
-- With INSTANCES > 0, `{i}` in PATH goes round 0 … INSTANCES-1 in turn, one turn per request over all
-- connections (wrk's script cannot tell its connections apart, so they cannot own lanes as under autocannon).
-- Two requests in flight share an instance only when one is outlived by INSTANCES - 1 later turns: rare with
-- 1,000 instances and 16 connections, but common when instances are about as many as connections.
local requests = {}
local turn = 0

function init(args)
  local method, path, instances = args[1], args[2], tonumber(args[3])
  local headers = {}
  for i = 4, #args - 1, 2 do headers[args[i]] = args[i + 1] end
  if instances > 0 then
    for i = 0, instances - 1 do
      requests[i + 1] = wrk.format(method, (path:gsub("{i}", tostring(i))), headers)
    end
  else
    requests[1] = wrk.format(method, path, headers)
  end
end

function request()
  turn = turn % #requests + 1
  return requests[turn]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"non2xx":%d,"socketErrors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
