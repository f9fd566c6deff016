#pragma once
// The crypto service: sealing secrets at rest (AES-256-GCM under the master key), HMAC
// signatures, base64 and random tokens. Plugins reach these through the SDK; nothing else
// in Ciclo calls OpenSSL for them.

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "domain/clock.h"
#include "domain/result.h"

namespace ciclo::host {

struct SecretsConfig;

class Crypto {
 public:
  explicit Crypto(std::array<std::uint8_t, 32> masterKey, RandomSource& random);

  // Loads the master key: CICLO_MASTER_KEY-style base64 text if given, else the key file
  // (32 random bytes, base64), created with mode 0600 when allowed and missing.
  static Result<std::array<std::uint8_t, 32>> loadMasterKey(const std::string& keyText,
                                                            const std::string& keyFile,
                                                            bool createIfMissing,
                                                            RandomSource& random);

  // "v1." + base64url(nonce | ciphertext | tag); a fresh nonce every time.
  std::string seal(std::string_view plaintext) const;
  Result<std::string> open(std::string_view sealed) const;

  std::string randomBytes(std::size_t n) const;
  // "whsec_" + base64 of 24 random bytes, as Standard Webhooks secrets are written.
  std::string newWebhookSecret() const;

  static std::string hmacSha256(std::string_view key, std::string_view data);
  static std::string base64(std::string_view bytes);
  static Result<std::string> base64Decode(std::string_view text);
  // The Standard Webhooks signature header value "v1,<base64 HMAC-SHA256>" over
  // "{id}.{timestamp}.{body}", keyed with the decoded part of a whsec_ secret.
  static Result<std::string> standardWebhookSignature(std::string_view secret, std::string_view id,
                                                      std::int64_t timestamp,
                                                      std::string_view body);
  // Verifies a Standard Webhooks request: any one "v1,<sig>" of the space-separated list
  // matching is enough, compared in constant time; the timestamp (Unix seconds) must be
  // within `tolerance` of `now`, either way. Failures are kUnauthorized.
  static Status verifyStandardWebhook(std::string_view secret, std::string_view id,
                                      std::string_view timestamp, std::string_view signatures,
                                      std::string_view body, std::chrono::seconds tolerance,
                                      Timestamp now);

 private:
  std::array<std::uint8_t, 32> key_;
  RandomSource& random_;
};

}  // namespace ciclo::host
