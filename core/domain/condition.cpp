#include "domain/condition.h"

#include <algorithm>
#include <array>
#include <utility>

#include "domain/identity.h"

namespace ciclo {

namespace {

using Kind = LeadCondition::Kind;

constexpr std::array<std::pair<Kind, std::string_view>, 10> kKinds{{
    {Kind::kIndustry, "industry"},
    {Kind::kEmployees, "employees"},
    {Kind::kRevenue, "annual_revenue"},
    {Kind::kCountry, "country"},
    {Kind::kJobTitle, "job_title"},
    {Kind::kSource, "source"},
    {Kind::kPersona, "persona"},
    {Kind::kEmailDomain, "email_domain"},
    {Kind::kFreeMail, "free_mail"},
    {Kind::kPartner, "partner"},
}};

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

// The words of a text, lower-cased: runs of letters and digits. Bytes of multi-byte UTF-8
// characters count as letters, so "Direttore Qualità" has the words "direttore" and
// "qualità" (accented capitals are compared as written).
std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u >= 0x80) {
      word += lower(c);
    } else if (!word.empty()) {
      out.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

// True when the words of `phrase` occur in `title` one after another.
bool containsPhrase(const std::vector<std::string>& title, const std::vector<std::string>& phrase) {
  if (phrase.empty() || phrase.size() > title.size()) return false;
  return std::search(title.begin(), title.end(), phrase.begin(), phrase.end()) != title.end();
}

bool within(std::int64_t value, const std::optional<std::int64_t>& min,
            const std::optional<std::int64_t>& max) {
  return (!min || value >= *min) && (!max || value <= *max);
}

bool oneOf(const std::vector<std::string>& values, std::string_view v) {
  return !v.empty() && std::find(values.begin(), values.end(), v) != values.end();
}

std::string_view emailDomain(std::string_view email) {
  const auto at = email.rfind('@');
  return at == std::string_view::npos ? std::string_view() : email.substr(at + 1);
}

// `domain` is `parent` or a subdomain of it.
bool underDomain(std::string_view domain, std::string_view parent) {
  if (domain.size() < parent.size() || !domain.ends_with(parent)) return false;
  return domain.size() == parent.size() || domain[domain.size() - parent.size() - 1] == '.';
}

}  // namespace

std::optional<LeadCondition::Kind> leadConditionKindFrom(std::string_view name) {
  for (const auto& [kind, text] : kKinds) {
    if (text == name) return kind;
  }
  return std::nullopt;
}

std::string leadConditionKindNames() {
  std::string out;
  for (const auto& [kind, text] : kKinds) out += (out.empty() ? "" : ", ") + std::string(text);
  return out;
}

std::string LeadCondition::name() const {
  for (const auto& [k, text] : kKinds) {
    if (k == kind) return std::string(text);
  }
  return {};
}

bool LeadCondition::matches(const Lead& lead) const {
  const LeadProfile& profile = lead.profile;
  switch (kind) {
    case Kind::kIndustry:
      return !profile.industry.empty() &&
             std::any_of(values.begin(), values.end(), [&](const std::string& v) {
               return equalsIgnoringCase(v, profile.industry);
             });
    case Kind::kCountry:
      return oneOf(values, profile.country);
    case Kind::kSource:
      return oneOf(values, toString(lead.first_touch.source));
    case Kind::kPersona:
      return oneOf(values, lead.persona);
    case Kind::kPartner:
      return oneOf(values, lead.first_touch.partner);
    case Kind::kEmployees: {
      if (profile.employees) return within(*profile.employees, min, max);
      // Only a band is known: it matches when every size in it would.
      const auto band = employeesBand(profile.employees_range);
      return band && within(band->min, min, max) &&
             (band->max ? within(*band->max, min, max) : !max.has_value());
    }
    case Kind::kRevenue:
      return profile.annual_revenue && profile.annual_revenue->currency() == currency &&
             within(profile.annual_revenue->minor(), min, max);
    case Kind::kJobTitle: {
      const auto title = words(profile.job_title);
      return std::any_of(values.begin(), values.end(),
                         [&](const std::string& v) { return containsPhrase(title, words(v)); });
    }
    case Kind::kEmailDomain: {
      const auto domain = emailDomain(profile.email);
      return !domain.empty() && std::any_of(values.begin(), values.end(),
                                            [&](const auto& v) { return underDomain(domain, v); });
    }
    case Kind::kFreeMail: {
      const auto domain = emailDomain(profile.email);
      return !domain.empty() && isFreeMailDomain(domain);
    }
  }
  return false;
}

std::vector<FieldError> checkCondition(const LeadCondition& c, const std::string& at) {
  std::vector<FieldError> errors;
  const bool ranged = c.kind == Kind::kEmployees || c.kind == Kind::kRevenue;
  if (ranged) {
    if (!c.min && !c.max) errors.push_back({at + "min", "a range needs min, max or both"});
    if (c.min && c.max && *c.min > *c.max)
      errors.push_back({at + "max", "must not be less than min"});
    if ((c.min && *c.min < 0) || (c.max && *c.max < 0))
      errors.push_back({at + "min", "a range is of amounts from 0"});
    if (!c.values.empty())
      errors.push_back({at + "values", "a range takes min and max, not values"});
  } else {
    if (c.kind == Kind::kFreeMail) {
      if (!c.values.empty()) errors.push_back({at + "values", "free_mail takes no values"});
    } else if (c.values.empty() || std::any_of(c.values.begin(), c.values.end(),
                                               [](const std::string& v) { return v.empty(); })) {
      errors.push_back({at + "values", "must list at least one value, none of them empty"});
    }
    if (c.min || c.max)
      errors.push_back({at + "min", "only employees and annual_revenue are ranges"});
  }
  if (c.kind == Kind::kRevenue &&
      (c.currency.size() != 3 || !std::all_of(c.currency.begin(), c.currency.end(),
                                              [](char ch) { return ch >= 'A' && ch <= 'Z'; }))) {
    errors.push_back({at + "currency", "must be an ISO 4217 code, e.g. EUR"});
  }
  if (c.kind == Kind::kSource) {
    for (const auto& v : c.values) {
      if (!leadSourceFrom(v))
        errors.push_back(
            {at + "values", "a source is one of web_form, referral, import, manual, email, api"});
    }
  }
  if (c.kind == Kind::kJobTitle) {
    for (const auto& v : c.values) {
      if (!v.empty() && words(v).empty())
        errors.push_back({at + "values", "a keyword needs a letter or a digit"});
    }
  }
  if (c.kind == Kind::kEmailDomain) {
    for (const auto& v : c.values) {
      if (v.find('@') != std::string::npos || v.find('.') == std::string::npos ||
          v != std::string(trim(v)) ||
          std::any_of(v.begin(), v.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; }))
        errors.push_back({at + "values", "an email domain is written as example.com, lower case"});
    }
  }
  return errors;
}

}  // namespace ciclo
