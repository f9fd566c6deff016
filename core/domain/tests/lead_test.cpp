#include "domain/lead.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace ciclo {
namespace {

using S = LeadStatus;
using C = LeadCommand;
using A = Actor;

const Timestamp kT0{std::chrono::milliseconds{1'700'000'000'000}};

// The lifecycle as the business states it, written out independently of the table in
// lead.cpp: (from, command) -> (to, who may fire it). Every pair not listed is illegal.
const std::map<std::pair<S, C>, std::pair<S, std::set<A>>> kExpected{
    {{S::kNew, C::kStartWork}, {S::kWorking, {A::kPerson, A::kSystem}}},
    {{S::kNew, C::kNurture}, {S::kNurturing, {A::kPerson, A::kScoring, A::kSystem}}},
    {{S::kNew, C::kMarkSalesReady}, {S::kSalesReady, {A::kPerson, A::kScoring}}},
    {{S::kNew, C::kQualify}, {S::kQualified, {A::kPerson}}},
    {{S::kNew, C::kDisqualify}, {S::kDisqualified, {A::kPerson, A::kSystem}}},
    {{S::kWorking, C::kNurture}, {S::kNurturing, {A::kPerson, A::kSystem}}},
    {{S::kWorking, C::kMarkSalesReady}, {S::kSalesReady, {A::kPerson, A::kScoring}}},
    {{S::kWorking, C::kQualify}, {S::kQualified, {A::kPerson}}},
    {{S::kWorking, C::kDisqualify}, {S::kDisqualified, {A::kPerson, A::kSystem}}},
    {{S::kNurturing, C::kStartWork}, {S::kWorking, {A::kPerson}}},
    {{S::kNurturing, C::kMarkSalesReady}, {S::kSalesReady, {A::kPerson, A::kScoring}}},
    {{S::kNurturing, C::kQualify}, {S::kQualified, {A::kPerson}}},
    {{S::kNurturing, C::kDisqualify}, {S::kDisqualified, {A::kPerson, A::kSystem}}},
    {{S::kSalesReady, C::kNurture}, {S::kNurturing, {A::kPerson, A::kScoring}}},
    {{S::kSalesReady, C::kStartWork}, {S::kWorking, {A::kPerson}}},
    {{S::kSalesReady, C::kQualify}, {S::kQualified, {A::kPerson}}},
    {{S::kSalesReady, C::kDisqualify}, {S::kDisqualified, {A::kPerson, A::kSystem}}},
    {{S::kDisqualified, C::kReactivate}, {S::kWorking, {A::kPerson, A::kSystem}}},
};

TEST(LeadLifecycle, EveryStateCommandAndActorIsAllowedOrAConflict) {
  int allowed = 0, refused = 0;
  for (const S from : kAllLeadStatuses) {
    for (const C command : kAllLeadCommands) {
      for (const A actor : kAllActors) {
        Lead lead;
        lead.status = from;
        const Lead before = lead;
        auto result =
            applyCommand(lead, {command, actor, "tester", DisqualifyReason::kNoFit, ""}, kT0);
        const auto expected = kExpected.find({from, command});
        const bool legal = expected != kExpected.end() && expected->second.second.contains(actor);
        SCOPED_TRACE(std::string(toString(from)) + " " + std::string(toString(command)) + " by " +
                     std::string(toString(actor)));
        if (legal) {
          ASSERT_TRUE(result.ok());
          EXPECT_EQ(lead.status, expected->second.first);
          ASSERT_EQ(lead.history.size(), 1u);
          EXPECT_EQ(lead.history[0].from, from);
          EXPECT_EQ(lead.history[0].to, expected->second.first);
          EXPECT_EQ(lead.history[0].actor, actor);
          EXPECT_EQ(lead.history[0].at, kT0);
          ++allowed;
        } else {
          ASSERT_FALSE(result.ok());
          EXPECT_EQ(result.error().kind, ErrorKind::kConflict);
          EXPECT_EQ(result.error().slug, "illegal-transition");
          EXPECT_EQ(lead, before) << "a refused command must change nothing";
          ++refused;
        }
      }
    }
  }
  EXPECT_EQ(allowed + refused, 6 * 6 * 3);
  EXPECT_EQ(allowed, 31);
}

TEST(LeadLifecycle, TableHasNoDuplicatePairs) {
  std::set<std::pair<S, C>> seen;
  for (const auto& t : leadTransitions()) EXPECT_TRUE(seen.insert({t.from, t.command}).second);
  EXPECT_EQ(seen.size(), kExpected.size());
}

TEST(LeadLifecycle, DisqualifyNeedsAReasonAndKeepsIt) {
  Lead lead;
  auto refused = applyCommand(lead, {C::kDisqualify, A::kPerson, "anna", std::nullopt, ""}, kT0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(lead.status, S::kNew);

  ASSERT_TRUE(applyCommand(lead,
                           {C::kDisqualify, A::kSystem, "profiling", DisqualifyReason::kNoFit, ""},
                           kT0)
                  .ok());
  EXPECT_EQ(lead.disqualify_reason, DisqualifyReason::kNoFit);
  ASSERT_TRUE(applyCommand(lead, {C::kReactivate, A::kPerson, "anna", std::nullopt, ""}, kT0).ok());
  EXPECT_EQ(lead.status, S::kWorking);
  EXPECT_FALSE(lead.disqualify_reason.has_value());
  EXPECT_EQ(lead.history.size(), 2u);
}

TEST(LeadLifecycle, ScoreMovesBetweenNurturingAndSalesReadyBothWays) {
  Lead lead;
  lead.status = S::kNurturing;
  ASSERT_TRUE(applyCommand(lead, {C::kMarkSalesReady, A::kScoring, "threshold", {}, ""}, kT0).ok());
  ASSERT_TRUE(applyCommand(lead, {C::kNurture, A::kScoring, "threshold", {}, ""}, kT0).ok());
  EXPECT_EQ(lead.status, S::kNurturing);
}

TEST(LeadLifecycle, NamesRoundTrip) {
  for (const S s : kAllLeadStatuses) EXPECT_EQ(leadStatusFrom(toString(s)), s);
  for (const C c : kAllLeadCommands) EXPECT_EQ(leadCommandFrom(toString(c)), c);
  for (const A a : kAllActors) EXPECT_EQ(actorFrom(toString(a)), a);
  EXPECT_FALSE(leadStatusFrom("Qualified").has_value());
  EXPECT_EQ(disqualifyReasonFrom("no_fit"), DisqualifyReason::kNoFit);
  EXPECT_EQ(leadSourceFrom("web_form"), LeadSource::kWebForm);
}

LeadCapture capture(std::string email, std::string first, Timestamp at) {
  LeadCapture c;
  c.profile.email = std::move(email);
  c.profile.first_name = std::move(first);
  c.touch.source = LeadSource::kWebForm;
  c.touch.channel = "demo";
  c.touch.at = at;
  return c;
}

TEST(LeadMerge, CaptureFillsBlanksKeepsValuesAndReportsConflicts) {
  Lead lead = newLeadFromCapture("lead_1", capture("a@b.it", "Anna", kT0), "b.it", kT0);
  auto second = capture("a@b.it", "Annalisa", kT0 + std::chrono::hours(1));
  second.profile.company = "Rossi Srl";
  second.touch.utm.campaign = "autumn";
  const auto report = mergeCapture(lead, second, kT0 + std::chrono::hours(1));
  EXPECT_EQ(lead.profile.first_name, "Anna");
  EXPECT_EQ(lead.profile.company, "Rossi Srl");
  EXPECT_EQ(report.filled, std::vector<std::string>{"company"});
  EXPECT_EQ(report.conflicts, std::vector<std::string>{"first_name"});
  EXPECT_EQ(lead.first_touch.utm.campaign, "");
  EXPECT_EQ(lead.latest_touch.utm.campaign, "autumn");
  EXPECT_TRUE(report.changed());
}

TEST(LeadMerge, SameCaptureTwiceChangesNothing) {
  Lead lead = newLeadFromCapture("lead_1", capture("a@b.it", "Anna", kT0), "b.it", kT0);
  const auto report = mergeCapture(lead, capture("a@b.it", "Anna", kT0), kT0);
  EXPECT_FALSE(report.changed());
  EXPECT_TRUE(report.conflicts.empty());
}

TEST(LeadMerge, NewerConsentGrantWinsAndUntickedFormNeverWithdraws) {
  auto first = capture("a@b.it", "Anna", kT0);
  Lead lead = newLeadFromCapture("lead_1", first, "", kT0);
  auto granted = capture("a@b.it", "Anna", kT0 + std::chrono::minutes(5));
  granted.consent = Consent{
      true,        "Yes, send me news",          kT0 + std::chrono::minutes(5), "web_form:demo",
      "192.0.2.1", "https://www.example.it/demo"};
  EXPECT_TRUE(mergeCapture(lead, granted, kT0).consent_changed);
  EXPECT_TRUE(
      mergeCapture(lead, capture("a@b.it", "Anna", kT0 + std::chrono::hours(2)), kT0).changed() ==
      false);
  ASSERT_TRUE(lead.consent.has_value());
  EXPECT_TRUE(lead.consent->granted);
  EXPECT_EQ(lead.consent->ip, "192.0.2.1");
  EXPECT_EQ(lead.consent->page, "https://www.example.it/demo");
}

TEST(LeadMerge, TheSameWordingGrantedAgainKeepsItsFirstProof) {
  auto first = capture("a@b.it", "Anna", kT0);
  first.consent = Consent{true, "Yes, send me news", kT0, "referral:acme", "", ""};
  Lead lead = newLeadFromCapture("lead_1", first, "", kT0);
  auto again = first;
  again.consent->at = kT0 + std::chrono::hours(1);
  EXPECT_FALSE(mergeCapture(lead, again, kT0 + std::chrono::hours(1)).changed());
  EXPECT_EQ(lead.consent->at, kT0);
  auto reworded = again;
  reworded.consent->text = "Yes, send me news and offers";
  EXPECT_TRUE(mergeCapture(lead, reworded, kT0 + std::chrono::hours(1)).consent_changed);
  EXPECT_EQ(lead.consent->text, "Yes, send me news and offers");
}

TEST(LeadMerge, PersonaFromTheChannelOnlyFillsABlank) {
  auto first = capture("a@b.it", "Anna", kT0);
  first.persona = "plant_manager";
  Lead lead = newLeadFromCapture("lead_1", first, "", kT0);
  EXPECT_EQ(lead.persona, "plant_manager");
  auto again = capture("a@b.it", "Anna", kT0);
  again.persona = "cfo";
  EXPECT_FALSE(mergeCapture(lead, again, kT0).changed());
  EXPECT_EQ(lead.persona, "plant_manager");
  lead.persona.clear();
  const auto report = mergeCapture(lead, again, kT0);
  EXPECT_EQ(lead.persona, "cfo");
  EXPECT_NE(std::find(report.filled.begin(), report.filled.end(), "persona"), report.filled.end());
}

TEST(LeadMerge, ManualMergeKeepsWinnerFillsBlanksAndClosesLoser) {
  Lead winner = newLeadFromCapture("lead_w", capture("a@b.it", "Anna", kT0 + std::chrono::hours(1)),
                                   "b.it", kT0);
  auto lc = capture("anna@other.it", "Anna Maria", kT0);
  lc.profile.phone = "+390212345678";
  Lead loser = newLeadFromCapture("lead_l", lc, "other.it", kT0);
  loser.score = 40;
  auto report = mergeLeads(winner, loser, "anna", kT0 + std::chrono::hours(2));
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(winner.profile.first_name, "Anna");
  EXPECT_EQ(winner.profile.phone, "+390212345678");
  EXPECT_EQ(winner.first_touch.at, kT0);  // the earliest touch of the two
  EXPECT_EQ(winner.score, 40);
  EXPECT_EQ(winner.merged_from, std::vector<std::string>{"lead_l"});
  EXPECT_EQ(loser.status, S::kDisqualified);
  EXPECT_EQ(loser.disqualify_reason, DisqualifyReason::kDuplicate);

  auto again = mergeLeads(winner, loser, "anna", kT0);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::kConflict);
  EXPECT_FALSE(mergeLeads(winner, winner, "anna", kT0).ok());
}

TEST(LeadMerge, QualifiedLeadsCannotBeMerged) {
  Lead a = newLeadFromCapture("lead_a", capture("a@b.it", "A", kT0), "", kT0);
  Lead b = newLeadFromCapture("lead_b", capture("b@b.it", "B", kT0), "", kT0);
  b.status = S::kQualified;
  const Lead before = a;
  auto r = mergeLeads(a, b, "anna", kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(a, before);
}

}  // namespace
}  // namespace ciclo

namespace ciclo {
namespace {

// The lifecycle is printed in docs/lead-lifecycle.md; the page must say what the code does.
TEST(LeadLifecycle, DocumentationPrintsTheTable) {
  std::ifstream in(CICLO_SOURCE_DIR "/docs/lead-lifecycle.md");
  ASSERT_TRUE(in) << "docs/lead-lifecycle.md is missing";
  std::stringstream doc;
  doc << in.rdbuf();
  std::string expected = "| from | command | to | fired by |\n|---|---|---|---|\n";
  for (const auto& t : leadTransitions()) {
    std::string who;
    for (const auto a : t.actors) who += (who.empty() ? "" : ", ") + std::string(toString(a));
    expected += "| " + std::string(toString(t.from)) + " | " + std::string(toString(t.command)) +
                " | " + std::string(toString(t.to)) + " | " + who + " |\n";
  }
  const std::string text = doc.str();
  const auto begin = text.find("<!-- lifecycle-table:begin -->\n");
  const auto end = text.find("<!-- lifecycle-table:end -->");
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  const auto start = begin + std::string("<!-- lifecycle-table:begin -->\n").size();
  EXPECT_EQ(text.substr(start, end - start), expected);
}

}  // namespace
}  // namespace ciclo

namespace ciclo {
namespace {

TEST(LeadProfile, FieldsCopyAndClearByName) {
  LeadProfile from;
  from.email = "a@b.it";
  from.employees = 12;
  from.annual_revenue = Money(100, "EUR");
  LeadProfile to;
  to.city = "Roma";
  EXPECT_TRUE(copyProfileField(to, from, "email"));
  EXPECT_TRUE(copyProfileField(to, from, "employees"));
  EXPECT_TRUE(copyProfileField(to, from, "annual_revenue"));
  EXPECT_TRUE(copyProfileField(to, LeadProfile{}, "city"));
  EXPECT_FALSE(copyProfileField(to, from, "owner")) << "not a profile field";
  EXPECT_EQ(to.email, "a@b.it");
  EXPECT_EQ(to.employees, 12);
  EXPECT_EQ(to.annual_revenue, Money(100, "EUR"));
  EXPECT_TRUE(to.city.empty());
}

}  // namespace
}  // namespace ciclo

namespace ciclo {
namespace {

LeadProfile company(std::string industry, std::string website, std::string range) {
  LeadProfile p;
  p.industry = std::move(industry);
  p.website = std::move(website);
  p.employees_range = std::move(range);
  p.country = "IT";
  p.email = "someone@else.example";  // never taken from an enrichment
  return p;
}

TEST(LeadEnrichment, FillsBlanksKeepsEnteredValuesAndRecordsProvenance) {
  LeadCapture c = capture("anna@rossi.it", "Anna", kT0);
  c.profile.industry = "Logistica";  // the lead said so
  Lead lead = newLeadFromCapture("lead_1", c, "rossi.it", kT0);
  const FieldSource linkedin{"linkedin", "urn:li:organization:7", kT0 + std::chrono::hours(1)};
  const auto report =
      enrichLead(lead, company("Transportation", "https://rossi.it", "51-200"), linkedin);
  EXPECT_EQ(report.filled, (std::vector<std::string>{"website", "country", "employees_range"}));
  EXPECT_EQ(report.kept, std::vector<std::string>{"industry"});
  EXPECT_TRUE(report.updated.empty());
  EXPECT_EQ(lead.profile.industry, "Logistica");
  EXPECT_EQ(lead.profile.email, "anna@rossi.it");
  EXPECT_EQ(lead.profile.employees_range, "51-200");
  EXPECT_EQ(lead.provenance.size(), 3u);
  EXPECT_EQ(lead.provenance.at("website"), linkedin);
  EXPECT_FALSE(lead.provenance.contains("industry"));

  // A later lookup updates what enrichment filled, and only that.
  const FieldSource later{"linkedin", "urn:li:organization:7", kT0 + std::chrono::hours(48)};
  const auto again =
      enrichLead(lead, company("Transportation", "https://rossi.it", "201-500"), later);
  EXPECT_EQ(again.updated, std::vector<std::string>{"employees_range"});
  EXPECT_TRUE(again.filled.empty());
  EXPECT_EQ(lead.profile.employees_range, "201-500");
  EXPECT_EQ(lead.provenance.at("employees_range"), later);
  EXPECT_EQ(lead.provenance.at("website"), linkedin);  // unchanged value, unchanged origin
  EXPECT_FALSE(
      enrichLead(lead, company("Transportation", "https://rossi.it", "201-500"), later).changed());
}

TEST(LeadEnrichment, WhatThePersonOrTheLeadSaysOutranksIt) {
  Lead lead = newLeadFromCapture("lead_1", capture("anna@rossi.it", "Anna", kT0), "rossi.it", kT0);
  const FieldSource linkedin{"linkedin", "urn:li:organization:7", kT0};
  enrichLead(lead, company("Transportation", "https://rossi.it", "51-200"), linkedin);
  // The lead fills in another form with its own industry and the same website.
  auto second = capture("anna@rossi.it", "Anna", kT0 + std::chrono::hours(2));
  second.profile.industry = "Logistica";
  second.profile.website = "https://rossi.it";
  const auto merged = mergeCapture(lead, second, kT0 + std::chrono::hours(2));
  EXPECT_EQ(merged.filled, std::vector<std::string>{"industry"});
  EXPECT_TRUE(merged.conflicts.empty());
  EXPECT_EQ(lead.profile.industry, "Logistica");
  EXPECT_FALSE(lead.provenance.contains("industry"));
  EXPECT_FALSE(lead.provenance.contains("website"));  // confirmed by the lead: now its own
  EXPECT_TRUE(lead.provenance.contains("employees_range"));
  // Neither is enrichment's any more.
  const auto report =
      enrichLead(lead, company("Transportation", "https://x.it", "51-200"), linkedin);
  EXPECT_EQ(report.kept, (std::vector<std::string>{"website", "industry"}));
  // A person's edit claims the field.
  claimProfileField(lead, "employees_range");
  lead.profile.employees_range = "11-50";
  EXPECT_EQ(enrichLead(lead, company("", "", "51-200"), linkedin).kept,
            std::vector<std::string>{"employees_range"});
  EXPECT_EQ(lead.profile.employees_range, "11-50");
}

TEST(LeadEnrichment, AManualMergeKeepsTheOriginOfWhatItTakes) {
  Lead winner =
      newLeadFromCapture("lead_1", capture("anna@rossi.it", "Anna", kT0), "rossi.it", kT0);
  Lead loser =
      newLeadFromCapture("lead_2", capture("a.rossi@rossi.it", "Anna", kT0), "rossi.it", kT0);
  const FieldSource linkedin{"linkedin", "urn:li:organization:7", kT0};
  enrichLead(loser, company("Transportation", "", ""), linkedin);
  ASSERT_TRUE(mergeLeads(winner, loser, "anna", kT0).ok());
  EXPECT_EQ(winner.profile.industry, "Transportation");
  EXPECT_EQ(winner.provenance.at("industry"), linkedin);
}

TEST(EmployeesBand, ReadsBandsAndRefusesTheRest) {
  EXPECT_EQ(employeesBand("51-200")->min, 51);
  EXPECT_EQ(employeesBand("51-200")->max, 200);
  EXPECT_EQ(employeesBand("10001+")->min, 10001);
  EXPECT_FALSE(employeesBand("10001+")->max.has_value());
  EXPECT_EQ(employeesBand("1")->max, 1);
  for (const char* bad : {"", "-", "+", "200-51", "a-b", "1-", "-5", "1234567890-2", "5 - 10"})
    EXPECT_FALSE(employeesBand(bad).has_value()) << bad;
}

}  // namespace
}  // namespace ciclo
