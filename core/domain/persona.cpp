#include "domain/persona.h"

#include <algorithm>
#include <array>
#include <utility>

namespace ciclo {

namespace {

constexpr std::array<std::pair<PersonaCriterion::Kind, std::string_view>, 6> kKinds{{
    {PersonaCriterion::Kind::kIndustry, "industry"},
    {PersonaCriterion::Kind::kEmployees, "employees"},
    {PersonaCriterion::Kind::kRevenue, "annual_revenue"},
    {PersonaCriterion::Kind::kCountry, "country"},
    {PersonaCriterion::Kind::kJobTitle, "job_title"},
    {PersonaCriterion::Kind::kSource, "source"},
}};

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

// The words of a text, lower-cased: runs of letters and digits. Bytes of multi-byte UTF-8
// characters count as letters, so "Direttore Qualità" has the words "direttore" and
// "qualità" (accented capitals are compared as written).
std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u >= 0x80) {
      word += lower(c);
    } else if (!word.empty()) {
      out.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

// True when the words of `phrase` occur in `title` one after another.
bool containsPhrase(const std::vector<std::string>& title, const std::vector<std::string>& phrase) {
  if (phrase.empty() || phrase.size() > title.size()) return false;
  return std::search(title.begin(), title.end(), phrase.begin(), phrase.end()) != title.end();
}

bool within(std::int64_t value, const std::optional<std::int64_t>& min,
            const std::optional<std::int64_t>& max) {
  return (!min || value >= *min) && (!max || value <= *max);
}

}  // namespace

std::optional<PersonaCriterion::Kind> personaCriterionKindFrom(std::string_view name) {
  for (const auto& [kind, text] : kKinds) {
    if (text == name) return kind;
  }
  return std::nullopt;
}

std::string PersonaCriterion::name() const {
  for (const auto& [k, text] : kKinds) {
    if (k == kind) return std::string(text);
  }
  return {};
}

bool PersonaCriterion::matches(const LeadProfile& profile, LeadSource source) const {
  switch (kind) {
    case Kind::kIndustry:
      return !profile.industry.empty() &&
             std::any_of(values.begin(), values.end(), [&](const std::string& v) {
               return equalsIgnoringCase(v, profile.industry);
             });
    case Kind::kCountry:
      return !profile.country.empty() &&
             std::find(values.begin(), values.end(), profile.country) != values.end();
    case Kind::kSource:
      return std::find(values.begin(), values.end(), toString(source)) != values.end();
    case Kind::kEmployees:
      return profile.employees && within(*profile.employees, min, max);
    case Kind::kRevenue:
      return profile.annual_revenue && profile.annual_revenue->currency() == currency &&
             within(profile.annual_revenue->minor(), min, max);
    case Kind::kJobTitle: {
      const auto title = words(profile.job_title);
      return std::any_of(values.begin(), values.end(),
                         [&](const std::string& v) { return containsPhrase(title, words(v)); });
    }
  }
  return false;
}

PersonaMatch matchPersona(const Persona& persona, const LeadProfile& profile, LeadSource source) {
  PersonaMatch m;
  m.persona = persona.key;
  int total = 0, met = 0;
  for (const auto& c : persona.criteria) {
    total += c.weight;
    if (c.matches(profile, source)) {
      met += c.weight;
      m.matched.push_back(c.name());
    } else {
      m.unmatched.push_back(c.name());
    }
  }
  // Rounded half up, in integers: the same lead and persona give the same score everywhere.
  m.score = total == 0 ? 0 : (200 * met + total) / (2 * total);
  return m;
}

std::optional<PersonaMatch> bestPersona(const std::vector<Persona>& personas,
                                        const LeadProfile& profile, LeadSource source) {
  std::optional<PersonaMatch> best;
  for (const auto& p : personas) {
    auto m = matchPersona(p, profile, source);
    if (m.score < p.min_score || m.score == 0) continue;
    if (!best || m.score > best->score) best = std::move(m);
  }
  return best;
}

std::vector<FieldError> checkPersona(const Persona& p) {
  std::vector<FieldError> errors;
  const bool keyOk =
      !p.key.empty() && p.key.size() <= 64 && std::all_of(p.key.begin(), p.key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      });
  if (!keyOk) errors.push_back({"key", "must be 1 to 64 characters of a-z, 0-9 and _"});
  if (p.min_score < 0 || p.min_score > 100)
    errors.push_back({"min_score", "must be an integer from 0 to 100"});
  if (p.criteria.empty()) errors.push_back({"criteria", "must name at least one criterion"});
  for (std::size_t i = 0; i < p.criteria.size(); ++i) {
    const auto& c = p.criteria[i];
    const std::string at = "criteria[" + std::to_string(i) + "].";
    if (c.weight < 1 || c.weight > 100)
      errors.push_back({at + "weight", "must be an integer from 1 to 100"});
    using K = PersonaCriterion::Kind;
    const bool ranged = c.kind == K::kEmployees || c.kind == K::kRevenue;
    if (ranged) {
      if (!c.min && !c.max) errors.push_back({at + "min", "a range needs min, max or both"});
      if (c.min && c.max && *c.min > *c.max)
        errors.push_back({at + "max", "must not be less than min"});
      if ((c.min && *c.min < 0) || (c.max && *c.max < 0))
        errors.push_back({at + "min", "a range is of amounts from 0"});
      if (!c.values.empty())
        errors.push_back({at + "values", "a range takes min and max, not values"});
    } else {
      if (c.values.empty() || std::any_of(c.values.begin(), c.values.end(),
                                          [](const std::string& v) { return v.empty(); })) {
        errors.push_back({at + "values", "must list at least one value, none of them empty"});
      }
      if (c.min || c.max)
        errors.push_back({at + "min", "only employees and annual_revenue are ranges"});
    }
    if (c.kind == K::kRevenue &&
        (c.currency.size() != 3 || !std::all_of(c.currency.begin(), c.currency.end(),
                                                [](char ch) { return ch >= 'A' && ch <= 'Z'; }))) {
      errors.push_back({at + "currency", "must be an ISO 4217 code, e.g. EUR"});
    }
    if (c.kind == K::kSource) {
      for (const auto& v : c.values) {
        if (!leadSourceFrom(v))
          errors.push_back(
              {at + "values", "a source is one of web_form, referral, import, manual, email, api"});
      }
    }
    if (c.kind == K::kJobTitle) {
      for (const auto& v : c.values) {
        if (!v.empty() && words(v).empty())
          errors.push_back({at + "values", "a keyword needs a letter or a digit"});
      }
    }
  }
  return errors;
}

Profiled profileLead(const ProfilingRules& rules, Lead& lead) {
  Profiled out;
  if (rules.personas.empty()) return out;
  auto best = bestPersona(rules.personas, lead.profile, lead.first_touch.source);
  if (best) {
    if (lead.persona != best->persona || lead.persona_match != best) {
      lead.persona = best->persona;
      lead.persona_match = std::move(best);
      out.changed = true;
    }
  } else if (lead.persona_match) {  // matched before, fits no longer
    lead.persona.clear();
    lead.persona_match.reset();
    out.changed = true;
  }

  const bool open =
      lead.status != LeadStatus::kQualified && lead.status != LeadStatus::kDisqualified;
  if (lead.persona.empty()) {
    const auto& rule = rules.unfit;
    const bool fromSource =
        rule.sources.empty() || std::find(rule.sources.begin(), rule.sources.end(),
                                          lead.first_touch.source) != rule.sources.end();
    const bool judged = std::all_of(
        rule.when_known.begin(), rule.when_known.end(),
        [&](const std::string& f) { return isProfileFieldKnown(lead.profile, f).value_or(false); });
    // A person who took the lead in hand (started work, reactivated it) decides for it.
    const bool inHand =
        std::any_of(lead.history.begin(), lead.history.end(),
                    [](const StatusChange& h) { return h.actor == Actor::kPerson; });
    if (rule.discard && open && fromSource && judged && !inHand)
      out.verdict = ProfilingVerdict::kDiscard;
  } else if (lead.status == LeadStatus::kDisqualified && !lead.history.empty()) {
    const auto& last = lead.history.back();
    if (last.to == LeadStatus::kDisqualified && last.actor == Actor::kSystem &&
        last.reason == DisqualifyReason::kNoFit)
      out.verdict = ProfilingVerdict::kReactivate;
  }
  return out;
}

std::vector<FieldError> checkUnfitRule(const UnfitRule& rule) {
  std::vector<FieldError> errors;
  for (std::size_t i = 0; i < rule.when_known.size(); ++i) {
    if (!isProfileFieldKnown(LeadProfile{}, rule.when_known[i]))
      errors.push_back({"when_known[" + std::to_string(i) + "]", "is not a profile field"});
  }
  return errors;
}

}  // namespace ciclo
