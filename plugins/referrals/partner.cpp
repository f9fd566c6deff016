#include "partner.h"

#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Array.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "ciclo/text.h"
#include "json.h"

namespace ciclo::plugins::referrals {

std::string Partner::consentWording() const {
  if (!consent_text.empty()) return consent_text;
  return "Marketing consent collected by partner " + name + " (" + key + ")";
}

bool isWebhookSecret(const std::string& secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (!secret.starts_with(kPrefix) || secret.size() > 200) return false;
  const std::string encoded = secret.substr(kPrefix.size());
  if (!std::all_of(encoded.begin(), encoded.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=';
      }))
    return false;
  try {
    std::istringstream in(encoded);
    Poco::Base64Decoder decoder(in);
    std::string bytes((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
    return bytes.size() >= 24 && bytes.size() <= 64;
  } catch (const Poco::Exception&) {
    return false;
  }
}

std::vector<sdk::FieldError> checkPartner(const Partner& p) {
  std::vector<sdk::FieldError> errors;
  auto fail = [&](std::string field, std::string message) {
    errors.push_back({std::move(field), std::move(message)});
  };
  if (!sdk::isKey(p.key)) fail("key", "must be 1 to 64 characters of a-z, 0-9, - and _");
  if (p.name.empty() || p.name.size() > 200 || !sdk::isOneLine(p.name))
    fail("name", "is required: one line of at most 200 bytes");
  if (p.owner.size() > 200 || !sdk::isOneLine(p.owner))
    fail("owner", "must be one line of at most 200 bytes");
  if (p.quality < 0 || p.quality > 100) fail("quality", "must be an integer from 0 to 100");
  if (p.consent_text.size() > 5000 || !sdk::isValidUtf8(p.consent_text))
    fail("consent_text", "must be text of at most 5000 bytes");
  if (p.secrets.size() > kMaxSecrets)
    fail("secrets", "holds at most " + std::to_string(kMaxSecrets) + " secrets");
  for (std::size_t i = 0; i < p.secrets.size(); ++i) {
    if (!isWebhookSecret(p.secrets[i].secret))
      fail("secrets[" + std::to_string(i) + "]",
           "must be whsec_ followed by the base64 of 24 to 64 random bytes");
  }
  return errors;
}

Partner partnerFromConfig(const std::string& key, sdk::ConfigSection& s) {
  Partner p;
  p.key = key;
  p.from_config = true;
  p.name = s.text("name", key);
  p.owner = s.text("owner", "");
  p.quality = static_cast<int>(s.integer("quality", 50, 0, 100));
  p.consent_text = s.text("consent_text", "");
  const auto secrets = s.list("secrets");
  for (std::size_t i = 0; i < secrets.size(); ++i)
    p.secrets.push_back({std::to_string(i + 1), secrets[i], ""});
  s.finish();
  if (p.secrets.empty())
    s.fail("secrets", "is required: the whsec_ secret(s) this partner signs its webhooks with");
  for (const auto& e : checkPartner(p)) s.fail(e.field, e.message);
  return p;
}

sdk::Status applyPartnerJson(Partner& p, const Poco::JSON::Object& o) {
  std::vector<sdk::FieldError> errors;
  auto fail = [&](const std::string& field, const std::string& message) {
    errors.push_back({"/" + field, message});
  };
  static const std::vector<std::string> kKnown{"key", "name", "owner", "quality", "consent_text"};
  for (const auto& [name, value] : o) {
    if (std::find(kKnown.begin(), kKnown.end(), name) == kKnown.end())
      fail(name, name == "secrets" || name == "secret"
                     ? "is not set this way: POST /v1/partners/{partner}/secrets adds one"
                     : "is not a partner setting");
  }
  auto text = [&](const char* name, std::string& out) {
    if (!o.has(name)) return;
    const auto v = o.get(name);
    if (v.isEmpty()) {
      out.clear();
    } else if (!v.isString()) {
      fail(name, "must be a string");
    } else {
      out = v.extract<std::string>();
    }
  };
  text("name", p.name);
  text("owner", p.owner);
  text("consent_text", p.consent_text);
  if (o.has("quality")) {
    const auto v = o.get("quality");
    if (!v.isInteger()) {
      fail("quality", "must be an integer from 0 to 100");
    } else {
      const auto n = v.convert<long long>();
      p.quality = n < -1 ? -1 : n > 101 ? 101 : static_cast<int>(n);
    }
  }
  if (errors.empty()) {
    for (auto& e : checkPartner(p)) {
      if (e.field.starts_with("secrets")) continue;  // not this body's doing
      errors.push_back({"/" + e.field, e.message});
    }
  }
  if (!errors.empty())
    return sdk::Error{sdk::ErrorKind::kInvalid, "The partner has invalid settings.", errors, {}};
  return sdk::Status();
}

Poco::JSON::Object::Ptr partnerSettings(const Partner& p) {
  JsonObject o = jsonObject();
  o->set("key", p.key);
  o->set("name", p.name);
  o->set("owner", p.owner);
  o->set("quality", p.quality);
  o->set("consent_text", p.consent_text);
  return o;
}

Poco::JSON::Object::Ptr partnerToJson(const Partner& p) {
  auto o = partnerSettings(p);
  Poco::JSON::Array::Ptr secrets = new Poco::JSON::Array;
  for (const auto& s : p.secrets) {
    JsonObject entry = jsonObject();
    entry->set("id", s.id);
    entry->set("created_at",
               s.created_at.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(s.created_at));
    secrets->add(entry);
  }
  o->set("secrets", secrets);
  o->set("from_config", p.from_config);
  return o;
}

}  // namespace ciclo::plugins::referrals
