#include "domain/condition.h"

#include <gtest/gtest.h>

namespace ciclo {
namespace {

using Kind = LeadCondition::Kind;

LeadCondition when(Kind kind, std::vector<std::string> values) {
  LeadCondition c;
  c.kind = kind;
  c.values = std::move(values);
  return c;
}

Lead withEmail(std::string email) {
  Lead lead;
  lead.profile.email = std::move(email);
  return lead;
}

TEST(Conditions, EmailDomainsMatchTheDomainAndItsSubdomains) {
  const auto competitor = when(Kind::kEmailDomain, {"rivale.it"});
  EXPECT_TRUE(competitor.matches(withEmail("anna@rivale.it")));
  EXPECT_TRUE(competitor.matches(withEmail("anna@sales.rivale.it")));
  EXPECT_FALSE(competitor.matches(withEmail("anna@nonrivale.it")));
  EXPECT_FALSE(competitor.matches(withEmail("")));
}

TEST(Conditions, FreeMailIsTheProvidersList) {
  const auto free = when(Kind::kFreeMail, {});
  EXPECT_TRUE(free.matches(withEmail("mario.rossi@gmail.com")));
  EXPECT_TRUE(free.matches(withEmail("mario@libero.it")));
  EXPECT_FALSE(free.matches(withEmail("mario@officine-rossi.it")));
  EXPECT_FALSE(free.matches(withEmail("")));  // no email: nothing known
}

TEST(Conditions, PersonaAndPartnerAreTheLeadsOwn) {
  Lead lead;
  lead.persona = "plant_manager";
  lead.first_touch.partner = "acme";
  EXPECT_TRUE(when(Kind::kPersona, {"craft_owner", "plant_manager"}).matches(lead));
  EXPECT_TRUE(when(Kind::kPartner, {"acme"}).matches(lead));
  EXPECT_FALSE(when(Kind::kPartner, {"other"}).matches(lead));
  EXPECT_FALSE(when(Kind::kPersona, {"x"}).matches(Lead{}));
  Lead direct;  // no partner: a partner condition never matches it
  EXPECT_FALSE(when(Kind::kPartner, {"acme"}).matches(direct));
}

TEST(Conditions, AnEmployeesBandMatchesOnlyWhenAllOfItIsWithin) {
  LeadCondition mid;
  mid.kind = Kind::kEmployees;
  mid.min = 50;
  mid.max = 500;
  LeadCondition large;
  large.kind = Kind::kEmployees;
  large.min = 1000;
  auto sized = [](std::string band, std::optional<std::int64_t> exact = std::nullopt) {
    Lead lead;
    lead.profile.employees_range = std::move(band);
    lead.profile.employees = exact;
    return lead;
  };
  EXPECT_TRUE(mid.matches(sized("51-200")));
  EXPECT_TRUE(mid.matches(sized("201-500")));
  EXPECT_FALSE(mid.matches(sized("11-50")));     // 11..49 would not
  EXPECT_FALSE(mid.matches(sized("501-1000")));  // partly beyond
  EXPECT_FALSE(mid.matches(sized("10001+")));
  EXPECT_TRUE(large.matches(sized("10001+")));
  EXPECT_TRUE(large.matches(sized("1001-5000")));
  EXPECT_FALSE(large.matches(sized("junk")));
  EXPECT_FALSE(mid.matches(sized("")));
  EXPECT_FALSE(mid.matches(sized("51-200", 20)));  // the exact figure someone entered wins
  EXPECT_TRUE(large.matches(sized("51-200", 2000)));
}

TEST(Conditions, AreCheckedFieldByField) {
  EXPECT_EQ(checkCondition(when(Kind::kFreeMail, {"gmail.com"}), "r."),
            (std::vector<FieldError>{{"r.values", "free_mail takes no values"}}));
  EXPECT_EQ(checkCondition(when(Kind::kEmailDomain, {"Rivale.it", "x@y.it", "nodot"}), "r."),
            (std::vector<FieldError>(
                3, {"r.values", "an email domain is written as example.com, lower case"})));
  EXPECT_TRUE(checkCondition(when(Kind::kEmailDomain, {"rivale.it"}), "").empty());
  EXPECT_TRUE(checkCondition(when(Kind::kFreeMail, {}), "").empty());
  EXPECT_EQ(
      checkCondition(when(Kind::kPartner, {}), ""),
      (std::vector<FieldError>{{"values", "must list at least one value, none of them empty"}}));
}

}  // namespace
}  // namespace ciclo
