-- wrk script: signed referral batches read from CICLO_BENCH_BATCHES (one per line: webhook-id,
-- timestamp, signature and body, tab-separated; made by make_batches.py), each thread taking
-- every n-th line so that no batch is sent twice.
dofile("tests/bench/common.lua")

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
