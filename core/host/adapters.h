#pragma once
// The host's implementations of what the domain asks through interfaces: the clock
// (controllable in tests), randomness (OpenSSL), IDN (libidn2), phone numbers
// (libphonenumber), and the hashing the host needs for keys and idempotency.

#include <atomic>
#include <string>

#include "domain/clock.h"
#include "domain/identity.h"

namespace ciclo::host {

// The system clock plus an offset that a test may move forward, when the configuration's
// testing.clock_control is on. Never set in the shipped configuration.
class SystemClock : public Clock {
 public:
  Timestamp now() const override;
  void advanceForTest(std::chrono::milliseconds by) { offset_ms_ += by.count(); }

 private:
  std::atomic<long long> offset_ms_{0};
};

class OpenSslRandom : public RandomSource {
 public:
  void fill(std::span<std::uint8_t> out) override;
};

class Idn2DomainEncoder : public DomainEncoder {
 public:
  Result<std::string> toAscii(std::string_view utf8Domain) const override;
};

class LibPhoneNumberNormalizer : public PhoneNormalizer {
 public:
  Result<std::string> toE164(std::string_view raw, std::string_view defaultRegion) const override;
};

std::string sha256Hex(std::string_view data);
std::string base64Url(std::span<const std::uint8_t> data);
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace ciclo::host
