#include "domain/persona.h"

#include <gtest/gtest.h>

namespace ciclo {
namespace {

using Kind = PersonaCriterion::Kind;

PersonaCriterion oneOf(Kind kind, std::vector<std::string> values, int weight = 1) {
  PersonaCriterion c;
  c.kind = kind;
  c.values = std::move(values);
  c.weight = weight;
  return c;
}

PersonaCriterion range(Kind kind, std::optional<std::int64_t> min, std::optional<std::int64_t> max,
                       int weight = 1, std::string currency = "") {
  PersonaCriterion c;
  c.kind = kind;
  c.min = min;
  c.max = max;
  c.weight = weight;
  c.currency = std::move(currency);
  return c;
}

// The material-handling company's two kinds of buyer.
Persona plantManager() {
  return {"plant_manager",
          "Plant manager of a mid-sized manufacturer",
          {oneOf(Kind::kIndustry, {"Manufacturing", "Logistics"}, 3),
           range(Kind::kEmployees, 50, 1000, 2),
           oneOf(Kind::kJobTitle, {"plant manager", "direttore di stabilimento", "COO"}, 3),
           oneOf(Kind::kCountry, {"IT"}, 2)},
          60};
}

Persona craftsman() {
  return {"craftsman",
          "Owner of a craft business",
          {range(Kind::kEmployees, std::nullopt, 15, 2),
           range(Kind::kRevenue, std::nullopt, 200'000'000, 1, "EUR"),
           oneOf(Kind::kJobTitle, {"titolare", "owner"}, 2)},
          60};
}

Lead leadWith(LeadProfile p, LeadSource source = LeadSource::kWebForm) {
  Lead lead;
  lead.profile = std::move(p);
  lead.first_touch.source = source;
  return lead;
}

LeadProfile profile() {
  LeadProfile p;
  p.industry = "manufacturing";
  p.employees = 240;
  p.job_title = "Plant Manager, Bergamo site";
  p.country = "IT";
  return p;
}

TEST(Personas, ScoreIsTheShareOfTheCriteriaWeightMet) {
  const auto m = matchPersona(plantManager(), leadWith(profile(), LeadSource::kWebForm));
  EXPECT_EQ(m.persona, "plant_manager");
  EXPECT_EQ(m.score, 100);
  EXPECT_EQ(m.matched, (std::vector<std::string>{"industry", "employees", "job_title", "country"}));
  EXPECT_TRUE(m.unmatched.empty());

  LeadProfile abroad = profile();
  abroad.country = "DE";
  abroad.employees = 20;  // below the range
  const auto partial = matchPersona(plantManager(), leadWith(abroad, LeadSource::kWebForm));
  EXPECT_EQ(partial.score, 60);  // 6 of 10
  EXPECT_EQ(partial.unmatched, (std::vector<std::string>{"employees", "country"}));
}

TEST(Personas, UnknownDataNeverMatches) {
  LeadProfile empty;
  const auto m = matchPersona(plantManager(), leadWith(empty, LeadSource::kWebForm));
  EXPECT_EQ(m.score, 0);
  EXPECT_TRUE(m.matched.empty());
  EXPECT_FALSE(bestPersona({plantManager(), craftsman()}, leadWith(empty, LeadSource::kWebForm)));
}

TEST(Personas, JobTitleKeywordsAreWholeWordsAndPhrasesWithoutRegardToCase) {
  const auto c = oneOf(Kind::kJobTitle, {"plant manager", "coo", "direttore di stabilimento"});
  auto titled = [&](std::string title) {
    LeadProfile p;
    p.job_title = std::move(title);
    return c.matches(leadWith(p, LeadSource::kApi));
  };
  EXPECT_TRUE(titled("PLANT MANAGER"));
  EXPECT_TRUE(titled("Senior plant-manager (Brescia)"));
  EXPECT_TRUE(titled("COO & co-founder"));
  EXPECT_TRUE(titled("Direttore di stabilimento"));
  EXPECT_FALSE(titled("Cooper"));                // a keyword is a whole word
  EXPECT_FALSE(titled("Manager of the plant"));  // a phrase keeps its order
  EXPECT_FALSE(titled("Direttore commerciale"));
  EXPECT_FALSE(titled(""));
}

TEST(Personas, RangesAreInclusiveAndRevenueOnlyInItsCurrency) {
  const auto staff = range(Kind::kEmployees, 50, 1000);
  LeadProfile p;
  for (const auto& [n, in] : std::vector<std::pair<std::int64_t, bool>>{
           {49, false}, {50, true}, {1000, true}, {1001, false}}) {
    p.employees = n;
    EXPECT_EQ(staff.matches(leadWith(p, LeadSource::kApi)), in) << n;
  }
  const auto revenue = range(Kind::kRevenue, std::nullopt, 200'000'000, 1, "EUR");
  p.annual_revenue = Money(150'000'000, "EUR");
  EXPECT_TRUE(revenue.matches(leadWith(p, LeadSource::kApi)));
  p.annual_revenue = Money(150'000'000, "USD");  // never converted
  EXPECT_FALSE(revenue.matches(leadWith(p, LeadSource::kApi)));
  p.annual_revenue = Money(200'000'001, "EUR");
  EXPECT_FALSE(revenue.matches(leadWith(p, LeadSource::kApi)));
}

TEST(Personas, SourceAndCountryMatchExactly) {
  const auto referred = oneOf(Kind::kSource, {"referral", "import"});
  EXPECT_TRUE(referred.matches(leadWith({}, LeadSource::kReferral)));
  EXPECT_FALSE(referred.matches(leadWith({}, LeadSource::kWebForm)));
  LeadProfile p;
  p.country = "it";
  EXPECT_FALSE(oneOf(Kind::kCountry, {"IT"}).matches(leadWith(p, LeadSource::kApi)));
}

TEST(Personas, TheBestPersonaReachingItsMinimumWinsAndTiesGoToTheFirst) {
  LeadProfile owner;
  owner.employees = 8;
  owner.job_title = "Titolare";
  owner.annual_revenue = Money(90'000'000, "EUR");
  const auto best =
      bestPersona({plantManager(), craftsman()}, leadWith(owner, LeadSource::kWebForm));
  ASSERT_TRUE(best);
  EXPECT_EQ(best->persona, "craftsman");
  EXPECT_EQ(best->score, 100);

  // 60 on plant manager (its minimum), 40 on craftsman (below its minimum).
  LeadProfile abroad = profile();
  abroad.country = "DE";
  abroad.employees = 12;
  const auto fit =
      bestPersona({craftsman(), plantManager()}, leadWith(abroad, LeadSource::kWebForm));
  ASSERT_TRUE(fit);
  EXPECT_EQ(fit->persona, "plant_manager");
  EXPECT_EQ(fit->score, 60);

  Persona twin = plantManager();
  twin.key = "twin";
  EXPECT_EQ(bestPersona({plantManager(), twin}, leadWith(profile(), LeadSource::kApi))->persona,
            "plant_manager");
  EXPECT_EQ(bestPersona({twin, plantManager()}, leadWith(profile(), LeadSource::kApi))->persona,
            "twin");

  Persona strict = plantManager();
  strict.min_score = 61;
  EXPECT_FALSE(bestPersona({strict}, leadWith(abroad, LeadSource::kApi)));
}

TEST(Personas, ScoresRoundHalfUp) {
  Persona p{
      "thirds",
      "",
      {oneOf(Kind::kCountry, {"IT"}), oneOf(Kind::kCountry, {"FR"}), oneOf(Kind::kCountry, {"DE"})},
      0};
  LeadProfile it;
  it.country = "IT";
  EXPECT_EQ(matchPersona(p, leadWith(it, LeadSource::kApi)).score, 33);
  p.criteria.pop_back();  // 1 of 2
  EXPECT_EQ(matchPersona(p, leadWith(it, LeadSource::kApi)).score, 50);
  p.criteria = {oneOf(Kind::kCountry, {"IT"}, 2), oneOf(Kind::kCountry, {"FR"})};  // 2 of 3
  EXPECT_EQ(matchPersona(p, leadWith(it, LeadSource::kApi)).score, 67);
}

TEST(Personas, AConfiguredPersonaIsCheckedFieldByField) {
  EXPECT_TRUE(checkPersona(plantManager()).empty());
  EXPECT_TRUE(checkPersona(craftsman()).empty());

  Persona bad{"Plant Manager", "", {}, 120};
  EXPECT_EQ(checkPersona(bad),
            (std::vector<FieldError>{{"key", "must be 1 to 64 characters of a-z, 0-9 and _"},
                                     {"min_score", "must be an integer from 0 to 100"},
                                     {"criteria", "must name at least one criterion"}}));

  Persona ranges{
      "r",
      "",
      {range(Kind::kEmployees, 10, 5), range(Kind::kRevenue, 1, std::nullopt, 0, "eur"),
       range(Kind::kEmployees, std::nullopt, std::nullopt), oneOf(Kind::kSource, {"fax"}),
       oneOf(Kind::kJobTitle, {"--"}), oneOf(Kind::kIndustry, {})},
      50};
  ranges.criteria.push_back(oneOf(Kind::kPersona, {"r"}));
  const auto errors = checkPersona(ranges);
  const std::vector<FieldError> expected{
      {"criteria[0].max", "must not be less than min"},
      {"criteria[1].weight", "must be an integer from 1 to 100"},
      {"criteria[1].currency", "must be an ISO 4217 code, e.g. EUR"},
      {"criteria[2].min", "a range needs min, max or both"},
      {"criteria[3].values", "a source is one of web_form, referral, import, manual, email, api"},
      {"criteria[4].values", "a keyword needs a letter or a digit"},
      {"criteria[5].values", "must list at least one value, none of them empty"},
      {"criteria[6].field", "a persona cannot be a criterion of a persona"}};
  EXPECT_EQ(errors, expected);
}

TEST(Personas, ConditionKindsHaveTheProfileFieldNames) {
  for (const char* name : {"industry", "employees", "annual_revenue", "country", "job_title",
                           "source", "persona", "email_domain", "free_mail", "partner"}) {
    const auto kind = leadConditionKindFrom(name);
    ASSERT_TRUE(kind) << name;
    PersonaCriterion c;
    c.kind = *kind;
    EXPECT_EQ(c.name(), name);
  }
  EXPECT_FALSE(leadConditionKindFrom("revenue"));
}

Lead leadFrom(LeadSource source, LeadProfile p) {
  Lead lead;
  lead.id = "lead_1";
  lead.profile = std::move(p);
  lead.first_touch.source = source;
  lead.latest_touch = lead.first_touch;
  return lead;
}

ProfilingRules rules() {
  ProfilingRules r{{plantManager(), craftsman()}, {}};
  r.unfit = {true, {LeadSource::kReferral, LeadSource::kImport}, {"industry", "employees"}};
  return r;
}

TEST(Profiling, TheLeadTakesItsBestPersonaWithTheCriteriaMet) {
  Lead lead = leadFrom(LeadSource::kWebForm, profile());
  const auto out = profileLead(rules(), lead);
  EXPECT_TRUE(out.changed);
  EXPECT_EQ(out.verdict, ProfilingVerdict::kNone);
  EXPECT_EQ(lead.persona, "plant_manager");
  ASSERT_TRUE(lead.persona_match);
  EXPECT_EQ(lead.persona_match->score, 100);
  EXPECT_FALSE(profileLead(rules(), lead).changed);  // the same profile: nothing new

  lead.profile.employees = 20;  // the profile changes: the score follows
  EXPECT_TRUE(profileLead(rules(), lead).changed);
  EXPECT_EQ(lead.persona_match->score, 80);
  EXPECT_EQ(lead.persona_match->unmatched, std::vector<std::string>{"employees"});

  lead.profile.industry.clear();  // 50 is below the minimum of 60: no persona fits now
  lead.profile.country = "FR";
  EXPECT_TRUE(profileLead(rules(), lead).changed);
  EXPECT_EQ(lead.persona, "");
  EXPECT_FALSE(lead.persona_match);
}

TEST(Profiling, APersonaNamedByTheChannelStaysUntilAMatchReplacesIt) {
  Lead lead = leadFrom(LeadSource::kReferral, {});
  lead.persona = "campaign_persona";
  lead.profile.industry = "Retail";
  lead.profile.employees = 5000;
  auto out = profileLead(rules(), lead);
  EXPECT_FALSE(out.changed);
  EXPECT_EQ(out.verdict, ProfilingVerdict::kNone);  // it has a persona: never discarded
  EXPECT_EQ(lead.persona, "campaign_persona");

  lead.profile = profile();
  EXPECT_TRUE(profileLead(rules(), lead).changed);
  EXPECT_EQ(lead.persona, "plant_manager");
}

TEST(Profiling, AnUnfitLeadIsDiscardedOnlyOnceItsProfileCanBeJudged) {
  LeadProfile p;
  p.email = "info@bakery.example";
  Lead lead = leadFrom(LeadSource::kReferral, p);
  EXPECT_EQ(profileLead(rules(), lead).verdict, ProfilingVerdict::kNone);  // nothing to judge

  lead.profile.industry = "Bakery";
  lead.profile.employees = 4000;
  EXPECT_EQ(profileLead(rules(), lead).verdict, ProfilingVerdict::kDiscard);

  Lead fromForm = lead;  // the rule names referral and import only
  fromForm.first_touch.source = LeadSource::kWebForm;
  EXPECT_EQ(profileLead(rules(), fromForm).verdict, ProfilingVerdict::kNone);

  ProfilingRules keep = rules();
  keep.unfit.discard = false;
  EXPECT_EQ(profileLead(keep, lead).verdict, ProfilingVerdict::kNone);

  ProfilingRules none = rules();  // no personas: profiling has nothing to say
  none.personas.clear();
  EXPECT_EQ(profileLead(none, lead).verdict, ProfilingVerdict::kNone);

  Lead closed = lead;
  closed.status = LeadStatus::kQualified;
  EXPECT_EQ(profileLead(rules(), closed).verdict, ProfilingVerdict::kNone);

  Lead inHand = lead;  // a seller works on it: the seller decides
  ASSERT_TRUE(applyCommand(inHand,
                           {LeadCommand::kStartWork, Actor::kPerson, "anna", std::nullopt, ""},
                           Timestamp{})
                  .ok());
  EXPECT_EQ(profileLead(rules(), inHand).verdict, ProfilingVerdict::kNone);
}

TEST(Profiling, ALeadTheSystemDiscardedComesBackWhenItFitsAndOnlyThen) {
  Lead lead = leadFrom(LeadSource::kReferral, profile());
  lead.profile.industry = "Bakery";
  lead.profile.employees = 4000;
  lead.profile.country = "FR";
  ASSERT_EQ(profileLead(rules(), lead).verdict, ProfilingVerdict::kDiscard);
  ASSERT_TRUE(applyCommand(lead,
                           {LeadCommand::kDisqualify, Actor::kSystem, "profiling",
                            DisqualifyReason::kNoFit, ""},
                           Timestamp{})
                  .ok());
  EXPECT_EQ(profileLead(rules(), lead).verdict, ProfilingVerdict::kNone);  // still unfit

  lead.profile = profile();  // enriched: it is a plant manager after all
  EXPECT_EQ(profileLead(rules(), lead).verdict, ProfilingVerdict::kReactivate);

  Lead byPerson = leadFrom(LeadSource::kReferral, profile());  // a seller's no_fit stands
  ASSERT_TRUE(
      applyCommand(byPerson,
                   {LeadCommand::kDisqualify, Actor::kPerson, "anna", DisqualifyReason::kNoFit, ""},
                   Timestamp{})
          .ok());
  EXPECT_EQ(profileLead(rules(), byPerson).verdict, ProfilingVerdict::kNone);
}

TEST(Profiling, TheUnfitRuleNamesOnlyProfileFields) {
  EXPECT_TRUE(checkUnfitRule(rules().unfit).empty());
  UnfitRule bad{true, {}, {"industry", "revenue"}};
  EXPECT_EQ(checkUnfitRule(bad),
            (std::vector<FieldError>{{"when_known[1]", "is not a profile field"}}));
}

}  // namespace
}  // namespace ciclo
