#include "form.h"

#include <Poco/JSON/Array.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>

#include "json.h"

namespace ciclo::plugins::webform {

namespace {

// A field name as a page may send it: printable ASCII without spaces, at most 64 bytes.
bool isFieldName(const std::string& s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

const std::vector<std::string>& canonicalFields() {
  static const std::vector<std::string> names{
      "email",      "first_name",   "last_name", "phone",       "company",           "job_title",
      "website",    "country",      "city",      "message",     "consent_marketing", "utm_source",
      "utm_medium", "utm_campaign", "utm_term",  "utm_content", "page_url"};
  return names;
}

bool isCanonicalField(const std::string& name) {
  return contains(canonicalFields(), name);
}

std::string Form::sentName(const std::string& canonical) const {
  for (const auto& [sent, target] : fields) {
    if (target == canonical) return sent;
  }
  return canonical;
}

bool Form::allowsOrigin(const std::string& origin) const {
  return !origin.empty() && contains(allowed_origins, origin);
}

std::string originOf(const std::string& url) {
  try {
    const Poco::URI uri(url);
    const std::string scheme = uri.getScheme();
    if ((scheme != "https" && scheme != "http") || uri.getHost().empty()) return {};
    std::string origin = scheme + "://" + uri.getHost();
    const bool defaultPort =
        (scheme == "https" && uri.getPort() == 443) || (scheme == "http" && uri.getPort() == 80);
    if (!defaultPort) origin += ":" + std::to_string(uri.getPort());
    return origin;
  } catch (const Poco::Exception&) {
    return {};
  }
}

std::vector<sdk::FieldError> checkForm(const Form& f, const std::vector<std::string>& personas) {
  std::vector<sdk::FieldError> errors;
  auto fail = [&](std::string field, std::string message) {
    errors.push_back({std::move(field), std::move(message)});
  };
  if (!f.persona.empty() && !personas.empty() &&
      std::find(personas.begin(), personas.end(), f.persona) == personas.end()) {
    std::string known;
    for (const auto& p : personas) known += (known.empty() ? "" : ", ") + p;
    fail("persona", "is not one of the buyer personas (" + known + ")");
  }
  if (!sdk::isKey(f.key)) fail("key", "must be 1 to 64 characters of a-z, 0-9, - and _");
  if (f.name.size() > 200) fail("name", "must be at most 200 bytes");
  for (const auto& [sent, canonical] : f.fields) {
    if (!isFieldName(sent)) {
      fail("fields", "field names are 1 to 64 printable ASCII characters without spaces");
    } else if (!isCanonicalField(canonical)) {
      fail("fields." + sent, "must name one of the canonical fields, e.g. email or first_name");
    } else if (isCanonicalField(sent) && sent != canonical) {
      fail("fields." + sent, "is itself a canonical field and cannot be renamed");
    }
  }
  for (std::size_t i = 0; i < f.required.size(); ++i) {
    if (!isCanonicalField(f.required[i]))
      fail("required[" + std::to_string(i) + "]", "must name a canonical field");
  }
  if (f.allowed_origins.empty() && !f.allow_without_origin)
    fail("allowed_origins", "is required: the origins of the pages that carry this form");
  for (std::size_t i = 0; i < f.allowed_origins.size(); ++i) {
    if (originOf(f.allowed_origins[i]) != f.allowed_origins[i])
      fail("allowed_origins[" + std::to_string(i) + "]",
           "must be an origin such as https://www.example.it (scheme, host, and a port only "
           "when it is not the default), without a path");
  }
  for (const auto& [name, url] :
       {std::pair{"thank_you_url", &f.thank_you_url}, std::pair{"error_url", &f.error_url}}) {
    if (url->empty()) continue;
    if (url->size() > 2048 || !f.allowsOrigin(originOf(*url)) ||
        url->find_first_of("\r\n\t ") != std::string::npos)
      fail(name, "must be a URL on one of the allowed origins");
  }
  if (!f.honeypot.empty() &&
      (!isFieldName(f.honeypot) || isCanonicalField(f.honeypot) || f.fields.contains(f.honeypot)))
    fail("honeypot", "must be a field name of its own, not one that carries data");
  if (f.min_fill_seconds < 0 || f.min_fill_seconds > 3600)
    fail("min_fill_seconds", "must be between 0 and 3600");
  if (f.rate_limit.per_minute < 1 || f.rate_limit.per_minute > 60000)
    fail("rate_limit.per_minute", "must be between 1 and 60000");
  if (f.rate_limit.burst < 1 || f.rate_limit.burst > 100000)
    fail("rate_limit.burst", "must be between 1 and 100000");
  if (f.consent_text.empty() || f.consent_text.size() > 5000)
    fail("consent_text", "is required (at most 5000 bytes): the wording the visitor agrees to");
  if (f.persona.size() > 200) fail("persona", "must be at most 200 bytes");
  if (f.campaign.size() > 200) fail("campaign", "must be at most 200 bytes");
  if (f.custom_fields.size() > static_cast<std::size_t>(kMaxCustomFields))
    fail("custom_fields", "holds at most " + std::to_string(kMaxCustomFields) + " names");
  for (std::size_t i = 0; i < f.custom_fields.size(); ++i) {
    const auto& n = f.custom_fields[i];
    if (!sdk::isCustomFieldName(n) || isCanonicalField(n) || f.fields.contains(n) ||
        n == f.honeypot)
      fail("custom_fields[" + std::to_string(i) + "]",
           "must be 1 to 64 characters of a-z, 0-9 and _, and not a mapped field");
  }
  if (f.max_custom_bytes < 1 || f.max_custom_bytes > 1000)
    fail("max_custom_bytes", "must be between 1 and 1000");
  return errors;
}

Form formFromConfig(const std::string& key, sdk::ConfigSection& s,
                    const std::vector<std::string>& personas) {
  Form f;
  f.key = key;
  f.from_config = true;
  f.name = s.text("name", key);
  auto fields = s.section("fields");
  for (const auto& sent : fields->keys()) f.fields[sent] = fields->text(sent, "");
  fields->finish();
  f.required = s.list("required");
  f.allowed_origins = s.list("allowed_origins");
  f.allow_without_origin = s.boolean("allow_without_origin", false);
  f.thank_you_url = s.text("thank_you_url", "");
  f.error_url = s.text("error_url", "");
  f.honeypot = s.text("honeypot", "");
  f.min_fill_seconds = static_cast<int>(s.integer("min_fill_seconds", 0, 0, 3600));
  auto rate = s.section("rate_limit");
  f.rate_limit.per_minute = static_cast<int>(rate->integer("per_minute", 10, 1, 60000));
  f.rate_limit.burst = static_cast<int>(rate->integer("burst", 5, 1, 100000));
  rate->finish();
  f.consent_text = s.text("consent_text", "");
  f.persona = s.text("persona", "");
  f.campaign = s.text("campaign", "");
  f.custom_fields = s.list("custom_fields");
  f.max_custom_bytes = static_cast<int>(s.integer("max_custom_bytes", 500, 1, 1000));
  s.finish();
  for (const auto& e : checkForm(f, personas)) s.fail(e.field, e.message);
  return f;
}

sdk::Result<Form> formFromJson(const std::string& key, const Poco::JSON::Object& o,
                               const std::vector<std::string>& personas) {
  std::vector<sdk::FieldError> errors;
  auto fail = [&](const std::string& field, const std::string& message) {
    errors.push_back({"/" + field, message});
  };
  Form f;
  f.key = key;
  auto text = [&](const char* name, std::string& out) {
    if (!o.has(name) || o.isNull(name)) return;
    const auto v = o.get(name);
    if (!v.isString()) return fail(name, "must be a string");
    out = v.extract<std::string>();
  };
  auto texts = [&](const char* name, std::vector<std::string>& out) {
    if (!o.has(name) || o.isNull(name)) return;
    auto a = o.getArray(name);
    if (!a) return fail(name, "must be an array of strings");
    for (std::size_t i = 0; i < a->size(); ++i) {
      if (!a->get(i).isString())
        return fail(std::string(name) + "/" + std::to_string(i), "must be a string");
      out.push_back(a->get(i).extract<std::string>());
    }
  };
  auto integer = [&](const Poco::JSON::Object& from, const std::string& path, const char* name,
                     int& out) {
    if (!from.has(name) || from.isNull(name)) return;
    const auto v = from.get(name);
    if (!v.isInteger()) return fail(path, "must be an integer");
    const auto n = v.convert<long long>();
    out = n < -1 ? -1 : n > 1'000'000 ? 1'000'000 : static_cast<int>(n);
  };
  static const std::vector<std::string> kKnown{"key",
                                               "name",
                                               "fields",
                                               "required",
                                               "allowed_origins",
                                               "allow_without_origin",
                                               "thank_you_url",
                                               "error_url",
                                               "honeypot",
                                               "min_fill_seconds",
                                               "rate_limit",
                                               "consent_text",
                                               "persona",
                                               "campaign",
                                               "custom_fields",
                                               "max_custom_bytes",
                                               "from_config"};
  for (const auto& [name, value] : o) {
    if (!contains(kKnown, name)) fail(name, "is not a form setting");
  }
  text("name", f.name);
  if (f.name.empty()) f.name = key;
  if (o.has("fields") && !o.isNull("fields")) {
    if (auto m = o.getObject("fields")) {
      for (const auto& [sent, target] : *m) {
        if (!target.isString()) {
          fail("fields/" + sent, "must be a string");
          continue;
        }
        f.fields[sent] = target.extract<std::string>();
      }
    } else {
      fail("fields", "must be an object of field name to canonical name");
    }
  }
  texts("required", f.required);
  texts("allowed_origins", f.allowed_origins);
  if (o.has("allow_without_origin")) {
    const auto v = o.get("allow_without_origin");
    if (!v.isBoolean()) {
      fail("allow_without_origin", "must be true or false");
    } else {
      f.allow_without_origin = v.extract<bool>();
    }
  }
  text("thank_you_url", f.thank_you_url);
  text("error_url", f.error_url);
  text("honeypot", f.honeypot);
  integer(o, "min_fill_seconds", "min_fill_seconds", f.min_fill_seconds);
  if (o.has("rate_limit") && !o.isNull("rate_limit")) {
    if (auto r = o.getObject("rate_limit")) {
      integer(*r, "rate_limit/per_minute", "per_minute", f.rate_limit.per_minute);
      integer(*r, "rate_limit/burst", "burst", f.rate_limit.burst);
      for (const auto& [name, value] : *r) {
        if (name != "per_minute" && name != "burst")
          fail("rate_limit/" + name, "is not a rate limit setting");
      }
    } else {
      fail("rate_limit", "must be an object with per_minute and burst");
    }
  }
  text("consent_text", f.consent_text);
  text("persona", f.persona);
  text("campaign", f.campaign);
  texts("custom_fields", f.custom_fields);
  integer(o, "max_custom_bytes", "max_custom_bytes", f.max_custom_bytes);
  if (errors.empty()) {
    for (auto& e : checkForm(f, personas)) {
      std::string pointer = "/" + e.field;
      std::replace(pointer.begin(), pointer.end(), '.', '/');
      for (auto p = pointer.find('['); p != std::string::npos; p = pointer.find('[')) {
        pointer.replace(p, 1, "/");
        pointer.erase(pointer.find(']', p), 1);
      }
      errors.push_back({pointer, e.message});
    }
  }
  if (!errors.empty())
    return sdk::Error{sdk::ErrorKind::kInvalid, "The form has invalid settings.", errors, {}};
  return f;
}

Poco::JSON::Object::Ptr formToJson(const Form& f) {
  JsonObject o = jsonObject();
  auto list = [](const std::vector<std::string>& v) {
    Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
    for (const auto& s : v) a->add(s);
    return a;
  };
  o->set("key", f.key);
  o->set("name", f.name);
  JsonObject fields = jsonObject();
  for (const auto& [sent, canonical] : f.fields) fields->set(sent, canonical);
  o->set("fields", fields);
  o->set("required", list(f.required));
  o->set("allowed_origins", list(f.allowed_origins));
  o->set("allow_without_origin", f.allow_without_origin);
  o->set("thank_you_url", f.thank_you_url);
  o->set("error_url", f.error_url);
  o->set("honeypot", f.honeypot);
  o->set("min_fill_seconds", f.min_fill_seconds);
  JsonObject rate = jsonObject();
  rate->set("per_minute", f.rate_limit.per_minute);
  rate->set("burst", f.rate_limit.burst);
  o->set("rate_limit", rate);
  o->set("consent_text", f.consent_text);
  o->set("persona", f.persona);
  o->set("campaign", f.campaign);
  o->set("custom_fields", list(f.custom_fields));
  o->set("max_custom_bytes", f.max_custom_bytes);
  o->set("from_config", f.from_config);
  return o;
}

}  // namespace ciclo::plugins::webform
