#pragma once
// A web form: how a landing page's fields map onto a lead, who may post it, and what the
// visitor sees afterwards. Read from YAML at start or sent through the admin API, and
// checked by the same rules either way.

#include <Poco/JSON/Object.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ciclo/plugin.h"

namespace ciclo::plugins::webform {

// The field names a landing page may send as they are (CONTRACT.md section 1).
const std::vector<std::string>& canonicalFields();
bool isCanonicalField(const std::string& name);

// Fields the embed script adds; never mapped onto the lead.
inline constexpr const char* kSubmissionIdField = "submission_id";
inline constexpr const char* kStartedField = "ciclo_started";

struct RateLimit {
  int per_minute = 10;  // tokens added per minute
  int burst = 5;        // the bucket's size
};

struct Form {
  std::string key;
  std::string name;
  std::map<std::string, std::string> fields;  // a field's name as sent -> canonical name
  std::vector<std::string> required;          // canonical names
  std::vector<std::string> allowed_origins;   // "https://www.example.it"
  bool allow_without_origin = false;          // accept a post with neither Origin nor Referer
  std::string thank_you_url;
  std::string error_url;
  std::string honeypot;  // a field people leave empty; empty: no honeypot
  int min_fill_seconds = 0;
  RateLimit rate_limit;
  std::string consent_text;                // the wording shown next to the consent box
  std::string persona;                     // the buyer persona this form feeds
  std::string campaign;                    // utm_campaign when the page sends none
  std::vector<std::string> custom_fields;  // extra field names kept as custom data
  int max_custom_bytes = 500;              // per custom field
  bool from_config = false;                // defined in the YAML file, not through the API

  // The name a canonical field is sent under by this form's page.
  std::string sentName(const std::string& canonical) const;
  bool allowsOrigin(const std::string& origin) const;
};

using FormPtr = std::shared_ptr<const Form>;

inline constexpr int kMaxCustomFields = 20;

// Every rule a form must follow; errors name the setting ("allowed_origins", "fields.nome").
// With `personas` (the daemon's buyer personas), the form's persona must be one of them.
std::vector<sdk::FieldError> checkForm(const Form& form,
                                       const std::vector<std::string>& personas = {});

// From the plugin's YAML section forms.<key>; errors are reported on the section.
Form formFromConfig(const std::string& key, sdk::ConfigSection& section,
                    const std::vector<std::string>& personas = {});
// From an admin API body; errors as JSON Pointers ("/allowed_origins/0").
sdk::Result<Form> formFromJson(const std::string& key, const Poco::JSON::Object& body,
                               const std::vector<std::string>& personas = {});
Poco::JSON::Object::Ptr formToJson(const Form& form);

// "https://www.example.it:8443" from a URL, or "" when it has no http(s) origin.
std::string originOf(const std::string& url);

}  // namespace ciclo::plugins::webform
