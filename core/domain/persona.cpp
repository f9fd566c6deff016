#include "domain/persona.h"

#include <algorithm>
#include <array>
#include <utility>

namespace ciclo {

PersonaMatch matchPersona(const Persona& persona, const Lead& lead) {
  PersonaMatch m;
  m.persona = persona.key;
  int total = 0, met = 0;
  for (const auto& c : persona.criteria) {
    total += c.weight;
    if (c.matches(lead)) {
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

std::optional<PersonaMatch> bestPersona(const std::vector<Persona>& personas, const Lead& lead) {
  std::optional<PersonaMatch> best;
  for (const auto& p : personas) {
    auto m = matchPersona(p, lead);
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
    if (c.kind == LeadCondition::Kind::kPersona) {
      errors.push_back({at + "field", "a persona cannot be a criterion of a persona"});
      continue;
    }
    for (auto& e : checkCondition(c, at)) errors.push_back(std::move(e));
  }
  return errors;
}

Profiled profileLead(const ProfilingRules& rules, Lead& lead) {
  Profiled out;
  if (rules.personas.empty()) return out;
  auto best = bestPersona(rules.personas, lead);
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
