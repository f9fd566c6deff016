-- wrk script: a landing page's form posted urlencoded, one new lead each (distinct emails),
-- from an allowed origin. CICLO_BENCH_RUN tags the emails; CICLO_BENCH_DELAY_MS, when set,
-- makes each connection wait that long between requests (a fixed offered rate). Visitors
-- come through a trusted proxy, each from an address of their own (X-Forwarded-For).
dofile("tests/bench/common.lua")

function init(args)
  n = 0
  run = os.getenv("CICLO_BENCH_RUN") or "0"
  pause = tonumber(os.getenv("CICLO_BENCH_DELAY_MS") or "0")
end

function delay()
  return pause
end

function request()
  n = n + 1
  local body = string.format(
    "email=form-%s-%d-%d%%40example.it&nome=Bench&azienda=Rossi+Carrelli+Srl&utm_source=bench&consent_marketing=yes",
    run, tid, n)
  return wrk.format("POST", "/v1/forms/bench/submissions",
    {["Content-Type"] = "application/x-www-form-urlencoded", ["Origin"] = "https://bench.example",
     ["Accept"] = "application/json",
     ["X-Forwarded-For"] = string.format("10.%d.%d.%d", tid, math.floor(n / 256) % 256, n % 256)},
    body)
end
