#pragma once
// LinkedIn's Organization Lookup API as the enrichment reads it (Community Management API,
// versioned under /rest): the finders `q=emailDomain` and `q=vanityName` of /organizations,
// and the industry taxonomy for industry names. A lookup that does not need the member to
// administer the organization returns only id, name, localizedName, localizedWebsite,
// vanityName, logoV2, locations and primaryOrganizationType; industries and
// staffCountRange come only with administrator access. The access level configured decides
// which fields are read: a field the level does not return is never taken, even if present.

#include <Poco/JSON/Object.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ciclo::plugins::linkedin {

enum class Access { kMember, kAdmin };

struct Organization {
  long long id = 0;
  std::string name;
  std::string vanity_name;
  std::string website;
  std::string hq_country;  // ISO 3166 alpha-2, of the headquarters
  std::string hq_city;
  std::vector<long long> industries;  // ids of urn:li:industry:{id}; administrator access only
  std::string staff_count_range;      // "SIZE_51_TO_200"; administrator access only

  std::string urn() const { return "urn:li:organization:" + std::to_string(id); }
};

// What a finder answered: the first organization of `elements`, none when it is empty, or
// an error when the body is not a finder answer.
struct FinderAnswer {
  bool ok = false;
  std::optional<Organization> organization;
  std::string error;
};
FinderAnswer readFinder(const std::string& body, Access access);

// The name of an industry from the taxonomy's answer ({"id":4,"name":{"localized":
// {"en_US":"Software Development"}}}), in `locale` or else the first one given.
std::optional<std::string> readIndustryName(const std::string& body, const std::string& locale);

// LinkedIn's staff count ranges as bands of employees: "SIZE_51_TO_200" -> "51-200",
// "SIZE_10001_OR_MORE" -> "10001+", "SIZE_1" -> "1"; "" for anything else.
std::string staffBand(std::string_view range);

// The lead profile fields an organization fills (company, website, country, city,
// employees_range, industry), by field name; empty values left out.
std::map<std::string, std::string> profileFields(const Organization& o,
                                                 const std::string& industryName);

// A LinkedIn error body ({"status":429,"serviceErrorCode":101,"code":"TOO_MANY_REQUESTS",
// "message":"..."}) as one short line for logs and answers.
std::string errorSummary(int status, const std::string& body);

// JSON text - LinkedIn's answers, the host's events and documents, the plugin's own rows - as
// an object, read as the host reads request bodies (valid UTF-8, at most 16 levels deep, no
// member named twice); null when it is not one.
Poco::JSON::Object::Ptr parseObject(const std::string& text);

// The vanity name in a LinkedIn company page URL ("https://www.linkedin.com/company/acme/"
// -> "acme"), or "".
std::string vanityNameOf(std::string_view url);

}  // namespace ciclo::plugins::linkedin
