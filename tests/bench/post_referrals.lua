-- wrk script: signed referral batches read from CICLO_BENCH_BATCHES (one per line: webhook-id,
-- timestamp, signature and body, tab-separated; made by make_batches.py), each thread taking
-- every n-th line so that no batch is sent twice.
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  batches = {}
  local i = 0
  for line in io.lines(os.getenv("CICLO_BENCH_BATCHES")) do
    if i % tonumber(os.getenv("CICLO_BENCH_THREADS") or "2") == tid then
      local id, ts, sig, body = line:match("([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)")
      batches[#batches + 1] = wrk.format("POST", "/v1/partners/bench/referrals",
        {["Content-Type"] = "application/json", ["webhook-id"] = id, ["webhook-timestamp"] = ts,
         ["webhook-signature"] = sig}, body)
    end
    i = i + 1
  end
  n = 0
end

function request()
  n = n + 1
  if n > #batches then
    wrk.thread:stop()
    n = #batches
  end
  return batches[n]
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
