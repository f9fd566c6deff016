// Standard Webhooks verification on hostile headers. The input is the webhook-id, the
// webhook-timestamp and the webhook-signature header values, one per line, then the body.
// Properties: what is accepted carries the right signature among its entries, for a time
// inside the tolerance; a right signature is accepted wherever it stands among hostile
// entries; and that same header is refused for a body one byte off.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz.h"
#include "host/crypto.h"

using ciclo::Timestamp;
using ciclo::host::Crypto;

namespace {

constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::int64_t kNow = 1'790'000'000;
constexpr std::chrono::seconds kTolerance{300};

std::string_view line(std::string_view& rest) {
  const auto eol = rest.find('\n');
  const std::string_view out = rest.substr(0, eol);
  rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
  return out;
}

bool hasEntry(std::string_view header, std::string_view entry) {
  std::size_t start = 0;
  while (start <= header.size()) {
    auto space = header.find(' ', start);
    if (space == std::string_view::npos) space = header.size();
    if (header.substr(start, space - start) == entry) return true;
    start = space + 1;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const std::string_view id = line(rest);
  const std::string_view timestamp = line(rest);
  const std::string_view signatures = line(rest);
  const std::string_view body = rest;
  const Timestamp now{std::chrono::seconds(kNow)};

  const auto verdict =
      Crypto::verifyStandardWebhook(kSecret, id, timestamp, signatures, body, kTolerance, now);
  if (verdict.ok()) {
    const std::int64_t ts = std::stoll(std::string(timestamp));
    FUZZ_CHECK(ts >= kNow - kTolerance.count() && ts <= kNow + kTolerance.count());
    const auto expected = Crypto::standardWebhookSignature(kSecret, id, ts, body);
    FUZZ_CHECK(expected.ok());
    FUZZ_CHECK(hasEntry(signatures, expected.value()));
  }
  if (id.empty()) return 0;

  // The right signature among the hostile entries, first and last.
  const std::string ts = std::to_string(kNow);
  const auto right = Crypto::standardWebhookSignature(kSecret, id, kNow, body);
  FUZZ_CHECK(right.ok());
  for (const std::string& header : {right.value() + " " + std::string(signatures),
                                    std::string(signatures) + " " + right.value()}) {
    FUZZ_CHECK(Crypto::verifyStandardWebhook(kSecret, id, ts, header, body, kTolerance, now).ok());
    std::string other(body);
    if (other.empty())
      other = "x";
    else
      other[other.size() / 2] = static_cast<char>(other[other.size() / 2] ^ 1);
    // Refused unless the hostile entries happen to sign that other body.
    const auto forOther = Crypto::standardWebhookSignature(kSecret, id, kNow, other);
    if (!hasEntry(signatures, forOther.value())) {
      FUZZ_CHECK(
          !Crypto::verifyStandardWebhook(kSecret, id, ts, header, other, kTolerance, now).ok());
    }
  }
  return 0;
}
