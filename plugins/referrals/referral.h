#pragma once
// One referral as a partner sends it (CONTRACT.md section 2: external_id, email, first_name,
// last_name, phone, company, job_title, note, consent_marketing), from an item of a JSON batch
// or a row of a CSV feed, turned into a lead capture with the partner's attribution.

#include <Poco/Dynamic/Var.h>

#include <string>
#include <vector>

#include "ciclo/plugin.h"
#include "partner.h"

namespace ciclo::plugins::referrals {

struct Referral {
  std::string external_id;
  sdk::LeadInput lead;
  std::vector<sdk::FieldError> errors;    // fields named as the item names them ("email")
  std::vector<sdk::FieldError> warnings;  // unknown fields, ignored
};

// An item of a JSON batch: an object of strings, consent_marketing a boolean.
Referral referralFromJson(const Poco::Dynamic::Var& item, const Partner& partner);

// A CSV row under `header` (column names, already trimmed and lower case).
Referral referralFromRow(const std::vector<std::string>& header,
                         const std::vector<std::string>& row, const Partner& partner);

}  // namespace ciclo::plugins::referrals
