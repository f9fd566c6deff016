-- wrk script: POST /v1/leads with a distinct email per request.
-- Reads the bearer key from CICLO_BENCH_KEY and a run tag from CICLO_BENCH_RUN.
dofile("tests/bench/common.lua")

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
