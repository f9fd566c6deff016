#include "domain/identity.h"

#include <algorithm>
#include <array>

namespace ciclo {

namespace {

bool isAtext(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  static constexpr std::string_view kSpecials = "!#$%&'*+/=?^_`{|}~-";
  return kSpecials.find(static_cast<char>(c)) != std::string_view::npos;
}

bool isLdh(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool validAsciiDomain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  std::size_t labels = 0, start = 0;
  while (start <= d.size()) {
    const auto dot = d.find('.', start);
    const auto label =
        d.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    if (!std::all_of(label.begin(), label.end(),
                     [](char c) { return isLdh(static_cast<unsigned char>(c)); }))
      return false;
    ++labels;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return labels >= 2;
}

// Consumer mailbox providers: their domain says nothing about the company.
constexpr std::array<std::string_view, 48> kFreeMail{
    "gmail.com",      "googlemail.com", "yahoo.com",     "yahoo.it",     "yahoo.co.uk",
    "yahoo.fr",       "yahoo.de",       "ymail.com",     "hotmail.com",  "hotmail.it",
    "hotmail.co.uk",  "hotmail.fr",     "outlook.com",   "outlook.it",   "live.com",
    "live.it",        "msn.com",        "icloud.com",    "me.com",       "mac.com",
    "aol.com",        "gmx.com",        "gmx.de",        "gmx.net",      "web.de",
    "protonmail.com", "proton.me",      "pm.me",         "yandex.com",   "yandex.ru",
    "mail.ru",        "zoho.com",       "tutanota.com",  "fastmail.com", "libero.it",
    "virgilio.it",    "alice.it",       "tin.it",        "tiscali.it",   "email.it",
    "inwind.it",      "iol.it",         "fastwebnet.it", "katamail.com", "aruba.it",
    "pec.it",         "legalmail.it",   "qq.com"};

}  // namespace

std::string_view trim(std::string_view s) {
  const auto ws = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
  };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

bool isFreeMailDomain(std::string_view d) {
  return std::find(kFreeMail.begin(), kFreeMail.end(), d) != kFreeMail.end();
}

Result<std::string> normalizeEmail(std::string_view raw, const DomainEncoder& domains) {
  const auto s = trim(raw);
  if (s.empty()) return Error::invalid("is empty");
  if (s.size() > 254 * 4) return Error::invalid("is too long");
  const auto at = s.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == s.size())
    return Error::invalid("is not an email address");
  const std::string local = lower(s.substr(0, at));
  if (local.size() > 64) return Error::invalid("has a local part longer than 64 characters");
  // dot-atom: atext runs separated by single dots, no leading or trailing dot.
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string::npos) {
    return Error::invalid("is not an email address");
  }
  for (unsigned char c : local) {
    if (c != '.' && !isAtext(c)) return Error::invalid("is not an email address");
  }
  const auto rawDomain = s.substr(at + 1);
  std::string domain;
  if (std::all_of(rawDomain.begin(), rawDomain.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
    domain = lower(rawDomain);
  } else {
    auto ascii = domains.toAscii(rawDomain);
    if (!ascii.ok()) return Error::invalid("has an invalid domain");
    domain = std::move(ascii).value();
  }
  if (!validAsciiDomain(domain)) return Error::invalid("has an invalid domain");
  std::string email = local + "@" + domain;
  if (email.size() > 254) return Error::invalid("is too long");
  return email;
}

std::string companyDomainOfEmail(std::string_view email) {
  const auto at = email.rfind('@');
  if (at == std::string_view::npos) return {};
  const auto domain = email.substr(at + 1);
  return isFreeMailDomain(domain) ? std::string() : std::string(domain);
}

std::string companyDomainOfWebsite(std::string_view website) {
  auto s = trim(website);
  if (const auto scheme = s.find("://"); scheme != std::string_view::npos)
    s.remove_prefix(scheme + 3);
  s = s.substr(0, s.find_first_of("/?#"));
  if (const auto userinfo = s.rfind('@'); userinfo != std::string_view::npos)
    s.remove_prefix(userinfo + 1);
  s = s.substr(0, s.find(':'));
  std::string host = lower(s);
  if (host.starts_with("www.")) host.erase(0, 4);
  if (!validAsciiDomain(host) || isFreeMailDomain(host)) return {};
  return host;
}

}  // namespace ciclo
