-- What the wrk scripts share: each thread's number (tid), and the RESULT line run.sh reads.
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
