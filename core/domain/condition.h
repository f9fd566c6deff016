#pragma once
// A test on what is known of a lead: its profile, its buyer persona, how it arrived.
// Personas weigh such conditions (domain/persona.h); scoring rules give points for them
// (domain/scoring.h).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/lead.h"

namespace ciclo {

struct LeadCondition {
  enum class Kind {
    kIndustry,
    kEmployees,
    kRevenue,
    kCountry,
    kJobTitle,
    kSource,
    kPersona,
    kEmailDomain,
    kFreeMail,
    kPartner
  };
  Kind kind = Kind::kIndustry;
  // Industry, country, source, persona, partner: any of these values (industry without
  // regard to case). Job title: any of these keywords or phrases, as whole words without
  // regard to case. Email domain: the email's domain is one of these or under one of them.
  // Free mail takes no values: the email is at a free-mail provider.
  std::vector<std::string> values;
  // Employees, or revenue in minor units of `currency`: within [min, max], either open.
  std::optional<std::int64_t> min, max;
  std::string currency;

  // Its kind's name, as configured: "industry", "job_title", ...
  std::string name() const;
  // True when the lead meets it; unknown data (no industry, no staff count) never does.
  bool matches(const Lead& lead) const;
};

std::optional<LeadCondition::Kind> leadConditionKindFrom(std::string_view name);
// Every kind's name, for messages: "industry, employees, ...".
std::string leadConditionKindNames();

// Checks a condition as configured; each message names its field after `at`
// ("criteria[2].max").
std::vector<FieldError> checkCondition(const LeadCondition& condition, const std::string& at);

}  // namespace ciclo
