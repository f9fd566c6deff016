#pragma once
// Identity resolution: how the same person is recognised across captures. Emails are
// normalised (whitespace, case, internationalised domains to their ASCII form), phones to
// E.164, and a company is recognised by the domain of a business email or website.
// What needs a library (IDN, phone numbering plans) is asked through the interfaces below.

#include <string>
#include <string_view>

#include "domain/result.h"

namespace ciclo {

class DomainEncoder {
 public:
  virtual ~DomainEncoder() = default;
  // The ASCII (A-label) form of a UTF-8 domain name, lower case; an error when it is not a
  // valid internationalised domain name.
  virtual Result<std::string> toAscii(std::string_view utf8Domain) const = 0;
};

class PhoneNormalizer {
 public:
  virtual ~PhoneNormalizer() = default;
  // The E.164 form ("+390212345678") of a phone number as a person typed it; numbers without
  // a country code are read in `defaultRegion` (ISO 3166 alpha-2).
  virtual Result<std::string> toE164(std::string_view raw,
                                     std::string_view defaultRegion) const = 0;
};

// Trims, lower-cases, converts the domain to ASCII and checks the address's shape
// (RFC 5321 lengths, a dot-atom local part, a domain with at least two labels).
Result<std::string> normalizeEmail(std::string_view raw, const DomainEncoder& domains);

// The domain after '@' of a normalised email, or "" for a free-mail provider.
std::string companyDomainOfEmail(std::string_view normalizedEmail);
// The host of a website URL without "www.", lower case, or "" when it has none.
std::string companyDomainOfWebsite(std::string_view website);
bool isFreeMailDomain(std::string_view asciiDomain);

// Trims ASCII whitespace from both ends.
std::string_view trim(std::string_view s);

}  // namespace ciclo
