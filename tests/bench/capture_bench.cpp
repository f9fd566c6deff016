// What a lead capture costs inside ciclod, without HTTP: the request thread's part (checking
// and normalising the input, preparing the new lead's document) and the writer's part (the
// lookups, the lead, its timeline entry and its event, group-committed on SQLite with
// synchronous FULL). The HTTP benchmark (run.sh) says how fast; this one says where the time
// goes, in CPU time, which a shared machine disturbs far less than requests per second.
//   capture_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "host/adapters.h"
#include "host/api.h"
#include "host/config.h"
#include "host/leads_service.h"
#include "store/database.h"

namespace {

using namespace ciclo;

// One store and its services for the whole run, on a fresh SQLite file.
struct Env {
  std::filesystem::path dir;
  host::Config config;
  std::unique_ptr<store::Store> store;
  host::SystemClock clock;
  host::OpenSslRandom random;
  host::Idn2DomainEncoder domains;
  host::LibPhoneNumberNormalizer phones;
  std::unique_ptr<IdGenerator> ids;
  std::unique_ptr<host::Services> services;

  Env() {
    dir = std::filesystem::temp_directory_path() /
          ("ciclo-capture-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    config.store.url = "sqlite:" + (dir / "ciclo.db").string();
    config.store.sqlite_synchronous = "full";
    auto opened = store::Store::open(config.store);
    if (!opened.ok()) throw std::runtime_error(opened.error().message);
    store = std::move(opened).value();
    ids = std::make_unique<IdGenerator>(clock, random);
    services = std::make_unique<host::Services>(
        host::Services{config, *store, clock, random, *ids, domains, phones});
  }
  ~Env() {
    store->close();
    std::filesystem::remove_all(dir);
  }
};

Env& env() {
  static Env e;
  return e;
}

std::atomic<long> serial{0};

sdk::LeadInput input() {
  sdk::LeadInput in;
  in.email = "bench-" + std::to_string(++serial) + "@example.it";
  in.first_name = "Bench";
  in.company = "Rossi Carrelli Srl";
  in.utm_campaign = "bench";
  return in;
}

const auto kSameName = [](const std::string& n) { return n; };

// The request thread's part.
void BM_Prepare(benchmark::State& state) {
  auto& e = env();
  for (auto _ : state) {
    auto capture = host::buildCapture(*e.services, input(), "127.0.0.1", kSameName);
    auto prepared = host::prepareCapture(*e.services, std::move(capture).value());
    benchmark::DoNotOptimize(prepared);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Prepare);

// The writer's part: each thread captures new leads one by one, as concurrent requests do,
// and the writer group-commits them. CPU time is the whole process's, writer included.
// repeatable:1 is how ciclod writes a capture (store::Repeat): a batch's captures share one
// savepoint; repeatable:0 gives each its own, the baseline.
void BM_CaptureNewLead(benchmark::State& state) {
  auto& e = env();
  const auto repeat = state.range(0) ? store::Repeat::kRepeatable : store::Repeat::kOnce;
  for (auto _ : state) {
    state.PauseTiming();
    auto capture = host::buildCapture(*e.services, input(), "127.0.0.1", kSameName);
    const auto prepared = host::prepareCapture(*e.services, std::move(capture).value());
    state.ResumeTiming();
    Status s = e.store->write(
        [&](store::Connection& c) {
          host::captureLead(*e.services, c, prepared, "bench");
          return Status();
        },
        repeat);
    if (!s.ok()) state.SkipWithError(s.error().message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CaptureNewLead)
    ->ArgName("repeatable")
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(16)
    ->Threads(64)
    ->UseRealTime()
    ->MeasureProcessCPUTime();

}  // namespace

BENCHMARK_MAIN();
