#include "host/adapters.h"

#include <idn2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <phonenumbers/phonenumberutil.h>

#include <cstdlib>
#include <stdexcept>

namespace ciclo::host {

Timestamp SystemClock::now() const {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()) +
         std::chrono::milliseconds(offset_ms_.load());
}

void OpenSslRandom::fill(std::span<std::uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    // Without randomness no id or key is safe to hand out.
    throw std::runtime_error("the system's random generator failed");
  }
}

Result<std::string> Idn2DomainEncoder::toAscii(std::string_view utf8Domain) const {
  if (utf8Domain.size() > 1024) return Error::invalid("the domain is too long");
  char* out = nullptr;
  const std::string in(utf8Domain);
  const int rc = idn2_to_ascii_8z(in.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc != IDN2_OK) return Error::invalid(idn2_strerror(rc));
  std::string ascii(out);
  idn2_free(out);
  for (auto& c : ascii) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ascii;
}

Result<std::string> LibPhoneNumberNormalizer::toE164(std::string_view raw,
                                                     std::string_view defaultRegion) const {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  if (raw.size() > 64) return Error::invalid("is too long for a phone number");
  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util.Parse(std::string(raw), std::string(defaultRegion), &number) !=
      PhoneNumberUtil::NO_PARSING_ERROR) {
    return Error::invalid("is not a phone number");
  }
  if (!util.IsValidNumber(number)) return Error::invalid("is not a valid phone number");
  std::string e164;
  util.Format(number, PhoneNumberUtil::E164, &e164);
  return e164;
}

std::string sha256Hex(std::string_view data) {
  // Fetched once: EVP_sha256() makes OpenSSL 3 look the implementation up at every digest,
  // under a lock that every request thread shares.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, kSha256, nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

std::string base64Url(std::span<const std::uint8_t> data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == data.size()) {
    const unsigned v = data[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == data.size()) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ciclo::host
