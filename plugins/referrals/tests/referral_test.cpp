// Partners' settings and referrals as partners send them, before anything is stored.

#include "referral.h"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include "partner.h"

namespace ciclo::plugins::referrals {
namespace {

Partner acme() {
  Partner p;
  p.key = "acme";
  p.name = "Acme Consulting";
  p.owner = "anna.bianchi";
  p.secrets.push_back({"1", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ""});
  return p;
}

Poco::Dynamic::Var json(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text);
}

TEST(Partner, SecretsAreWhsecAndEnoughRandomBytes) {
  EXPECT_TRUE(isWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
  EXPECT_FALSE(isWebhookSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")) << "no prefix";
  EXPECT_FALSE(isWebhookSecret("whsec_c2hvcnQ=")) << "too short";
  EXPECT_FALSE(isWebhookSecret("whsec_not base64 at all!!"));
  EXPECT_FALSE(isWebhookSecret("whsec_"));
  EXPECT_TRUE(checkPartner(acme()).empty());
}

TEST(Partner, TheAdminApiChangesOnlySettingsAndNamesItsErrors) {
  Partner p = acme();
  auto o = json(R"({"name":"Acme S.p.A.","quality":80,"owner":null})")
               .extract<Poco::JSON::Object::Ptr>();
  ASSERT_TRUE(applyPartnerJson(p, *o).ok());
  EXPECT_EQ(p.name, "Acme S.p.A.");
  EXPECT_EQ(p.quality, 80);
  EXPECT_EQ(p.owner, "");

  auto bad = json(R"({"quality":101,"secrets":["whsec_x"],"colour":"red","name":7})")
                 .extract<Poco::JSON::Object::Ptr>();
  Partner q = acme();
  auto st = applyPartnerJson(q, *bad);
  ASSERT_FALSE(st.ok());
  std::vector<std::string> fields;
  for (const auto& e : st.error().fields) fields.push_back(e.field);
  EXPECT_NE(std::find(fields.begin(), fields.end(), "/secrets"), fields.end());
  EXPECT_NE(std::find(fields.begin(), fields.end(), "/colour"), fields.end());
  EXPECT_NE(std::find(fields.begin(), fields.end(), "/name"), fields.end());

  auto shown = partnerToJson(acme());
  std::ostringstream out;
  shown->stringify(out);
  EXPECT_EQ(out.str().find("whsec_"), std::string::npos) << "a secret is never shown again";
}

TEST(Referral, AJsonItemBecomesALeadWithThePartnersAttribution) {
  const Partner p = acme();
  const auto r = referralFromJson(json(R"({"external_id":" A-17 ","email":"anna@rossi.it",
      "first_name":"Anna","note":"wants a demo","consent_marketing":true,"fax":"0321"})"),
                                  p);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.external_id, "A-17");
  EXPECT_EQ(r.lead.email, "anna@rossi.it");
  EXPECT_EQ(r.lead.needs, "wants a demo");
  EXPECT_EQ(r.lead.source, "referral");
  EXPECT_EQ(r.lead.partner, "acme");
  EXPECT_EQ(r.lead.owner, "anna.bianchi");
  EXPECT_TRUE(r.lead.consent_granted);
  EXPECT_NE(r.lead.consent_text.find("Acme Consulting"), std::string::npos);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].field, "fax");
}

TEST(Referral, WrongTypesAndAMissingExternalIdAreErrorsOfTheItem) {
  const Partner p = acme();
  EXPECT_FALSE(referralFromJson(json("[1]"), p).errors.empty());
  EXPECT_FALSE(referralFromJson(Poco::Dynamic::Var(std::string("x")), p).errors.empty());
  const auto r =
      referralFromJson(json(R"({"email":["a@b.it"],"consent_marketing":"yes","phone":1})"), p);
  std::vector<std::string> fields;
  for (const auto& e : r.errors) fields.push_back(e.field);
  EXPECT_EQ(fields,
            (std::vector<std::string>{"consent_marketing", "email", "phone", "external_id"}));
  EXPECT_FALSE(referralFromJson(json(R"({"external_id":"a\nb"})"), p).errors.empty());
  EXPECT_FALSE(referralFromJson(json("{\"external_id\":\"" + std::string(201, 'x') + "\"}"), p)
                   .errors.empty());
  EXPECT_TRUE(referralFromJson(json(R"({"external_id":"1","email":null})"), p).errors.empty());
}

TEST(Referral, ACsvRowReadsItsColumnsAndWarnsOnlyAboutUnknownOnesWithData) {
  const Partner p = acme();
  const std::vector<std::string> header{"external_id", "email", "consent_marketing", "fax"};
  const auto r = referralFromRow(header, {"9", "x@y.it", "Sì", ""}, p);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_TRUE(r.lead.consent_granted);
  EXPECT_EQ(referralFromRow(header, {"9", "x@y.it", "no", "1"}, p).warnings.size(), 1u);
  EXPECT_FALSE(referralFromRow(header, {"9", "x@y.it", "maybe", ""}, p).errors.empty());
  EXPECT_FALSE(referralFromRow(header, {"9", "x@y.it"}, p).errors.empty()) << "short row";
}

}  // namespace
}  // namespace ciclo::plugins::referrals
