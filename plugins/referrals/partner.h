#pragma once
// A partner that refers leads: who it is, the secrets its webhooks are signed with, and
// what its leads get on arrival. Read from YAML at start or managed through the admin API,
// and checked by the same rules either way.

#include <Poco/JSON/Object.h>

#include <memory>
#include <string>
#include <vector>

#include "ciclo/plugin.h"

namespace ciclo::plugins::referrals {

struct PartnerSecret {
  std::string id;          // "1", "2", ... in the order added
  std::string secret;      // whsec_...; sealed at rest, held open only in memory
  std::string created_at;  // RFC 3339
};

struct Partner {
  std::string key;
  std::string name;
  std::string owner;         // the seller a referred lead goes to when it has none
  int quality = 50;          // 0..100: how good this partner's leads have proved, for scoring
  std::string consent_text;  // the wording the partner collected marketing consent with
  std::vector<PartnerSecret> secrets;  // any one verifies a request (rotation)
  bool from_config = false;            // defined in the YAML file, not through the API

  // The consent wording recorded when a referral says consent_marketing: true.
  std::string consentWording() const;
};

using PartnerPtr = std::shared_ptr<const Partner>;

inline constexpr std::size_t kMaxSecrets = 5;

// "whsec_" and the base64 of 24 to 64 random bytes, as Standard Webhooks secrets are.
bool isWebhookSecret(const std::string& secret);

// Every rule a partner must follow; errors name the setting ("name", "secrets").
std::vector<sdk::FieldError> checkPartner(const Partner& partner);

// From the plugin's YAML section partners.<key>; errors are reported on the section.
Partner partnerFromConfig(const std::string& key, sdk::ConfigSection& section);
// Applies an admin API body onto `partner` (a new one, or a copy to change); errors as JSON
// Pointers ("/quality"). Secrets are not set this way.
sdk::Status applyPartnerJson(Partner& partner, const Poco::JSON::Object& body);
// The partner as the admin API shows it: never a secret, only the secrets' ids and dates.
Poco::JSON::Object::Ptr partnerToJson(const Partner& partner);
// The settings kept in the store (secrets are kept apart, sealed).
Poco::JSON::Object::Ptr partnerSettings(const Partner& partner);

}  // namespace ciclo::plugins::referrals
