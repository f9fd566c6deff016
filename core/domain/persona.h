#pragma once
// Buyer personas (DOMAIN.md phase 0): marketing's picture of an ideal customer, as weighted
// criteria over what a lead's profile says about it and its company, and how it arrived.
// Profiling (phase 1b) matches each lead against every persona: the match score is the
// share of the criteria's weight that the lead meets, and the lead's persona is the best
// one that reaches its own minimum - or none, and the lead may then be discarded.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/lead.h"

namespace ciclo {

struct PersonaCriterion {
  enum class Kind { kIndustry, kEmployees, kRevenue, kCountry, kJobTitle, kSource };
  Kind kind = Kind::kIndustry;
  // Industry, country and source: any of these values (industry without regard to case).
  // Job title: any of these keywords or phrases, as whole words without regard to case.
  std::vector<std::string> values;
  // Employees, or revenue in minor units of `currency`: within [min, max], either open.
  std::optional<std::int64_t> min, max;
  std::string currency;
  int weight = 1;  // 1..100

  // What the criterion is called in a match: its kind ("industry", "job_title", ...).
  std::string name() const;
  // True when the lead meets it; unknown data (no industry, no staff count) never does.
  bool matches(const LeadProfile& profile, LeadSource source) const;
};

struct Persona {
  std::string key;  // [a-z0-9_], 1..64
  std::string name;
  std::vector<PersonaCriterion> criteria;
  int min_score = 50;  // 0..100: below it the lead does not fit this persona
};

struct PersonaMatch {
  std::string persona;               // the persona's key
  int score = 0;                     // 0..100
  std::vector<std::string> matched;  // the names of the criteria met, in the persona's order
  std::vector<std::string> unmatched;
};

PersonaMatch matchPersona(const Persona& persona, const LeadProfile& profile, LeadSource source);

// The persona with the highest score among those whose minimum the lead reaches, meeting
// at least one criterion; on a tie, the one defined first. None when the lead fits no
// persona.
std::optional<PersonaMatch> bestPersona(const std::vector<Persona>& personas,
                                        const LeadProfile& profile, LeadSource source);

// Checks a persona as configured; the messages name the field ("criteria[2].min: ...").
std::vector<FieldError> checkPersona(const Persona& persona);

std::optional<PersonaCriterion::Kind> personaCriterionKindFrom(std::string_view name);

}  // namespace ciclo
