#include "host/crypto.h"

#include <gtest/gtest.h>

#include "host/adapters.h"

namespace ciclo::host {
namespace {

std::array<std::uint8_t, 32> key(std::uint8_t fill) {
  std::array<std::uint8_t, 32> k{};
  k.fill(fill);
  return k;
}

TEST(Crypto, SealedSecretsOpenOnlyWithTheirKeyAndIntact) {
  OpenSslRandom random;
  Crypto crypto(key(7), random);
  const std::string sealed = crypto.seal("whsec_secret");
  EXPECT_TRUE(sealed.starts_with("v1."));
  EXPECT_EQ(sealed.find("whsec_secret"), std::string::npos);
  EXPECT_NE(crypto.seal("whsec_secret"), sealed) << "a fresh nonce every time";
  EXPECT_EQ(crypto.open(sealed).value(), "whsec_secret");
  Crypto other(key(8), random);
  EXPECT_FALSE(other.open(sealed).ok());
  std::string tampered = sealed;
  tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(crypto.open(tampered).ok());
  EXPECT_FALSE(crypto.open("v2.abc").ok());
  EXPECT_FALSE(crypto.open("v1.!!").ok());
}

// The example from the Standard Webhooks specification.
TEST(Crypto, StandardWebhookSignatureMatchesTheSpecificationExample) {
  auto sig = Crypto::standardWebhookSignature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                              "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                              R"({"test": 2432232314})");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig.value(), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  EXPECT_FALSE(Crypto::standardWebhookSignature("MfKQ9r8G", "m", 1, "{}").ok());
}

TEST(Crypto, StandardWebhookVerificationTakesAnyListedSignatureWithinTolerance) {
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const std::string id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
  const std::string body = R"({"test": 2432232314})";
  const std::string good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
  const Timestamp at{std::chrono::seconds(1614265330)};
  const auto five = std::chrono::minutes(5);
  auto verify = [&](const std::string& ts, const std::string& sigs, const std::string& b,
                    Timestamp now) {
    return Crypto::verifyStandardWebhook(secret, id, ts, sigs, b, five, now).ok();
  };
  EXPECT_TRUE(verify("1614265330", good, body, at));
  EXPECT_TRUE(verify("1614265330", "v1,b2xkLWtleQ== " + good, body, at)) << "rotation";
  EXPECT_TRUE(verify("1614265330", "v2,abc " + good + " v1a,xyz", body, at));
  EXPECT_TRUE(verify("1614265330", good, body, at + five)) << "at the edge";
  EXPECT_TRUE(verify("1614265330", good, body, at - five));
  EXPECT_FALSE(verify("1614265330", good, body, at + five + std::chrono::seconds(1))) << "stale";
  EXPECT_FALSE(verify("1614265330", good, body, at - five - std::chrono::seconds(1)))
      << "from the future";
  EXPECT_FALSE(verify("1614265330", good, body + " ", at)) << "tampered body";
  EXPECT_FALSE(verify("1614265331", good, body, at)) << "tampered timestamp";
  EXPECT_FALSE(verify("1614265330", "v1," + good.substr(3, 20), body, at)) << "truncated";
  EXPECT_FALSE(verify("1614265330", good.substr(3), body, at)) << "no version";
  EXPECT_FALSE(verify("", good, body, at));
  EXPECT_FALSE(verify("-1614265330", good, body, at));
  EXPECT_FALSE(verify("16142653300000000", good, body, at));
  EXPECT_FALSE(verify("1614265330", "", body, at));
  EXPECT_FALSE(
      Crypto::verifyStandardWebhook("whsec_b3RoZXI=", id, "1614265330", good, body, five, at).ok())
      << "another secret";
  EXPECT_FALSE(
      Crypto::verifyStandardWebhook(secret, "msg_other", "1614265330", good, body, five, at).ok());
}

TEST(Crypto, MasterKeyComesFromTextOrAFileMadeOnce) {
  OpenSslRandom random;
  const std::string file =
      ::testing::TempDir() + "ciclo-master-" + std::to_string(::getpid()) + ".key";
  std::remove(file.c_str());
  EXPECT_FALSE(Crypto::loadMasterKey("", file, false, random).ok());
  auto made = Crypto::loadMasterKey("", file, true, random);
  ASSERT_TRUE(made.ok()) << made.error().message;
  auto again = Crypto::loadMasterKey("", file, false, random);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(made.value(), again.value());
  const std::string text = Crypto::base64(std::string(32, 'k'));
  EXPECT_EQ(Crypto::loadMasterKey(text, "", false, random).value(), key('k'));
  EXPECT_FALSE(Crypto::loadMasterKey(Crypto::base64("short"), "", false, random).ok());
  std::remove(file.c_str());
}

}  // namespace
}  // namespace ciclo::host
