#include "host/crypto.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace ciclo::host {

namespace {

constexpr std::size_t kNonce = 12;
constexpr std::size_t kTag = 16;

std::string base64Encode(std::string_view bytes, int options) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out, options);
  encoder.rdbuf()->setLineLength(0);
  encoder.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  encoder.close();
  return out.str();
}

Result<std::string> base64DecodeWith(std::string_view text, int options) {
  for (char c : text) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=' ||
          c == '-' || c == '_')) {
      return Error::invalid("not base64");
    }
  }
  try {
    std::istringstream in{std::string(text)};
    Poco::Base64Decoder decoder(in, options);
    std::string out((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
    return out;
  } catch (const Poco::Exception&) {
    return Error::invalid("not base64");
  }
}

}  // namespace

Crypto::Crypto(std::array<std::uint8_t, 32> masterKey, RandomSource& random)
    : key_(masterKey), random_(random) {}

Result<std::array<std::uint8_t, 32>> Crypto::loadMasterKey(const std::string& keyText,
                                                           const std::string& keyFile,
                                                           bool createIfMissing,
                                                           RandomSource& random) {
  std::string text = keyText;
  if (text.empty()) {
    if (keyFile.empty())
      return Error::invalid("secrets: no master key (set secrets.master_key or master_key_file)");
    Poco::File file(keyFile);
    if (!file.exists()) {
      if (!createIfMissing)
        return Error::invalid("secrets.master_key_file: " + keyFile + " does not exist");
      std::array<std::uint8_t, 32> fresh{};
      random.fill(fresh);
      const Poco::Path parent = Poco::Path(keyFile).parent();
      if (!parent.toString().empty()) Poco::File(parent).createDirectories();
      const std::string tmp = keyFile + ".tmp";
      {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        ::chmod(tmp.c_str(), 0600);
        out << base64Encode(
                   std::string_view(reinterpret_cast<const char*>(fresh.data()), fresh.size()), 0)
            << "\n";
        if (!out) return Error::invalid("secrets.master_key_file: cannot write " + keyFile);
      }
      Poco::File(tmp).renameTo(keyFile);
    }
    std::ifstream in(keyFile);
    if (!in) return Error::invalid("secrets.master_key_file: cannot read " + keyFile);
    std::getline(in, text);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  auto decoded = base64DecodeWith(text, 0);
  if (!decoded.ok() || decoded.value().size() != 32) {
    return Error::invalid("secrets: the master key must be 32 bytes, base64-encoded");
  }
  std::array<std::uint8_t, 32> key{};
  std::copy(decoded.value().begin(), decoded.value().end(), key.begin());
  return key;
}

std::string Crypto::randomBytes(std::size_t n) const {
  std::string out(n, '\0');
  random_.fill(std::span(reinterpret_cast<std::uint8_t*>(out.data()), n));
  return out;
}

std::string Crypto::seal(std::string_view plaintext) const {
  const std::string nonce = randomBytes(kNonce);
  std::string out = nonce;
  out.resize(kNonce + plaintext.size() + kTag);
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  int len = 0;
  auto* cipher = reinterpret_cast<unsigned char*>(out.data() + kNonce);
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(),
                     reinterpret_cast<const unsigned char*>(nonce.data()));
  EVP_EncryptUpdate(ctx.get(), cipher, &len,
                    reinterpret_cast<const unsigned char*>(plaintext.data()),
                    static_cast<int>(plaintext.size()));
  EVP_EncryptFinal_ex(ctx.get(), cipher + len, &len);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag,
                      out.data() + kNonce + plaintext.size());
  return "v1." + base64Encode(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
}

Result<std::string> Crypto::open(std::string_view sealed) const {
  if (!sealed.starts_with("v1.")) return Error::internal("a sealed secret has an unknown format");
  auto raw =
      base64DecodeWith(sealed.substr(3), Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  if (!raw.ok() || raw.value().size() < kNonce + kTag)
    return Error::internal("a sealed secret is damaged");
  const std::string& data = raw.value();
  const std::size_t n = data.size() - kNonce - kTag;
  std::string plain(n, '\0');
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  int len = 0;
  EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(),
                     reinterpret_cast<const unsigned char*>(data.data()));
  EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len,
                    reinterpret_cast<const unsigned char*>(data.data() + kNonce),
                    static_cast<int>(n));
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag,
                      const_cast<char*>(data.data() + kNonce + n));
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &len) !=
      1) {
    return Error::internal("a sealed secret does not open with this master key");
  }
  return plain;
}

std::string Crypto::newWebhookSecret() const {
  return "whsec_" + base64(randomBytes(24));
}

std::string Crypto::hmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string Crypto::base64(std::string_view bytes) {
  return base64Encode(bytes, 0);
}

Result<std::string> Crypto::base64Decode(std::string_view text) {
  return base64DecodeWith(text, 0);
}

Result<std::string> Crypto::standardWebhookSignature(std::string_view secret, std::string_view id,
                                                     std::int64_t timestamp,
                                                     std::string_view body) {
  if (!secret.starts_with("whsec_")) return Error::invalid("a webhook secret starts with whsec_");
  auto key = base64Decode(secret.substr(6));
  if (!key.ok() || key.value().empty())
    return Error::invalid("a webhook secret is base64 after whsec_");
  std::string message;
  message.reserve(id.size() + body.size() + 24);
  message.append(id).append(".").append(std::to_string(timestamp)).append(".").append(body);
  return "v1," + base64(hmacSha256(key.value(), message));
}

Status Crypto::verifyStandardWebhook(std::string_view secret, std::string_view id,
                                     std::string_view timestamp, std::string_view signatures,
                                     std::string_view body, std::chrono::seconds tolerance,
                                     Timestamp now) {
  const Error unauthorized{
      ErrorKind::kUnauthorized, "the webhook signature is missing, wrong or stale", {}, {}};
  if (id.empty() || timestamp.empty() || signatures.empty() || timestamp.size() > 12)
    return unauthorized;
  std::int64_t ts = 0;
  for (char c : timestamp) {
    if (c < '0' || c > '9') return unauthorized;
    ts = ts * 10 + (c - '0');
  }
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (ts > secs + tolerance.count() || ts < secs - tolerance.count()) return unauthorized;
  auto expected = standardWebhookSignature(secret, id, ts, body);
  if (!expected.ok()) return unauthorized;
  const std::string_view want = std::string_view(expected.value()).substr(3);  // after "v1,"
  bool matched = false;
  std::size_t start = 0;
  while (start < signatures.size()) {
    auto space = signatures.find(' ', start);
    if (space == std::string_view::npos) space = signatures.size();
    const auto entry = signatures.substr(start, space - start);
    if (entry.starts_with("v1,")) {
      const auto given = entry.substr(3);
      // Every candidate is compared, so the time taken does not depend on which matched.
      matched |=
          given.size() == want.size() && CRYPTO_memcmp(given.data(), want.data(), want.size()) == 0;
    }
    start = space + 1;
  }
  return matched ? Status() : Status(unauthorized);
}

}  // namespace ciclo::host
