#include "domain/scoring.h"

#include <gtest/gtest.h>

#include <functional>

namespace ciclo {
namespace {

using namespace std::chrono_literals;
using Kind = LeadCondition::Kind;

const Timestamp kT0 = std::chrono::sys_days{std::chrono::year{2026} / 11 / 2} + 9h;

ProfileRule profileRule(std::string name, Kind kind, std::vector<std::string> values, int points) {
  ProfileRule r;
  r.name = std::move(name);
  r.kind = kind;
  r.values = std::move(values);
  r.points = points;
  return r;
}

// The rules marketing and sales agreed on, in small.
ScoringRules rules() {
  ScoringRules r;
  r.profile = {profileRule("target_industry", Kind::kIndustry, {"Manufacturing", "Logistics"}, 15),
               profileRule("decision_maker", Kind::kJobTitle, {"plant manager", "titolare"}, 10),
               profileRule("student", Kind::kJobTitle, {"student", "studente"}, -30),
               profileRule("free_mail", Kind::kFreeMail, {}, -10),
               profileRule("competitor", Kind::kEmailDomain, {"rivale.it"}, -50)};
  ProfileRule staff = profileRule("mid_size", Kind::kEmployees, {}, 10);
  staff.min = 50;
  staff.max = 2000;
  r.profile.push_back(staff);
  r.behaviour = {{"page_visit", InteractionType::kPageVisited, 2, 24h * 14, 10, 24h * 7},
                 {"download", InteractionType::kContentDownloaded, 10, 24h * 30, 0, 0s},
                 {"email_open", InteractionType::kEmailOpened, 1, 24h * 14, 0, 0s},
                 {"unsubscribe", InteractionType::kUnsubscribed, -20, 0s, 0, 0s}};
  r.thresholds = {30, 70};
  return r;
}

Lead plantManager() {
  Lead lead;
  lead.id = "lead_1";
  lead.profile.email = "marta@officine.it";
  lead.profile.job_title = "Plant Manager";
  lead.profile.industry = "Manufacturing";
  lead.profile.employees = 240;
  return lead;
}

Interaction did(std::string id, InteractionType type, Timestamp at) {
  return {std::move(id), type, at};
}

TEST(Scoring, ProfileRulesScoreFitWithWhatMetThem) {
  const auto entries = scoreEntries(rules(), plantManager(), {});
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0],
            (ScoreEntry{"target_industry", true, "industry: Manufacturing", 15, {}, {}}));
  EXPECT_EQ(entries[1].cause, "job_title: Plant Manager");
  EXPECT_EQ(entries[2].cause, "employees: 240");
  EXPECT_EQ(scoreAt(entries, kT0), (Score{35, 0, 35}));

  Lead student;  // negative points: a student on a free-mail address
  student.profile.email = "luca@gmail.com";
  student.profile.job_title = "Studente di ingegneria";
  const auto bad = scoreEntries(rules(), student, {});
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad[1].cause, "free_mail: gmail.com");
  EXPECT_EQ(scoreAt(bad, kT0).total, -40);

  Lead rival;
  rival.profile.email = "spy@sales.rivale.it";
  EXPECT_EQ(scoreAt(scoreEntries(rules(), rival, {}), kT0).fit, -50);
}

TEST(Scoring, BehaviourPointsHalveEveryHalfLife) {
  const std::vector<Interaction> done{did("int_1", InteractionType::kContentDownloaded, kT0),
                                      did("int_2", InteractionType::kUnsubscribed, kT0)};
  const auto entries = scoreEntries(rules(), Lead{}, done);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0], (ScoreEntry{"download", false, "int_1", 10, kT0, 24h * 30}));
  EXPECT_EQ(scoreAt(entries, kT0).engagement, -10);
  EXPECT_DOUBLE_EQ(entryValue(entries[0], kT0 + 24h * 30), 5.0);
  EXPECT_DOUBLE_EQ(entryValue(entries[0], kT0 + 24h * 60), 2.5);
  EXPECT_DOUBLE_EQ(entryValue(entries[1], kT0 + 24h * 365), -20.0);  // no half-life: it stays
  EXPECT_EQ(scoreAt(entries, kT0 + 24h * 30).engagement, -15);
  // 2.5 rounds away from zero: -17.5 -> -18.
  EXPECT_EQ(scoreAt(entries, kT0 + 24h * 60).engagement, -18);
  EXPECT_DOUBLE_EQ(entryValue(entries[0], kT0 - 1h), 10.0);  // a clock behind: no growth
}

TEST(Scoring, ACapHoldsForAnyWindowOfItsPeriod) {
  // Page visits give 2 each, at most 10 in any 7 days.
  std::vector<Interaction> visits;
  for (int i = 0; i < 8; ++i)
    visits.push_back(did("int_" + std::to_string(i), InteractionType::kPageVisited, kT0 + i * 1h));
  visits.push_back(did("int_late", InteractionType::kPageVisited, kT0 + 24h * 7));
  visits.push_back(did("int_later", InteractionType::kPageVisited, kT0 + 24h * 7 + 2h));
  ScoringRules r = rules();
  r.behaviour[0].half_life = 0s;
  const auto entries = scoreEntries(r, Lead{}, visits);
  std::vector<std::string> causes;
  for (const auto& e : entries) causes.push_back(e.cause);
  // Five fill the cap; the first leaves the window exactly 7 days later, the second an
  // hour after that.
  EXPECT_EQ(causes, (std::vector<std::string>{"int_0", "int_1", "int_2", "int_3", "int_4",
                                              "int_late", "int_later"}));
  EXPECT_EQ(scoreAt(entries, kT0 + 24h * 8).engagement, 14);

  ScoringRules partial = r;  // a cap not a multiple of the points gives what is left
  partial.behaviour[0].cap = 5;
  const auto capped = scoreEntries(partial, Lead{}, visits);
  ASSERT_GE(capped.size(), 3u);
  EXPECT_EQ(capped[2].points, 1);
  EXPECT_EQ(capped[3].cause, "int_late");
  EXPECT_EQ(scoreAt(std::span(capped).first(3), kT0 + 5h).engagement, 5);
}

TEST(Scoring, ThresholdsMoveTheLeadBothWays) {
  const ScoreThresholds t{30, 70};
  using S = LeadStatus;
  using C = LeadCommand;
  EXPECT_EQ(scoringCommand(t, S::kNew, 29), std::nullopt);
  EXPECT_EQ(scoringCommand(t, S::kNew, 30), C::kNurture);
  EXPECT_EQ(scoringCommand(t, S::kNew, 70), C::kMarkSalesReady);
  EXPECT_EQ(scoringCommand(t, S::kWorking, 50), std::nullopt);  // a seller has it
  EXPECT_EQ(scoringCommand(t, S::kWorking, 75), C::kMarkSalesReady);
  EXPECT_EQ(scoringCommand(t, S::kNurturing, 69), std::nullopt);
  EXPECT_EQ(scoringCommand(t, S::kNurturing, 70), C::kMarkSalesReady);
  EXPECT_EQ(scoringCommand(t, S::kSalesReady, 70), std::nullopt);
  EXPECT_EQ(scoringCommand(t, S::kSalesReady, 69), C::kNurture);  // back below: nurturing
  EXPECT_EQ(scoringCommand(t, S::kQualified, 10), std::nullopt);
  EXPECT_EQ(scoringCommand(t, S::kDisqualified, 99), std::nullopt);

  // Every command scoring fires is one the lifecycle lets scoring fire.
  for (const auto status : kAllLeadStatuses) {
    for (const int total : {-50, 0, 30, 69, 70, 500}) {
      const auto command = scoringCommand(t, status, total);
      if (!command) continue;
      Lead lead;
      lead.status = status;
      EXPECT_TRUE(
          applyCommand(lead, {*command, Actor::kScoring, "scoring", std::nullopt, ""}, kT0).ok())
          << toString(status) << " " << total;
    }
  }
}

TEST(Scoring, TheLedgerRecordsEveryChangeOfPointsOnceAndOnlyOnce) {
  const Lead lead = plantManager();
  std::vector<Interaction> done{did("int_1", InteractionType::kContentDownloaded, kT0)};
  const auto first = scoreEntries(rules(), lead, done);
  auto ledger = ledgerChanges({}, first);
  EXPECT_EQ(ledger, first);  // everything is new
  EXPECT_TRUE(ledgerChanges(first, scoreEntries(rules(), lead, done)).empty())
      << "scoring again changes nothing";

  // The lead opens an email and moves to a company of 20: +1, and -10 for mid_size.
  Lead smaller = lead;
  smaller.profile.employees = 20;
  done.push_back(did("int_2", InteractionType::kEmailOpened, kT0 + 1h));
  const auto second = scoreEntries(rules(), smaller, done);
  const auto changes = ledgerChanges(awardedFromLedger(ledger), second);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].rule, "email_open");
  EXPECT_EQ(changes[0].points, 1);
  EXPECT_EQ(changes[1].rule, "mid_size");
  EXPECT_EQ(changes[1].points, -10);
  ledger.insert(ledger.end(), changes.begin(), changes.end());
  EXPECT_EQ(awardedFromLedger(ledger), second);

  // Marketing doubles the download: the ledger says +10 on the same award.
  ScoringRules doubled = rules();
  doubled.behaviour[1].points = 20;
  const auto third = scoreEntries(doubled, smaller, done);
  const auto rerated = ledgerChanges(awardedFromLedger(ledger), third);
  ASSERT_EQ(rerated.size(), 1u);
  EXPECT_EQ(rerated[0], (ScoreEntry{"download", false, "int_1", 10, kT0, 24h * 30}));
  ledger.insert(ledger.end(), rerated.begin(), rerated.end());
  EXPECT_EQ(scoreAt(awardedFromLedger(ledger), kT0 + 2h), scoreAt(third, kT0 + 2h));
}

TEST(Scoring, RulesAreCheckedFieldByField) {
  EXPECT_TRUE(checkScoringRules(rules()).empty());
  ScoringRules bad = rules();
  bad.profile[1].name = "target_industry";
  bad.profile[2].points = 0;
  bad.profile[3].values = {"gmail.com"};
  bad.behaviour[0].cap_period = 0s;
  bad.behaviour[1].cap_period = 24h;
  bad.behaviour[2].name = "Email Open";
  bad.thresholds = {80, 70};
  EXPECT_EQ(checkScoringRules(bad),
            (std::vector<FieldError>{
                {"profile[1].name", "target_industry names another rule already"},
                {"profile[2].points", "must be from -1000 to 1000, not 0"},
                {"profile[3].values", "free_mail takes no values"},
                {"behaviour[0].cap_period", "a cap needs the period it holds for"},
                {"behaviour[1].cap", "a cap period needs a cap"},
                {"behaviour[2].name", "must be 1 to 64 characters of a-z, 0-9 and _"},
                {"thresholds.nurturing", "must not be above sales_ready"}}));
}

TEST(Scoring, InteractionTypesHaveTheirNames) {
  for (const char* name :
       {"page_visited", "content_downloaded", "video_watched", "event_attended", "form_submitted",
        "email_opened", "email_clicked", "email_replied", "unsubscribed", "email_bounced"}) {
    const auto type = interactionTypeFrom(name);
    ASSERT_TRUE(type) << name;
    EXPECT_EQ(toString(*type), name);
  }
  EXPECT_FALSE(interactionTypeFrom("page_view"));
}

TEST(Scoring, TheRulesDescriptionChangesWithAnythingThatScores) {
  const std::string base = describeRules(rules());
  EXPECT_EQ(describeRules(rules()), base);
  std::vector<std::function<void(ScoringRules&)>> changes = {
      [](ScoringRules& r) { r.thresholds.sales_ready = 71; },
      [](ScoringRules& r) { r.profile[0].points = 16; },
      [](ScoringRules& r) { r.profile[0].values.push_back("Retail"); },
      [](ScoringRules& r) { r.profile[0].kind = Kind::kCountry; },
      [](ScoringRules& r) { r.profile[5].max = 2001; },
      [](ScoringRules& r) { r.profile[0].name = "industry"; },
      [](ScoringRules& r) { r.behaviour[0].half_life = 24h * 15; },
      [](ScoringRules& r) { r.behaviour[0].cap = 11; },
      [](ScoringRules& r) { r.behaviour[0].cap_period = 24h * 8; },
      [](ScoringRules& r) { r.behaviour[1].type = InteractionType::kVideoWatched; },
      [](ScoringRules& r) { r.behaviour.pop_back(); },
      // Values are quoted: ["a b"] is not ["a", "b"].
      [](ScoringRules& r) { r.profile[1].values = {"plant manager titolare"}; },
  };
  for (std::size_t i = 0; i < changes.size(); ++i) {
    ScoringRules changed = rules();
    changes[i](changed);
    EXPECT_NE(describeRules(changed), base) << "change " << i;
  }
}

}  // namespace
}  // namespace ciclo
