-- wrk script: POST /v1/leads with a distinct email per request.
-- Reads the bearer key from CICLO_BENCH_KEY and a run tag from CICLO_BENCH_RUN.
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  n = 0
  key = os.getenv("CICLO_BENCH_KEY") or ""
  run = os.getenv("CICLO_BENCH_RUN") or "0"
end

function request()
  n = n + 1
  local body = string.format(
    '{"email":"bench-%s-%d-%d@example.it","first_name":"Bench","company":"Rossi Carrelli Srl","utm":{"campaign":"bench"}}',
    run, tid, n)
  return wrk.format("POST", "/v1/leads",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
