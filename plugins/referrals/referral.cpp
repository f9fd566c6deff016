#include "referral.h"

#include <Poco/JSON/Object.h>

#include <algorithm>

#include "ciclo/text.h"

namespace ciclo::plugins::referrals {

namespace {

constexpr std::size_t kMaxExternalId = 200;

// Where a referral's fields go on the lead; the host checks and normalises the values.
std::string* target(Referral& r, const std::string& field) {
  auto& in = r.lead;
  if (field == "external_id") return &r.external_id;
  if (field == "email") return &in.email;
  if (field == "first_name") return &in.first_name;
  if (field == "last_name") return &in.last_name;
  if (field == "phone") return &in.phone;
  if (field == "company") return &in.company;
  if (field == "job_title") return &in.job_title;
  if (field == "note") return &in.needs;
  return nullptr;
}

Referral begin(const Partner& partner) {
  Referral r;
  r.lead.source = "referral";
  r.lead.partner = partner.key;
  r.lead.channel = "referral:" + partner.key;
  r.lead.owner = partner.owner;
  return r;
}

void finish(Referral& r, const Partner& partner, bool consent) {
  r.external_id = sdk::trimmed(r.external_id);
  if (r.external_id.empty()) {
    r.errors.push_back({"external_id", "is required: the partner's own id for this referral"});
  } else if (r.external_id.size() > kMaxExternalId || !sdk::isOneLine(r.external_id)) {
    r.errors.push_back({"external_id", "must be one line of at most 200 bytes"});
  }
  if (consent) {
    r.lead.consent_granted = true;
    r.lead.consent_text = partner.consentWording();
    r.lead.consent_source = "referral:" + partner.key;
  }
}

}  // namespace

const std::vector<std::string>& referralFields() {
  static const std::vector<std::string> names{"external_id", "email", "first_name",
                                              "last_name",   "phone", "company",
                                              "job_title",   "note",  "consent_marketing"};
  return names;
}

Referral referralFromJson(const Poco::Dynamic::Var& item, const Partner& partner) {
  Referral r = begin(partner);
  if (item.type() != typeid(Poco::JSON::Object::Ptr)) {
    r.errors.push_back({"", "must be an object"});
    return r;
  }
  const auto& o = *item.extract<Poco::JSON::Object::Ptr>();
  bool consent = false;
  for (const auto& [name, value] : o) {
    if (name == "consent_marketing") {
      if (value.isBoolean()) {
        consent = value.extract<bool>();
      } else if (!value.isEmpty()) {
        r.errors.push_back({name, "must be true or false"});
      }
    } else if (std::string* field = target(r, name)) {
      if (value.isString()) {
        *field = value.extract<std::string>();
      } else if (!value.isEmpty()) {
        r.errors.push_back({name, "must be a string"});
      }
    } else {
      r.warnings.push_back(
          {sdk::isValidUtf8(name) ? name.substr(0, 64) : "?", "is not a known field; ignored"});
    }
  }
  finish(r, partner, consent);
  return r;
}

Referral referralFromRow(const std::vector<std::string>& header,
                         const std::vector<std::string>& row, const Partner& partner) {
  Referral r = begin(partner);
  if (row.size() != header.size()) {
    r.errors.push_back({"", "has " + std::to_string(row.size()) + " fields; the header has " +
                                std::to_string(header.size())});
  }
  bool consent = false;
  for (std::size_t i = 0; i < header.size() && i < row.size(); ++i) {
    const std::string& name = header[i];
    if (name == "consent_marketing") {
      if (const auto yes = sdk::parseYesNo(row[i])) {
        consent = *yes;
      } else {
        r.errors.push_back({name, "must be true or false"});
      }
    } else if (std::string* field = target(r, name)) {
      *field = row[i];
    } else if (!sdk::trimmed(row[i]).empty()) {
      r.warnings.push_back({name, "is not a known field; ignored"});
    }
  }
  finish(r, partner, consent);
  return r;
}

}  // namespace ciclo::plugins::referrals
