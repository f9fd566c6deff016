#include "domain/identity.h"

#include <gtest/gtest.h>

namespace ciclo {
namespace {

// A stand-in that knows one IDN, so the domain's own rules are tested without the library.
class OneIdn : public DomainEncoder {
 public:
  Result<std::string> toAscii(std::string_view d) const override {
    if (d == "bücher.de" || d == "BÜCHER.de") return std::string("xn--bcher-kva.de");
    return Error::invalid("not an IDN");
  }
};

TEST(Email, NormalisesCaseWhitespaceAndIdn) {
  OneIdn idn;
  EXPECT_EQ(normalizeEmail("  Anna.Rossi@Example.IT \t", idn).value(), "anna.rossi@example.it");
  EXPECT_EQ(normalizeEmail("kunde@bücher.de", idn).value(), "kunde@xn--bcher-kva.de");
  EXPECT_EQ(normalizeEmail("o'brien+tag@sub.example.co.uk", idn).value(),
            "o'brien+tag@sub.example.co.uk");
}

TEST(Email, RefusesMalformedAddresses) {
  OneIdn idn;
  for (const char* bad :
       {"", "   ", "anna", "@example.it", "anna@", "anna@localhost", "an..na@example.it",
        ".anna@example.it", "anna.@example.it", "an na@example.it", "anna@exa mple.it",
        "anna@-example.it", "anna@example..it", "anna<script>@example.it", "a\r\nb@example.it",
        "anna@ünknown.example", "anna@example.it\x01"}) {
    EXPECT_FALSE(normalizeEmail(bad, idn).ok()) << bad;
  }
  EXPECT_FALSE(normalizeEmail(std::string(65, 'a') + "@example.it", idn).ok());
  EXPECT_FALSE(normalizeEmail("a@" + std::string(250, 'b') + ".it", idn).ok());
}

TEST(CompanyDomain, FromBusinessEmailsAndWebsitesOnly) {
  EXPECT_EQ(companyDomainOfEmail("anna@rossi-carrelli.it"), "rossi-carrelli.it");
  EXPECT_EQ(companyDomainOfEmail("anna@gmail.com"), "");
  EXPECT_EQ(companyDomainOfEmail("anna@libero.it"), "");
  EXPECT_EQ(companyDomainOfWebsite("https://www.Rossi-Carrelli.it/chi-siamo?x=1"),
            "rossi-carrelli.it");
  EXPECT_EQ(companyDomainOfWebsite("rossi.it"), "rossi.it");
  EXPECT_EQ(companyDomainOfWebsite("http://user@rossi.it:8080/"), "rossi.it");
  EXPECT_EQ(companyDomainOfWebsite("not a site"), "");
  EXPECT_EQ(companyDomainOfWebsite("https://gmail.com"), "");
}

}  // namespace
}  // namespace ciclo
