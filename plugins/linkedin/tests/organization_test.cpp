// Reading LinkedIn's Organization Lookup answers in the shapes its documentation gives:
// a finder's elements with the fields member access returns, the fuller organization of
// administrator access, the industry taxonomy, and error bodies.

#include "organization.h"

#include <gtest/gtest.h>

#include "ciclo/text.h"

namespace ciclo::plugins::linkedin {
namespace {

// An organization as administrator access returns it (member access leaves out industries,
// staffCountRange and the rest beyond id, name, localizedName, localizedWebsite, vanityName,
// logoV2, locations and primaryOrganizationType).
const char* kAdminAnswer = R"({
  "elements": [{
    "id": 1337,
    "name": {"localized": {"it_IT": "Officine Rossi"}, "preferredLocale": {"country": "IT", "language": "it"}},
    "localizedName": "Officine Rossi",
    "vanityName": "officine-rossi",
    "localizedWebsite": "https://www.officinerossi.it",
    "primaryOrganizationType": "NONE",
    "logoV2": {"original": "urn:li:digitalmediaAsset:C4D0BAQ"},
    "locations": [
      {"locationType": "OTHER", "address": {"country": "DE", "city": "München"}},
      {"locationType": "HEADQUARTERS", "address": {"country": "it", "city": "Bergamo", "geographicArea": "BG", "postalCode": "24121", "line1": "Via Roma 1"}, "streetAddressFieldState": "UNSET"}
    ],
    "industries": ["urn:li:industry:55", "urn:li:industry:4"],
    "staffCountRange": "SIZE_51_TO_200",
    "description": {"localized": {"it_IT": "Macchine utensili"}}
  }],
  "paging": {"count": 10, "start": 0, "links": []}
})";

TEST(Organizations, MemberAccessReadsOnlyWhatMemberAccessReturns) {
  const auto answer = readFinder(kAdminAnswer, Access::kMember);
  ASSERT_TRUE(answer.ok) << answer.error;
  ASSERT_TRUE(answer.organization);
  const auto& o = *answer.organization;
  EXPECT_EQ(o.urn(), "urn:li:organization:1337");
  EXPECT_EQ(o.name, "Officine Rossi");
  EXPECT_EQ(o.vanity_name, "officine-rossi");
  EXPECT_EQ(o.website, "https://www.officinerossi.it");
  EXPECT_EQ(o.hq_country, "IT");  // from the headquarters, not the first location
  EXPECT_EQ(o.hq_city, "Bergamo");
  EXPECT_TRUE(o.industries.empty());
  EXPECT_TRUE(o.staff_count_range.empty());
  EXPECT_EQ(profileFields(o, ""),
            (std::map<std::string, std::string>{{"city", "Bergamo"},
                                                {"company", "Officine Rossi"},
                                                {"country", "IT"},
                                                {"website", "https://www.officinerossi.it"}}));
}

TEST(Organizations, AdminAccessAddsIndustriesAndStaffCount) {
  const auto answer = readFinder(kAdminAnswer, Access::kAdmin);
  ASSERT_TRUE(answer.organization);
  EXPECT_EQ(answer.organization->industries, (std::vector<long long>{55, 4}));
  EXPECT_EQ(answer.organization->staff_count_range, "SIZE_51_TO_200");
  const auto fields = profileFields(*answer.organization, "Machinery Manufacturing");
  EXPECT_EQ(fields.at("employees_range"), "51-200");
  EXPECT_EQ(fields.at("industry"), "Machinery Manufacturing");
}

TEST(Organizations, NoElementsIsNoOrganizationAndOddAnswersAreErrors) {
  const auto none =
      readFinder(R"({"elements": [], "paging": {"count": 10, "start": 0}})", Access::kMember);
  EXPECT_TRUE(none.ok);
  EXPECT_FALSE(none.organization);
  for (const char* bad : {"", "[]", "{}", "not json", R"({"elements": [{"localizedName": "x"}]})",
                          R"({"elements": "x"})"}) {
    const auto answer = readFinder(bad, Access::kMember);
    EXPECT_FALSE(answer.ok) << bad;
    EXPECT_FALSE(answer.error.empty()) << bad;
  }
  // Read as the host reads bodies: a member named twice, invalid UTF-8 and nesting past 16
  // levels are not an answer either.
  const std::string deep = std::string(20, '[') + std::string(20, ']');
  for (const std::string& bad : {std::string(R"({"elements": [], "elements": [{"id": 1}]})"),
                                 std::string("{\"elements\": [], \"x\": \"\xff\"}"),
                                 R"({"elements": [], "x": )" + deep + "}"}) {
    const auto answer = readFinder(bad, Access::kMember);
    EXPECT_FALSE(answer.ok) << bad;
    EXPECT_EQ(answer.error, "the answer is not the JSON of a finder") << bad;
  }
  // Fields of the wrong type or shape are left out, not trusted.
  const auto odd = readFinder(
      R"json({"elements": [{"id": 7, "localizedName": 12, "localizedWebsite": "javascript:alert(1)",
          "locations": [{"address": {"country": "Italy", "city": "Roma"}}],
          "industries": ["urn:li:industry:x", "urn:li:industry:", 5, "urn:li:industry:12"],
          "staffCountRange": "SIZE_HUGE"}]})json",
      Access::kAdmin);
  ASSERT_TRUE(odd.organization);
  EXPECT_EQ(odd.organization->industries, std::vector<long long>{12});
  EXPECT_EQ(profileFields(*odd.organization, ""),
            (std::map<std::string, std::string>{{"city", "Roma"}}));
}

TEST(Organizations, StaffCountRangesAreBands) {
  EXPECT_EQ(staffBand("SIZE_1"), "1");
  EXPECT_EQ(staffBand("SIZE_2_TO_10"), "2-10");
  EXPECT_EQ(staffBand("SIZE_11_TO_50"), "11-50");
  EXPECT_EQ(staffBand("SIZE_201_TO_500"), "201-500");
  EXPECT_EQ(staffBand("SIZE_501_TO_1000"), "501-1000");
  EXPECT_EQ(staffBand("SIZE_1001_TO_5000"), "1001-5000");
  EXPECT_EQ(staffBand("SIZE_5001_TO_10000"), "5001-10000");
  EXPECT_EQ(staffBand("SIZE_10001_OR_MORE"), "10001+");
  EXPECT_EQ(staffBand("size_1"), "");
  EXPECT_EQ(staffBand(""), "");
}

TEST(Organizations, IndustryNamesInTheLocaleWanted) {
  const char* answer =
      R"({"id": 4, "name": {"localized": {"it_IT": "Sviluppo di software", "en_US": "Software Development"}}})";
  EXPECT_EQ(readIndustryName(answer, "en_US"), "Software Development");
  EXPECT_EQ(readIndustryName(answer, "it_IT"), "Sviluppo di software");
  EXPECT_TRUE(readIndustryName(answer, "de_DE").has_value());  // another locale beats none
  EXPECT_EQ(readIndustryName(R"({"name": {"value": "Machinery"}})", "en_US"), "Machinery");
  EXPECT_FALSE(readIndustryName(R"({"id": 4})", "en_US"));
  EXPECT_FALSE(readIndustryName("<html>", "en_US"));
}

TEST(Organizations, ErrorBodiesBecomeOneLine) {
  EXPECT_EQ(
      errorSummary(
          429,
          R"({"status":429,"serviceErrorCode":101,"code":"TOO_MANY_REQUESTS","message":"Resource level throttle APPLICATION DAY limit for calls to this resource is reached."})"),
      "LinkedIn answered 429 TOO_MANY_REQUESTS: Resource level throttle APPLICATION DAY "
      "limit for calls to this resource is reached.");
  EXPECT_EQ(
      errorSummary(
          401,
          R"({"status":401,"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN","message":"Invalid access token"})"),
      "LinkedIn answered 401 INVALID_ACCESS_TOKEN: Invalid access token");
  EXPECT_EQ(errorSummary(502, "<html>Bad gateway</html>"), "LinkedIn answered 502");
}

TEST(Organizations, VanityNamesAndQueryValues) {
  EXPECT_EQ(vanityNameOf("https://www.linkedin.com/company/officine-rossi/"), "officine-rossi");
  EXPECT_EQ(vanityNameOf("http://linkedin.com/company/acme?trk=x"), "acme");
  EXPECT_EQ(vanityNameOf("https://www.linkedin.com/in/anna"), "");
  EXPECT_EQ(vanityNameOf("https://evil.com/company/acme"), "");
  EXPECT_EQ(vanityNameOf("https://www.linkedin.com/company/a%2fb"), "");
  EXPECT_EQ(sdk::percentEncode("rossi.it"), "rossi.it");  // as the finders' values are sent
  EXPECT_EQ(sdk::percentEncode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
}

}  // namespace
}  // namespace ciclo::plugins::linkedin
