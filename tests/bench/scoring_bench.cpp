// The pure scoring step on one core: the points the shipped rules (config/scoring.yaml,
// with the personas of config/personas.yaml) award a lead with 20 interactions, its score
// after decay and the status command it calls for; and the same plus the ledger's changes
// against the lead's previous points, as a re-scoring after a rule change does.
// BM_Rescore1M re-scores 1,000,000 leads (10,000 distinct ones, 100 times) in one pass.
//   scoring_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "domain/persona.h"
#include "domain/scoring.h"
#include "host/config.h"

namespace {

using namespace ciclo;
using namespace std::chrono_literals;

constexpr int kLeads = 10'000;
constexpr int kInteractions = 20;

struct Sample {
  Lead lead;
  std::vector<Interaction> interactions;
  std::vector<ScoreEntry> previous;  // awarded under the previous rules
};

struct Env {
  host::Config config;
  ScoringRules previousRules;
  std::vector<Sample> samples;
  Timestamp now = std::chrono::sys_days{std::chrono::year{2026} / 11 / 23} + 9h;

  Env() {
    auto loaded = host::loadConfig(std::string(CICLO_SOURCE_DIR) + "/config/ciclo.yaml");
    if (!loaded.ok()) throw std::runtime_error(loaded.error().message);
    config = std::move(loaded).value();
    previousRules = config.scoring;
    for (auto& r : previousRules.behaviour) r.points += 1;  // the rule change being applied

    std::mt19937_64 rng(42);
    auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
    const std::vector<std::string> industries{"Manufacturing", "Logistics",  "Retail",
                                              "Bakery",        "Automotive", ""};
    const std::vector<std::string> titles{"Plant Manager",
                                          "Titolare",
                                          "Responsabile acquisti",
                                          "Studente",
                                          "Direttore di stabilimento",
                                          "Buyer",
                                          ""};
    const std::vector<std::string> domains{"officine.it", "gmail.com", "logistica.example",
                                           "competitor.example", "libero.it"};
    const std::vector<std::string> countries{"IT", "DE", "CH", ""};
    samples.resize(kLeads);
    for (int i = 0; i < kLeads; ++i) {
      Sample& s = samples[i];
      s.lead.id = "lead_" + std::to_string(i);
      auto& p = s.lead.profile;
      p.email = "person" + std::to_string(i) + "@" + pick(domains);
      p.industry = pick(industries);
      p.job_title = pick(titles);
      p.country = pick(countries);
      if (rng() % 4) p.employees = static_cast<std::int64_t>(rng() % 3000);
      s.lead.first_touch.source = static_cast<LeadSource>(rng() % 6);
      profileLead(config.profiling, s.lead);
      Timestamp at = now - std::chrono::hours(24 * 120);
      for (int k = 0; k < kInteractions; ++k) {
        at += std::chrono::minutes(rng() % (60 * 24 * 12));
        s.interactions.push_back({"int_" + std::to_string(i) + "_" + std::to_string(k),
                                  static_cast<InteractionType>(rng() % 10), at});
      }
      s.previous = scoreEntries(previousRules, s.lead, s.interactions);
    }
  }
};

Env& env() {
  static Env e;
  return e;
}

// The pure step: awards, score after decay, status command.
int scoreOne(const ScoringRules& rules, const Sample& s, Timestamp now) {
  const auto entries = scoreEntries(rules, s.lead, s.interactions);
  const Score score = scoreAt(entries, now);
  const auto command = scoringCommand(rules.thresholds, s.lead.status, score.total);
  return score.total + (command ? 1 : 0);
}

void BM_ScoreLead(benchmark::State& state) {
  Env& e = env();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(scoreOne(e.config.scoring, e.samples[i], e.now));
    i = (i + 1) % e.samples.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ScoreLead);

void BM_ScoreLeadWithLedger(benchmark::State& state) {
  Env& e = env();
  std::size_t i = 0;
  for (auto _ : state) {
    const Sample& s = e.samples[i];
    const auto entries = scoreEntries(e.config.scoring, s.lead, s.interactions);
    const Score score = scoreAt(entries, e.now);
    benchmark::DoNotOptimize(score);
    benchmark::DoNotOptimize(ledgerChanges(s.previous, entries));
    i = (i + 1) % e.samples.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ScoreLeadWithLedger);

void BM_Rescore1M(benchmark::State& state) {
  Env& e = env();
  for (auto _ : state) {
    long long sum = 0;
    for (int round = 0; round < 100; ++round) {
      for (const auto& s : e.samples) sum += scoreOne(e.config.scoring, s, e.now);
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * 100 * kLeads);
}
BENCHMARK(BM_Rescore1M)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
