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

#include "domain/condition.h"
#include "domain/lead.h"

namespace ciclo {

// A condition with its weight in the persona.
struct PersonaCriterion : LeadCondition {
  int weight = 1;  // 1..100
};

struct Persona {
  std::string key;  // [a-z0-9_], 1..64
  std::string name;
  std::vector<PersonaCriterion> criteria;
  int min_score = 50;  // 0..100: below it the lead does not fit this persona
};

// By the lead's profile and its first touch's source (a persona never weighs a persona).
PersonaMatch matchPersona(const Persona& persona, const Lead& lead);

// The persona with the highest score among those whose minimum the lead reaches, meeting
// at least one criterion; on a tie, the one defined first. None when the lead fits no
// persona.
std::optional<PersonaMatch> bestPersona(const std::vector<Persona>& personas, const Lead& lead);

// Checks a persona as configured; the messages name the field ("criteria[2].min: ...").
std::vector<FieldError> checkPersona(const Persona& persona);

// What happens to a lead that fits no persona ("contact scartato", phase 1b). By default it
// is kept. With `discard`, it is disqualified as no_fit by the system - but only once the
// profile says enough to judge (every field in `when_known` has a value) and only for leads
// from `sources` (all when empty): a visitor who left just an email is not judged yet. A
// lead a person has taken in hand (any status command of theirs) is never discarded.
struct UnfitRule {
  bool discard = false;
  std::vector<LeadSource> sources;
  std::vector<std::string> when_known;  // profile field names
};

struct ProfilingRules {
  std::vector<Persona> personas;
  UnfitRule unfit;
};

// What profiling asks of the lead's status after matching it.
enum class ProfilingVerdict {
  kNone,
  kDiscard,     // fits no persona: disqualify as no_fit (system)
  kReactivate,  // the system discarded it, and now it fits: back to working (system)
};

struct Profiled {
  bool changed = false;  // persona or match changed
  ProfilingVerdict verdict = ProfilingVerdict::kNone;
};

// Matches the lead against the personas (by its profile and its first touch's source) and
// sets its persona to the best match. A persona the lead no longer fits is taken off it; a
// persona named by the capturing channel (no match recorded) stays unless a match replaces
// it. With no personas configured, nothing changes. The verdict is only a request: the
// caller applies it as a status command, in the same transaction.
Profiled profileLead(const ProfilingRules& rules, Lead& lead);

// Checks the unfit rule as configured ("when_known[1]: ...").
std::vector<FieldError> checkUnfitRule(const UnfitRule& rule);

}  // namespace ciclo
