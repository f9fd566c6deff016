#include "organization.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cctype>

#include "support/json.h"

namespace ciclo::plugins::linkedin {

Poco::JSON::Object::Ptr parseObject(const std::string& text) {
  auto parsed = parseJsonObject(text, 16);
  return parsed.ok() ? parsed.value() : nullptr;
}

namespace {

using Poco::JSON::Object;

bool isCountryCode(const std::string& c) {
  return c.size() == 2 && std::isalpha(static_cast<unsigned char>(c[0])) &&
         std::isalpha(static_cast<unsigned char>(c[1]));
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The headquarters among `locations` (locationType HEADQUARTERS), else the first.
void readHeadquarters(const Object& o, Organization& out) {
  const auto locations = o.getArray("locations");
  if (!locations) return;
  Object::Ptr chosen;
  for (std::size_t i = 0; i < locations->size(); ++i) {
    const auto l = locations->getObject(static_cast<unsigned>(i));
    if (!l) continue;
    if (!chosen) chosen = l;
    if (jsonText(*l, "locationType") == "HEADQUARTERS") {
      chosen = l;
      break;
    }
  }
  if (!chosen) return;
  const auto address = chosen->getObject("address");
  if (!address) return;
  const std::string country = jsonText(*address, "country");
  if (isCountryCode(country)) out.hq_country = upper(country);
  out.hq_city = jsonText(*address, "city");
}

long long industryId(const std::string& urn) {
  static const std::string kPrefix = "urn:li:industry:";
  if (!urn.starts_with(kPrefix) || urn.size() == kPrefix.size() || urn.size() > kPrefix.size() + 9)
    return 0;
  long long id = 0;
  for (char c : urn.substr(kPrefix.size())) {
    if (c < '0' || c > '9') return 0;
    id = id * 10 + (c - '0');
  }
  return id;
}

}  // namespace

FinderAnswer readFinder(const std::string& body, Access access) {
  FinderAnswer answer;
  try {
    const auto root = parseObject(body);
    if (!root) {
      answer.error = "the answer is not the JSON of a finder";
      return answer;
    }
    const auto elements = root->getArray("elements");
    if (!elements) {
      answer.error = "the answer has no elements";
      return answer;
    }
    answer.ok = true;
    if (elements->size() == 0) return answer;
    const auto o = elements->getObject(0);
    if (!o || !o->has("id")) {
      answer.ok = false;
      answer.error = "the organization has no id";
      return answer;
    }
    Organization org;
    org.id = o->getValue<long long>("id");
    org.name = jsonText(*o, "localizedName");
    org.vanity_name = jsonText(*o, "vanityName");
    org.website = jsonText(*o, "localizedWebsite");
    readHeadquarters(*o, org);
    if (access == Access::kAdmin) {
      if (const auto industries = o->getArray("industries")) {
        for (std::size_t i = 0; i < industries->size(); ++i) {
          const auto v = industries->get(static_cast<unsigned>(i));
          if (v.isString()) {
            if (const long long id = industryId(v.extract<std::string>())) {
              org.industries.push_back(id);
            }
          }
        }
      }
      org.staff_count_range = jsonText(*o, "staffCountRange");
    }
    answer.organization = std::move(org);
  } catch (const std::exception& e) {
    answer.ok = false;
    answer.error = "the answer is not the JSON of a finder";
  }
  return answer;
}

std::optional<std::string> readIndustryName(const std::string& body, const std::string& locale) {
  try {
    const auto root = parseObject(body);
    const auto name = root ? root->getObject("name") : nullptr;
    if (!name) return std::nullopt;
    if (const auto localized = name->getObject("localized")) {
      if (const std::string wanted = jsonText(*localized, locale); !wanted.empty()) return wanted;
      for (const auto& [key, value] : *localized) {
        if (value.isString() && !value.extract<std::string>().empty())
          return value.extract<std::string>();
      }
    }
    if (const std::string value = jsonText(*name, "value"); !value.empty()) return value;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

std::string staffBand(std::string_view range) {
  static const std::pair<std::string_view, std::string_view> kBands[] = {
      {"SIZE_1", "1"},
      {"SIZE_2_TO_10", "2-10"},
      {"SIZE_11_TO_50", "11-50"},
      {"SIZE_51_TO_200", "51-200"},
      {"SIZE_201_TO_500", "201-500"},
      {"SIZE_501_TO_1000", "501-1000"},
      {"SIZE_1001_TO_5000", "1001-5000"},
      {"SIZE_5001_TO_10000", "5001-10000"},
      {"SIZE_10001_OR_MORE", "10001+"},
  };
  for (const auto& [name, band] : kBands) {
    if (name == range) return std::string(band);
  }
  return {};
}

std::map<std::string, std::string> profileFields(const Organization& o,
                                                 const std::string& industryName) {
  std::map<std::string, std::string> fields;
  auto put = [&](const char* name, const std::string& value) {
    if (!value.empty()) fields[name] = value;
  };
  put("company", o.name);
  if (o.website.starts_with("https://") || o.website.starts_with("http://"))
    put("website", o.website);
  put("country", o.hq_country);
  put("city", o.hq_city);
  put("employees_range", staffBand(o.staff_count_range));
  put("industry", industryName);
  return fields;
}

std::string errorSummary(int status, const std::string& body) {
  std::string out = "LinkedIn answered " + std::to_string(status);
  try {
    const auto root = parseObject(body);
    if (root) {
      const std::string code = jsonText(*root, "code");
      const std::string message = jsonText(*root, "message");
      if (!code.empty()) out += " " + code;
      if (!message.empty()) out += ": " + message.substr(0, 200);
    }
  } catch (const std::exception&) {
  }
  return out;
}

std::string vanityNameOf(std::string_view url) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (url.starts_with(scheme)) url.remove_prefix(scheme.size());
  }
  for (std::string_view host : {"www.linkedin.com/company/", "linkedin.com/company/"}) {
    if (!url.starts_with(host)) continue;
    url.remove_prefix(host.size());
    const auto end = url.find_first_of("/?#");
    const std::string_view name = url.substr(0, end);
    if (name.empty() || name.size() > 100) return {};
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return {};
    }
    return std::string(name);
  }
  return {};
}

}  // namespace ciclo::plugins::linkedin
