// The SMTP connector's message composition and reply classification. Sending through a real
// SMTP server is tested in tests/e2e (smtp_connector_e2e_test.cpp).

#include "smtp/smtp_client.h"

#include <gtest/gtest.h>

#include "ciclo/mail.h"

namespace ciclo::connectors {
namespace {

using std::chrono::sys_days;
using namespace std::chrono_literals;

const auto kDate = sys_days{std::chrono::year{2026} / 11 / 24} + 9h + 5min;

OutgoingMail sample() {
  OutgoingMail m;
  m.message_id = "<n1.abc@mail.example.com>";
  m.from = "Ciclo Marketing <marketing@example.com>";
  m.to = "anna@example.it";
  m.to_name = "Anna Bianchi";
  m.subject = "Benvenuta, Anna";
  m.text = "Ciao Anna,\nla nostra guida.\n.una riga col punto\n";
  m.html = "<p>Ciao Anna</p>";
  m.headers = {{"List-Unsubscribe", "<https://x.example/u/t>, <mailto:u@example.com>"}};
  return m;
}

TEST(ComposeMail, HeadersAndBothParts) {
  const auto c = composeMail(sample(), kDate);
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_NE(c.text.find("Date: Tue, 24 Nov 2026 09:05:00 +0000\r\n"), std::string::npos);
  EXPECT_NE(c.text.find("From: Ciclo Marketing <marketing@example.com>\r\n"), std::string::npos);
  EXPECT_NE(c.text.find("To: Anna Bianchi <anna@example.it>\r\n"), std::string::npos);
  EXPECT_NE(c.text.find("Message-ID: <n1.abc@mail.example.com>\r\n"), std::string::npos);
  EXPECT_NE(c.text.find("List-Unsubscribe: <https://x.example/u/t>, <mailto:u@example.com>\r\n"),
            std::string::npos);
  EXPECT_NE(c.text.find("Content-Type: multipart/alternative; boundary="), std::string::npos);
  EXPECT_NE(c.text.find("Content-Type: text/plain; charset=UTF-8"), std::string::npos);
  EXPECT_NE(c.text.find("Content-Type: text/html; charset=UTF-8"), std::string::npos);
  // Every line ends in CRLF: no bare LF reaches the wire.
  for (std::size_t i = c.text.find('\n'); i != std::string::npos; i = c.text.find('\n', i + 1))
    ASSERT_EQ(c.text[i - 1], '\r') << "bare LF at " << i;
  // The same email composes to the same bytes, so a resend is the same message.
  EXPECT_EQ(composeMail(sample(), kDate).text, c.text);
  auto quoted = sample();
  quoted.to_name = "Bianchi, Anna";
  EXPECT_NE(composeMail(quoted, kDate).text.find("To: \"Bianchi, Anna\" <anna@example.it>"),
            std::string::npos);
}

TEST(ComposeMail, EncodesWhatIsNotAscii) {
  auto m = sample();
  m.subject = "Novità per te";
  m.to_name = "Zoë";
  m.html.clear();
  m.text = "Perché sì: è così.";
  const auto c = composeMail(m, kDate);
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_NE(c.text.find("Subject: =?UTF-8?"), std::string::npos);
  EXPECT_NE(c.text.find("To: =?UTF-8?"), std::string::npos);
  EXPECT_EQ(c.text.find("multipart"), std::string::npos);  // text only
  EXPECT_NE(c.text.find("Perch=C3=A9"), std::string::npos);
}

TEST(ComposeMail, RefusesHeaderInjection) {
  auto injected = [](auto change) {
    auto m = sample();
    change(m);
    return composeMail(m, kDate);
  };
  EXPECT_FALSE(injected([](OutgoingMail& m) { m.subject = "Hi\r\nBcc: all@example.com"; }).ok);
  EXPECT_FALSE(injected([](OutgoingMail& m) { m.subject = "Hi\nBcc: all@example.com"; }).ok);
  EXPECT_FALSE(injected([](OutgoingMail& m) { m.to_name = "Anna\rX"; }).ok);
  EXPECT_FALSE(injected([](OutgoingMail& m) { m.to = "a@example.it\r\nRCPT TO:<b@x.it>"; }).ok);
  EXPECT_FALSE(injected([](OutgoingMail& m) { m.from = "M <m@example.com>\nX: y"; }).ok);
  EXPECT_FALSE(injected([](OutgoingMail& m) { m.message_id = "<a@b>\r\nX: y"; }).ok);
  EXPECT_FALSE(injected([](OutgoingMail& m) { m.headers = {{"X-A", "v\r\nBcc: x@y.it"}}; }).ok);
  EXPECT_FALSE(injected([](OutgoingMail& m) { m.headers = {{"X-A: b", "v"}}; }).ok);
  EXPECT_FALSE(injected([](OutgoingMail& m) { m.subject = std::string("a\0b", 3); }).ok);
  const auto c = injected([](OutgoingMail& m) { m.subject = "Hi\r\nBcc: all@example.com"; });
  EXPECT_NE(c.error.find("CR, LF"), std::string::npos);
}

TEST(ComposeMail, RefusesMalformedAddressesAndIds) {
  auto m = sample();
  m.to = "not an address";
  EXPECT_FALSE(composeMail(m, kDate).ok);
  m = sample();
  m.from = "Marketing <marketing>";
  EXPECT_FALSE(composeMail(m, kDate).ok);
  m = sample();
  m.message_id = "no-brackets@example.com";
  EXPECT_FALSE(composeMail(m, kDate).ok);
  m = sample();
  m.text.clear();
  m.html.clear();
  EXPECT_FALSE(composeMail(m, kDate).ok);
}

TEST(MailAddress, PlainAddrSpecsOnly) {
  EXPECT_TRUE(isMailAddress("anna.bianchi+news@example.co.uk"));
  EXPECT_FALSE(isMailAddress("anna@localhost"));
  EXPECT_FALSE(isMailAddress("@example.com"));
  EXPECT_FALSE(isMailAddress("anna@"));
  EXPECT_FALSE(isMailAddress("an na@example.com"));
  EXPECT_FALSE(isMailAddress("<anna@example.com>"));
  EXPECT_FALSE(isMailAddress("anna@example..com"));
  EXPECT_FALSE(isMailAddress(std::string(65, 'a') + "@example.com"));
}

TEST(SmtpReplies, EnhancedStatusAndBounceKind) {
  EXPECT_EQ(sdk::enhancedStatus("5.1.1 No such user"), "5.1.1");
  EXPECT_EQ(sdk::enhancedStatus("4.3.0 Try again later"), "4.3.0");
  EXPECT_EQ(sdk::enhancedStatus("5.7.26 Unauthenticated email"), "5.7.26");
  EXPECT_EQ(sdk::enhancedStatus("No such user"), "");
  EXPECT_EQ(sdk::enhancedStatus("5.1 nope"), "");
  EXPECT_TRUE(sdk::isHardBounce(550, "5.1.1"));
  EXPECT_TRUE(sdk::isHardBounce(550, "5.1.10"));
  EXPECT_FALSE(sdk::isHardBounce(552, "5.2.2"));  // mailbox full
  EXPECT_FALSE(sdk::isHardBounce(550, "5.7.1"));  // policy
  EXPECT_TRUE(sdk::isHardBounce(550, ""));
  EXPECT_TRUE(sdk::isHardBounce(553, ""));
  EXPECT_FALSE(sdk::isHardBounce(554, ""));
}

TEST(SmtpClient, ATrustStoreThatCannotBeReadMakesEverySendARetryThatSaysWhy) {
  SmtpSettings s;
  s.port = 1;  // never reached
  s.tls = SmtpSettings::Tls::kStartTls;
  s.ca_file = "/nonexistent/ca.pem";
  const auto out = SmtpClient(s).send(sample(), kDate);
  EXPECT_EQ(out.kind, SmtpOutcome::Kind::kRetry);
  EXPECT_NE(out.detail.find("TLS with the relay cannot be set up"), std::string::npos)
      << out.detail;
}

}  // namespace
}  // namespace ciclo::connectors
