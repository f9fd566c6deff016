// The SMTP connector against a real SMTP server (the smtp-server npm package), with what
// arrives parsed by mailparser: STARTTLS with a verified certificate, AUTH, the relay's
// answers (4xx, 5xx hard and soft, a connection dropped before the 250) and timeouts.

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <gtest/gtest.h>

#include "e2e/smtp_peer.h"
#include "smtp/smtp_client.h"

namespace ciclo::testing {
namespace {

using connectors::OutgoingMail;
using connectors::SmtpClient;
using connectors::SmtpOutcome;
using connectors::SmtpSettings;
using Kind = SmtpOutcome::Kind;

class SmtpConnector : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(peer_.port(), 0)
        << "the SMTP server did not start (is node installed and npm ci run?)";
  }
  SmtpSettings settings() const {
    SmtpSettings s;
    s.host = "localhost";
    s.port = peer_.port();
    s.tls = SmtpSettings::Tls::kStartTls;
    s.ca_file = peer_.caFile();
    s.username = peer_.user();
    s.password = peer_.password();
    s.helo = "ciclo.test";
    s.connect_timeout = std::chrono::seconds(5);
    s.command_timeout = std::chrono::seconds(10);
    s.data_timeout = std::chrono::seconds(10);
    return s;
  }
  static OutgoingMail mail(const std::string& id = "<e1.ciclo@mail.example.com>") {
    OutgoingMail m;
    m.message_id = id;
    m.from = "Ciclo Marketing <marketing@example.com>";
    m.envelope_from = "bounces@example.com";
    m.to = "anna@example.it";
    m.to_name = "Anna Bianchi";
    m.subject = "Novità per Anna";
    m.text = "Ciao Anna,\n.riga che inizia col punto\nhttps://example.com/guida\n";
    m.html = "<p>Ciao <b>Anna</b></p>";
    m.headers = {{"List-Unsubscribe", "<https://ciclo.example/u/tok>, <mailto:u@example.com>"},
                 {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}};
    return m;
  }
  // Every attempt of one email carries the time it was written.
  SmtpOutcome send(const SmtpSettings& s, const OutgoingMail& m = mail()) const {
    return SmtpClient(s).send(m, written_);
  }

  SmtpPeer peer_;
  const std::chrono::system_clock::time_point written_ = std::chrono::system_clock::now();
};

TEST_F(SmtpConnector, SendsOverStartTlsWithAuth) {
  const auto out = send(settings());
  ASSERT_EQ(out.kind, Kind::kSent) << out.detail;
  EXPECT_EQ(out.code, 250);
  auto got = peer_.waitFor(1);
  ASSERT_EQ(got->size(), 1u);
  auto m = got->getObject(0);
  EXPECT_TRUE(m->getValue<bool>("secure"));
  EXPECT_EQ(m->getValue<std::string>("user"), peer_.user());
  EXPECT_EQ(m->getValue<std::string>("mail_from"), "bounces@example.com");
  EXPECT_EQ(m->getArray("rcpt_to")->getElement<std::string>(0), "anna@example.it");
  EXPECT_EQ(m->getValue<std::string>("message_id"), "<e1.ciclo@mail.example.com>");
  EXPECT_EQ(m->getValue<std::string>("subject"), "Novità per Anna");
  EXPECT_NE(m->getValue<std::string>("raw").find("To: Anna Bianchi <anna@example.it>\r\n"),
            std::string::npos);
  EXPECT_NE(m->getValue<std::string>("to").find("Anna Bianchi"), std::string::npos);
  EXPECT_EQ(m->getValue<std::string>("text"),
            "Ciao Anna,\n.riga che inizia col punto\nhttps://example.com/guida\n");
  EXPECT_EQ(m->getValue<std::string>("html"), "<p>Ciao <b>Anna</b></p>");
  EXPECT_NE(
      m->getValue<std::string>("raw").find("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
      std::string::npos);
}

TEST_F(SmtpConnector, WrongPasswordIsRetriedAndSendsNothing) {
  auto s = settings();
  s.password = "not-the-password";
  const auto out = send(s);
  EXPECT_EQ(out.kind, Kind::kRetry);
  EXPECT_EQ(out.detail.find("not-the-password"), std::string::npos);
  EXPECT_EQ(peer_.received()->size(), 0u);
}

TEST_F(SmtpConnector, AnUntrustedCertificateIsRefused) {
  auto s = settings();
  s.ca_file.clear();  // the system's trust store does not know the test's certificate
  const auto out = send(s);
  EXPECT_EQ(out.kind, Kind::kRetry);
  EXPECT_NE(out.detail.find("TLS"), std::string::npos) << out.detail;
  EXPECT_EQ(peer_.received()->size(), 0u);
}

TEST_F(SmtpConnector, RepliesBecomeRetriesAndBounces) {
  peer_.plan(R"(["defer","reject-hard","reject-soft"])");
  auto deferred = send(settings(), mail("<e2@mail.example.com>"));
  EXPECT_EQ(deferred.kind, Kind::kRetry);
  EXPECT_EQ(deferred.code, 451);
  EXPECT_EQ(deferred.enhanced, "4.3.0");
  auto hard = send(settings(), mail("<e3@mail.example.com>"));
  EXPECT_EQ(hard.kind, Kind::kBounce);
  EXPECT_EQ(hard.code, 550);
  EXPECT_EQ(hard.enhanced, "5.1.1");
  EXPECT_TRUE(hard.hard);
  auto soft = send(settings(), mail("<e4@mail.example.com>"));
  EXPECT_EQ(soft.kind, Kind::kBounce);
  EXPECT_EQ(soft.code, 552);
  EXPECT_FALSE(soft.hard);
}

TEST_F(SmtpConnector, AResendAfterADroppedConnectionKeepsTheMessageId) {
  peer_.plan(R"(["drop"])");
  const auto first = send(settings(), mail("<same.1@mail.example.com>"));
  EXPECT_EQ(first.kind, Kind::kRetry) << first.detail;
  const auto second = send(settings(), mail("<same.1@mail.example.com>"));
  EXPECT_EQ(second.kind, Kind::kSent) << second.detail;
  auto got = peer_.waitFor(2);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(got->getObject(0)->getValue<std::string>("message_id"), "<same.1@mail.example.com>");
  EXPECT_EQ(got->getObject(1)->getValue<std::string>("message_id"), "<same.1@mail.example.com>");
  EXPECT_EQ(got->getObject(0)->getValue<std::string>("raw"),
            got->getObject(1)->getValue<std::string>("raw"));
}

TEST_F(SmtpConnector, HeaderInjectionIsRefusedBeforeConnecting) {
  auto m = mail();
  m.subject = "Hello\r\nBcc: everyone@example.com";
  const auto out = send(settings(), m);
  EXPECT_EQ(out.kind, Kind::kInvalid);
  EXPECT_EQ(peer_.received()->size(), 0u);
}

TEST_F(SmtpConnector, ARelayThatNeverAnswersTimesOut) {
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
  auto s = settings();
  s.port = silent.address().port();
  s.command_timeout = std::chrono::milliseconds(300);
  const auto started = std::chrono::steady_clock::now();
  const auto out = send(s);
  EXPECT_EQ(out.kind, Kind::kRetry);
  EXPECT_NE(out.detail.find("in time"), std::string::npos) << out.detail;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(SmtpConnectorPlain, WithoutTlsOrAuthOnLoopback) {
  SmtpPeer peer({.tls = false, .auth = false});
  ASSERT_GT(peer.port(), 0);
  SmtpSettings s;
  s.host = "127.0.0.1";
  s.port = peer.port();
  s.tls = SmtpSettings::Tls::kNone;
  OutgoingMail m;
  m.message_id = "<plain.1@mail.example.com>";
  m.from = "marketing@example.com";
  m.to = "anna@example.it";
  m.subject = "Plain";
  m.text = "Only text.";
  const auto out = SmtpClient(s).send(m, std::chrono::system_clock::now());
  ASSERT_EQ(out.kind, Kind::kSent) << out.detail;
  auto got = peer.waitFor(1);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_FALSE(got->getObject(0)->getValue<bool>("secure"));
  EXPECT_EQ(got->getObject(0)->getValue<std::string>("text"), "Only text.\n");
}

}  // namespace
}  // namespace ciclo::testing
