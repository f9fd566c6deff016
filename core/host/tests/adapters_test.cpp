#include "host/adapters.h"

#include <gtest/gtest.h>

#include "ciclo/plugin.h"
#include "ciclo/text.h"

namespace ciclo::host {
namespace {

TEST(Idn, ConvertsInternationalDomains) {
  Idn2DomainEncoder idn;
  EXPECT_EQ(idn.toAscii("bücher.de").value(), "xn--bcher-kva.de");
  EXPECT_EQ(idn.toAscii("BÜCHER.de").value(), "xn--bcher-kva.de");
  EXPECT_FALSE(idn.toAscii("\xff\xfe.de").ok());
  EXPECT_FALSE(normalizeEmail("a@exa mple.cöm", idn).ok());
  auto email = normalizeEmail("  Kunde@Bücher.DE ", idn);
  ASSERT_TRUE(email.ok());
  EXPECT_EQ(email.value(), "kunde@xn--bcher-kva.de");
}

TEST(Phones, NormaliseToE164WithItalyAsDefault) {
  LibPhoneNumberNormalizer phones;
  EXPECT_EQ(phones.toE164("02 1234 5678", "IT").value(), "+390212345678");
  EXPECT_EQ(phones.toE164("+39 347 123 4567", "IT").value(), "+393471234567");
  EXPECT_EQ(phones.toE164("0039 347 1234567", "IT").value(), "+393471234567");
  EXPECT_EQ(phones.toE164("+44 20 7946 0958", "IT").value(), "+442079460958");
  EXPECT_FALSE(phones.toE164("123", "IT").ok());
  EXPECT_FALSE(phones.toE164("not a phone", "IT").ok());
  EXPECT_FALSE(phones.toE164(std::string(100, '1'), "IT").ok());
}

TEST(Crypto, HashesAndComparesInConstantTime) {
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(constantTimeEquals("abc", "abcd"));
  const std::uint8_t bytes[] = {0xfb, 0xff, 0x00};
  EXPECT_EQ(base64Url(bytes), "-_8A");
  EXPECT_EQ(base64Url(std::span(bytes, 1)), "-w");
}

TEST(Clock, MovesForwardOnlyWhenAsked) {
  SystemClock clock;
  const auto before = clock.now();
  clock.advanceForTest(std::chrono::hours(25));
  EXPECT_GE(clock.now() - before, std::chrono::hours(25));
}

// The SDK's helpers agree with the host's own, so plugins write what the host writes.
TEST(Sdk, TimestampsKeysAndTextAsTheHostHasThem) {
  using std::chrono::milliseconds;
  for (const long long ms : {0LL, 1614265330123LL, 1795449422157LL, 4102444799999LL}) {
    const Timestamp t{milliseconds(ms)};
    EXPECT_EQ(sdk::rfc3339(t), formatTimestamp(t));
  }
  EXPECT_TRUE(sdk::isKey("demo-request_2"));
  EXPECT_FALSE(sdk::isKey(""));
  EXPECT_FALSE(sdk::isKey("Demo"));
  EXPECT_FALSE(sdk::isKey(std::string(65, 'a')));
  EXPECT_EQ(sdk::trimmed(" \t a b \r\n"), "a b");
  EXPECT_EQ(sdk::trimmed(" \n "), "");
  EXPECT_TRUE(sdk::isOneLine("Anna Maria \xC3\xA8"));
  EXPECT_FALSE(sdk::isOneLine("a\nb"));
  EXPECT_FALSE(sdk::isOneLine(std::string("a\0b", 3)));
  EXPECT_FALSE(sdk::isOneLine("\xC3"));
  const auto busy = sdk::problem(sdk::Error{sdk::ErrorKind::kRetryable, "busy", {}, {}});
  EXPECT_EQ(busy.status, 503);
  ASSERT_EQ(busy.headers.size(), 1u);
  EXPECT_EQ(busy.headers[0], (std::pair<std::string, std::string>{"Retry-After", "1"}));
}

}  // namespace
}  // namespace ciclo::host
