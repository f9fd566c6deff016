// Email nurturing end to end: the real daemon with the nurture plugin sends through a real
// SMTP server (the smtp-server npm package, STARTTLS and AUTH) and what arrives is parsed
// with mailparser. A lead with consent and a persona is enrolled and receives its email;
// opening and clicking it move its score across the sales-ready threshold, which stops the
// sequence. Consent, suppression, one-click unsubscribe, deferrals and bounces; and mail that
// comes back through POST /v1/mail/inbound: replies, delivery reports, complaints and mail to
// the unsubscribe address.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include <thread>

#include "e2e/nurture_rules.h"
#include "e2e/smtp_peer.h"
#include "integration/fixture.h"

namespace ciclo::testing {
namespace {

class Nurture : public DaemonTest {
 protected:
  DaemonOptions daemonOptions() override {
    DaemonOptions o;
    o.clock_control = true;
    o.extra_yaml =
        "profiling:\n  personas: " + std::string(CICLO_SOURCE_DIR) +
        "/config/personas.yaml\nscoring:\n  rules: " + files_.path("scoring.yaml") +
        "\nmail:\n  smtp:\n    host: localhost\n    port: " + std::to_string(peer_.port()) +
        "\n    tls: starttls\n    ca_file: " + peer_.caFile() + "\n    username: " + peer_.user() +
        "\n    password: " + peer_.password() +
        "\n    command_timeout_ms: 5000\nplugins:\n  - name: nurture\n    path: " +
        CICLO_PLUGIN_DIR + "/nurture.so\n    config: " + files_.path("nurture.yaml") + "\n";
    return o;
  }
  void SetUp() override {
    ASSERT_GT(peer_.port(), 0) << "the SMTP server did not start (is node installed?)";
    DaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    admin_ = daemon_->createKey("admin,nurture:read,nurture:write,leads:read", "ops");
    mta_ = daemon_->createKey("mail:inbound", "mta");
  }

  // A plant manager (config/personas.yaml) with marketing consent unless told otherwise.
  std::string capture(const std::string& email, bool consent = true) {
    std::string body = R"({"email":")" + email +
                       R"(","first_name":"Anna","last_name":"Bianchi","company":"Rossi & Figli",)"
                       R"("job_title":"Plant manager","industry":"Manufacturing","employees":250,)"
                       R"("country":"IT")";
    if (consent) {
      body += R"(,"consent":{"granted":true,"text":"Sì, voglio ricevere notizie via email.",)"
              R"("source":"web_form:landing","ip":"203.0.113.7"})";
    }
    auto r = post("/v1/leads", body + "}");
    EXPECT_EQ(r.status, 201) << r.body;
    return json(r.body)->getValue<std::string>("id");
  }
  Poco::JSON::Array::Ptr enrolments(const std::string& lead) {
    auto r = daemon_->call("GET", "/v1/nurture/enrolments?lead_id=" + lead, admin_);
    EXPECT_EQ(r.status, 200) << r.body;
    return json(r.body)->getArray("data");
  }
  // Waits until the lead's first enrolment satisfies `done`.
  Poco::JSON::Object::Ptr enrolmentWhen(const std::string& lead,
                                        const std::function<bool(Poco::JSON::Object&)>& done,
                                        int seconds = 20) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    Poco::JSON::Object::Ptr last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto list = enrolments(lead);
      if (list->size() > 0) {
        last = list->getObject(0);
        if (done(*last)) return last;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return last;
  }
  Poco::JSON::Object::Ptr firstEmail(Poco::JSON::Object::Ptr enrolment) {
    return enrolment && enrolment->getArray("emails")->size() > 0
               ? enrolment->getArray("emails")->getObject(0)
               : nullptr;
  }
  void advance(int seconds) {
    auto r = daemon_->advanceClock(admin_, seconds);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  long long score(const std::string& lead) {
    return json(get("/v1/leads/" + lead).body)->getValue<long long>("score");
  }

  // Hands a raw message to POST /v1/mail/inbound, as an MTA's pipe transport does.
  HttpResult deliver(const std::string& message, const std::string& query = "",
                     const std::string& key = "", const std::string& type = "message/rfc822") {
    return daemon_->request("POST", "/v1/mail/inbound" + query, message,
                            {{"Authorization", "Bearer " + (key.empty() ? mta_ : key)}}, type);
  }
  // The first email the SMTP server received, once it has.
  Poco::JSON::Object::Ptr firstReceived() {
    auto got = peer_.waitFor(1);
    EXPECT_EQ(got->size(), 1u) << daemon_->log();
    return got->size() ? got->getObject(0) : nullptr;
  }
  std::vector<std::string> interactionTypes(const std::string& lead) {
    std::vector<std::string> types;
    auto list = json(get("/v1/leads/" + lead + "/interactions").body)->getArray("data");
    for (std::size_t i = 0; i < list->size(); ++i)
      types.push_back(list->getObject(static_cast<unsigned>(i))->getValue<std::string>("type"));
    return types;
  }
  std::string suppressionReason(const std::string& email) {
    auto r = daemon_->call("GET", "/v1/nurture/suppressions?email=" + email, admin_);
    auto o = json(r.body);
    return o->isNull("reason") ? "" : o->getValue<std::string>("reason");
  }

  SmtpPeer peer_;
  TempFiles files_{{"scoring.yaml", kScoring}, {"nurture.yaml", kNurture}};
  std::string admin_, mta_;
};

TEST_P(Nurture, ALeadIsNurturedUntilItIsSalesReady) {
  const std::string lead = capture("anna.bianchi@rossi.example");
  auto got = peer_.waitFor(1);
  ASSERT_EQ(got->size(), 1u) << daemon_->log();
  auto mail = got->getObject(0);
  EXPECT_TRUE(mail->getValue<bool>("secure"));
  EXPECT_EQ(mail->getValue<std::string>("user"), peer_.user());
  EXPECT_EQ(mail->getValue<std::string>("mail_from"), "bounces@ciclo.test");
  EXPECT_EQ(mail->getArray("rcpt_to")->getElement<std::string>(0), "anna.bianchi@rossi.example");
  EXPECT_EQ(mail->getValue<std::string>("subject"), "Anna, la guida per Rossi & Figli");
  EXPECT_EQ(mail->getValue<std::string>("text"),
            "Buongiorno Anna, ecco la guida: https://example.com/guida");
  const std::string html = mail->getValue<std::string>("html");
  EXPECT_NE(html.find("Buongiorno Anna di Rossi &amp; Figli"), std::string::npos) << html;
  EXPECT_EQ(html.find("https://example.com/guida"), std::string::npos) << "the link is tracked";
  const std::string raw = mail->getValue<std::string>("raw");
  EXPECT_NE(raw.find("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), std::string::npos);
  EXPECT_NE(raw.find("List-Unsubscribe: <https://ciclo.test/u/"), std::string::npos);
  EXPECT_NE(raw.find("<mailto:unsubscribe@ciclo.test?subject=unsubscribe%20eml_"),
            std::string::npos);
  const std::string messageId = mail->getValue<std::string>("message_id");
  EXPECT_TRUE(messageId.starts_with("<eml_") && messageId.ends_with("@ciclo.test>")) << messageId;

  auto enrolment = enrolmentWhen(lead, [](Poco::JSON::Object& e) {
    auto emails = e.getArray("emails");
    return emails->size() > 0 && emails->getObject(0)->getValue<std::string>("status") == "sent";
  });
  ASSERT_TRUE(enrolment);
  EXPECT_EQ(enrolment->getValue<std::string>("sequence"), "welcome");
  EXPECT_EQ(firstEmail(enrolment)->getValue<std::string>("message_id"), messageId);
  const long long before = score(lead);

  // Opening shows the pixel and scores; opening again changes nothing.
  const std::string open = linkPath(html, "/t/o/");
  ASSERT_FALSE(open.empty()) << html;
  auto pixel = daemon_->request("GET", open);
  EXPECT_EQ(pixel.status, 200);
  EXPECT_EQ(pixel.header("content-type"), "image/gif");
  EXPECT_EQ(score(lead), before + 20);
  EXPECT_EQ(daemon_->request("GET", open).status, 200);
  EXPECT_EQ(score(lead), before + 20);

  // A tampered link leads nowhere.
  std::string tampered = open;
  tampered.back() = tampered.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(daemon_->request("GET", tampered).status, 404);

  // Clicking goes to the link that was in the email, and crosses the sales-ready threshold.
  const std::string click = linkPath(html, "/t/c/");
  ASSERT_FALSE(click.empty()) << html;
  auto redirect = daemon_->request("GET", click);
  EXPECT_EQ(redirect.status, 302);
  // To the link, with the visitor's token for the website's own tracking.
  const std::string location = redirect.header("location");
  EXPECT_TRUE(location.starts_with("https://example.com/guida?a=1&b=2&ciclo_t=" + lead + "."))
      << location;
  auto updated = json(get("/v1/leads/" + lead).body);
  EXPECT_EQ(updated->getValue<long long>("score"), before + 50);
  EXPECT_EQ(updated->getValue<std::string>("status"), "sales_ready");
  std::string otherLink = click;
  otherLink.replace(otherLink.find(".0."), 3, ".1.");
  EXPECT_EQ(daemon_->request("GET", otherLink).status, 404) << "only links that were in it";

  // The sequence stops: two days later nothing more is sent.
  auto stopped = enrolmentWhen(
      lead, [](Poco::JSON::Object& e) { return e.getValue<std::string>("status") == "stopped"; });
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->getValue<std::string>("stop_reason"), "sales_ready");
  advance(3 * 86400);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(peer_.received()->size(), 1u);

  auto interactions = json(get("/v1/leads/" + lead + "/interactions").body)->getArray("data");
  ASSERT_EQ(interactions->size(), 2u);
  EXPECT_EQ(interactions->getObject(0)->getValue<std::string>("type"), "email_opened");
  EXPECT_EQ(interactions->getObject(1)->getValue<std::string>("type"), "email_clicked");
  EXPECT_EQ(interactions->getObject(1)->getValue<std::string>("url"),
            "https://example.com/guida?a=1&b=2");
}

TEST_P(Nurture, TheNextStepWaitsForItsDelay) {
  const std::string lead = capture("delay@rossi.example");
  ASSERT_EQ(peer_.waitFor(1)->size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(peer_.received()->size(), 1u);
  advance(2 * 86400 + 60);
  auto got = peer_.waitFor(2);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(got->getObject(1)->getValue<std::string>("subject"), "Seguito");
  auto done = enrolmentWhen(
      lead, [](Poco::JSON::Object& e) { return e.getValue<std::string>("status") == "completed"; });
  ASSERT_TRUE(done);
  EXPECT_EQ(done->getArray("emails")->size(), 2u);
}

TEST_P(Nurture, NothingIsSentWithoutConsentOrToASuppressedAddress) {
  const std::string noConsent = capture("noconsent@rossi.example", false);
  auto r = daemon_->call("POST", "/v1/nurture/suppressions", admin_,
                         R"({"email":"suppressed@rossi.example","reason":"complaint"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(json(r.body)->getValue<bool>("suppressed"));
  const std::string suppressed = capture("suppressed@rossi.example");
  const std::string fine = capture("fine@rossi.example");
  ASSERT_EQ(peer_.waitFor(1)->size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto got = peer_.received();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->getObject(0)->getArray("rcpt_to")->getElement<std::string>(0),
            "fine@rossi.example");
  EXPECT_EQ(enrolments(noConsent)->size(), 0u);
  EXPECT_EQ(enrolments(suppressed)->size(), 0u);
  // Enrolling by hand is refused too, and says why.
  auto manual = daemon_->call("POST", "/v1/nurture/enrolments", admin_,
                              R"({"lead_id":")" + noConsent + R"(","sequence":"welcome"})");
  EXPECT_EQ(manual.status, 422) << manual.body;
  EXPECT_NE(manual.body.find("consent"), std::string::npos);
}

TEST_P(Nurture, OneClickUnsubscribeAndAPageThatDoesNotUnsubscribeByItself) {
  const std::string lead = capture("leave@rossi.example");
  auto got = peer_.waitFor(1);
  ASSERT_EQ(got->size(), 1u);
  const std::string raw = got->getObject(0)->getValue<std::string>("raw");
  const auto at = raw.find("List-Unsubscribe: <https://ciclo.test");
  ASSERT_NE(at, std::string::npos);
  const std::string path = raw.substr(at + 37, raw.find('>', at) - at - 37);

  auto page = daemon_->request("GET", path);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<form method=\"post\""), std::string::npos);
  auto consents = daemon_->call("GET", "/v1/nurture/consents?email=leave%40rossi.example", admin_);
  EXPECT_TRUE(json(consents.body)->getValue<bool>("consent")) << "a GET unsubscribes nobody";

  auto done = daemon_->request("POST", path, "List-Unsubscribe=One-Click", {},
                               "application/x-www-form-urlencoded");
  EXPECT_EQ(done.status, 200) << done.body;
  consents = daemon_->call("GET", "/v1/nurture/consents?email=leave%40rossi.example", admin_);
  auto ledger = json(consents.body);
  EXPECT_FALSE(ledger->getValue<bool>("consent"));
  auto entries = ledger->getArray("data");
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ(entries->getObject(0)->getValue<std::string>("action"), "grant");
  EXPECT_EQ(entries->getObject(0)->getValue<std::string>("text"),
            "Sì, voglio ricevere notizie via email.");
  EXPECT_EQ(entries->getObject(0)->getValue<std::string>("ip"), "203.0.113.7");
  EXPECT_EQ(entries->getObject(1)->getValue<std::string>("action"), "withdraw");
  auto suppression =
      daemon_->call("GET", "/v1/nurture/suppressions?email=leave%40rossi.example", admin_);
  EXPECT_EQ(json(suppression.body)->getValue<std::string>("reason"), "unsubscribed");
  auto stopped = enrolmentWhen(
      lead, [](Poco::JSON::Object& e) { return e.getValue<std::string>("status") == "stopped"; });
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->getValue<std::string>("stop_reason"), "unsubscribed");
  // Again: nothing more happens.
  EXPECT_EQ(daemon_
                ->request("POST", path, "List-Unsubscribe=One-Click", {},
                          "application/x-www-form-urlencoded")
                .status,
            200);
  EXPECT_EQ(
      json(daemon_->call("GET", "/v1/nurture/consents?email=leave%40rossi.example", admin_).body)
          ->getArray("data")
          ->size(),
      2u);
  advance(3 * 86400);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(peer_.received()->size(), 1u);
}

TEST_P(Nurture, ADeferredEmailIsSentAgainWithTheSameMessageId) {
  peer_.plan(R"(["defer","drop"])");
  const std::string lead = capture("later@rossi.example");
  auto deferred = enrolmentWhen(lead, [&](Poco::JSON::Object& e) {
    auto emails = e.getArray("emails");
    return emails->size() > 0 &&
           emails->getObject(0)->getValue<std::string>("status") == "retrying";
  });
  ASSERT_TRUE(deferred) << daemon_->log();
  EXPECT_EQ(firstEmail(deferred)->getValue<int>("last_code"), 451);
  advance(6 * 60);  // the first retry is due after 5 minutes: the connection drops
  ASSERT_EQ(peer_.waitFor(2)->size(), 2u);
  advance(16 * 60);  // the second after 15 more
  auto got = peer_.waitFor(3);
  ASSERT_EQ(got->size(), 3u);
  const std::string id = got->getObject(0)->getValue<std::string>("message_id");
  EXPECT_EQ(got->getObject(1)->getValue<std::string>("message_id"), id);
  EXPECT_EQ(got->getObject(2)->getValue<std::string>("message_id"), id);
  // The same bytes, Date included, though the daemon's clock moved between the attempts.
  EXPECT_EQ(got->getObject(1)->getValue<std::string>("raw"),
            got->getObject(0)->getValue<std::string>("raw"));
  EXPECT_EQ(got->getObject(2)->getValue<std::string>("raw"),
            got->getObject(0)->getValue<std::string>("raw"));
  auto sent = enrolmentWhen(lead, [](Poco::JSON::Object& e) {
    return e.getArray("emails")->getObject(0)->getValue<std::string>("status") == "sent";
  });
  ASSERT_TRUE(sent);
  EXPECT_EQ(firstEmail(sent)->getValue<int>("attempts"), 3);
}

TEST_P(Nurture, AHardBounceSuppressesTheAddressAndStopsTheSequence) {
  peer_.plan(R"(["reject-hard"])");
  const std::string lead = capture("nobody@rossi.example");
  auto stopped = enrolmentWhen(
      lead, [](Poco::JSON::Object& e) { return e.getValue<std::string>("status") == "stopped"; });
  ASSERT_TRUE(stopped) << daemon_->log();
  EXPECT_EQ(stopped->getValue<std::string>("stop_reason"), "bounced");
  EXPECT_EQ(firstEmail(stopped)->getValue<std::string>("status"), "bounced");
  EXPECT_EQ(firstEmail(stopped)->getValue<int>("last_code"), 550);
  auto suppression =
      daemon_->call("GET", "/v1/nurture/suppressions?email=nobody%40rossi.example", admin_);
  EXPECT_EQ(json(suppression.body)->getValue<std::string>("reason"), "hard_bounce");
  auto interactions = json(get("/v1/leads/" + lead + "/interactions").body)->getArray("data");
  ASSERT_EQ(interactions->size(), 1u);
  EXPECT_EQ(interactions->getObject(0)->getValue<std::string>("type"), "email_bounced");
}

TEST_P(Nurture, BadAdminRequestsAreRefusedAndChangeNothing) {
  const std::string lead = capture("admin@rossi.example");
  ASSERT_EQ(peer_.waitFor(1)->size(), 1u);
  auto call = [&](const std::string& method, const std::string& path, const std::string& body) {
    return daemon_->call(method, path, admin_, body);
  };
  auto fields = [](const HttpResult& r) {
    std::string out;
    if (auto errors = json(r.body)->getArray("errors")) {
      for (std::size_t i = 0; i < errors->size(); ++i)
        out += errors->getObject(i)->getValue<std::string>("field") + " ";
    }
    return out;
  };
  EXPECT_EQ(daemon_->request("GET", "/v1/nurture/sequences").status, 401);
  EXPECT_EQ(daemon_->call("GET", "/v1/nurture/sequences", reader_).status, 403);
  EXPECT_EQ(call("GET", "/v1/nurture/enrolments", "").status, 422);
  EXPECT_EQ(call("GET", "/v1/nurture/consents?email=%ZZ", "").status, 422);
  EXPECT_EQ(call("GET", "/v1/nurture/suppressions?email=", "").status, 422);

  EXPECT_EQ(call("POST", "/v1/nurture/enrolments", "{").status, 400);
  auto r = call("POST", "/v1/nurture/enrolments",
                R"({"lead_id":")" + lead + R"(","sequence":"nope","colour":"red"})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(fields(r), "/colour /sequence ");
  EXPECT_EQ(call("POST", "/v1/nurture/enrolments",
                 R"({"lead_id":"lead_00000000000000000000000000","sequence":"welcome"})")
                .status,
            404);
  r = call("POST", "/v1/nurture/enrolments",
           R"({"lead_id":")" + lead + R"(","sequence":"welcome"})");
  EXPECT_EQ(r.status, 409) << r.body;

  const std::string ledger = "/v1/nurture/consents?email=other%40rossi.example";
  r = call("POST", "/v1/nurture/consents", R"({"email":"x","action":"maybe","source":""})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(fields(r), "/email /action /source ");
  for (
      const std::string body : {
          R"({"email":"other@rossi.example","action":"grant","source":"call"})",
          R"({"email":"other@rossi.example","action":"grant","source":"call","text":"ok","at":"yesterday"})",
          R"({"email":"other@rossi.example","action":"grant","source":"call","text":"ok","at":"2026-02-30T10:00:00Z"})",
          R"({"email":"other@rossi.example","action":"grant","source":"call","text":"ok","at":"2999-01-01T00:00:00Z"})",
          R"({"email":"other@rossi.example","action":"grant","source":"ca\nll","text":"ok"})",
          R"({"email":"other@rossi.example","action":"grant","source":"call","text":7})",
      }) {
    EXPECT_EQ(call("POST", "/v1/nurture/consents", body).status, 422) << body;
  }
  EXPECT_EQ(json(call("GET", ledger, "").body)->getArray("data")->size(), 0u);

  EXPECT_EQ(call("POST", "/v1/nurture/suppressions", R"({"email":"nope"})").status, 422);
  EXPECT_EQ(call("POST", "/v1/nurture/suppressions",
                 R"({"email":"other@rossi.example","reason":"Bad Reason"})")
                .status,
            422);
  EXPECT_FALSE(json(call("GET", "/v1/nurture/suppressions?email=other%40rossi.example", "").body)
                   ->getValue<bool>("suppressed"));

  EXPECT_EQ(daemon_
                ->request("POST", "/u/eml_x.-.0123456789abcdef0123456789abcdef",
                          "List-Unsubscribe=One-Click", {}, "application/x-www-form-urlencoded")
                .status,
            404);
  EXPECT_EQ(daemon_->request("GET", "/t/c/not-a-token").status, 404);
}

TEST_P(Nurture, AReplyStopsTheSequenceAndLandsOnTheTimeline) {
  const std::string lead = capture("reply@rossi.example");
  auto sent = firstReceived();
  ASSERT_TRUE(sent);
  const std::string messageId = sent->getValue<std::string>("message_id");
  auto reply = [&](const std::string& id, const std::string& extra) {
    return "From: Anna Bianchi <reply@rossi.example>\r\nTo: marketing@ciclo.test\r\n"
           "Subject: Re: la guida\r\nMessage-ID: <" +
           id +
           "@mail.rossi.example>\r\n"
           "In-Reply-To: " +
           messageId + "\r\nReferences: " + messageId + "\r\n" + extra +
           "Content-Type: text/plain; charset=utf-8\r\n\r\nGrazie, chiamatemi domani.\r\n";
  };

  // An out-of-office answer is not the lead speaking: the sequence goes on.
  auto away = deliver(reply("ooo-1", "Auto-Submitted: auto-replied\r\n"));
  ASSERT_EQ(away.status, 200) << away.body;
  EXPECT_EQ(json(away.body)->getValue<std::string>("kind"), "auto_reply");
  EXPECT_EQ(enrolments(lead)->getObject(0)->getValue<std::string>("status"), "active");

  auto r = deliver(reply("reply-1", ""));
  ASSERT_EQ(r.status, 200) << r.body;
  auto answer = json(r.body);
  EXPECT_EQ(answer->getValue<std::string>("kind"), "reply");
  EXPECT_EQ(answer->getValue<std::string>("lead_id"), lead);
  EXPECT_FALSE(answer->getValue<bool>("duplicate"));
  auto enrolment = enrolments(lead)->getObject(0);
  EXPECT_EQ(enrolment->getValue<std::string>("status"), "stopped");
  EXPECT_EQ(enrolment->getValue<std::string>("stop_reason"), "replied");
  EXPECT_FALSE(firstEmail(enrolment)->isNull("replied_at"));
  auto interactions = json(get("/v1/leads/" + lead + "/interactions").body)->getArray("data");
  ASSERT_EQ(interactions->size(), 1u);
  EXPECT_EQ(interactions->getObject(0)->getValue<std::string>("type"), "email_replied");
  EXPECT_EQ(interactions->getObject(0)->getValue<std::string>("title"), "Re: la guida");

  // The MTA hands the same message over again: the first answer, nothing recorded twice.
  auto again = deliver(reply("reply-1", ""));
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(json(again.body)->getValue<bool>("duplicate"));
  EXPECT_EQ(json(again.body)->getValue<std::string>("id"), answer->getValue<std::string>("id"));
  EXPECT_EQ(interactionTypes(lead), std::vector<std::string>{"email_replied"});

  auto log = daemon_->call("GET", "/v1/nurture/inbound?kind=reply", admin_);
  ASSERT_EQ(log.status, 200) << log.body;
  auto entries = json(log.body)->getArray("data");
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ(entries->getObject(0)->getValue<std::string>("from"), "reply@rossi.example");
  advance(3 * 86400);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(peer_.received()->size(), 1u) << "the stopped sequence sends nothing more";
}

TEST_P(Nurture, ADeliveryReportBouncesTheEmailAndSuppressesTheAddress) {
  const std::string lead = capture("gone@rossi.example");
  auto sent = firstReceived();
  ASSERT_TRUE(sent);
  const std::string emailId = sent->getObject("headers")->getValue<std::string>("x-ciclo-email");
  enrolmentWhen(lead, [](Poco::JSON::Object& e) {
    auto emails = e.getArray("emails");
    return emails->size() > 0 && emails->getObject(0)->getValue<std::string>("status") == "sent";
  });
  // Postfix's report, days after the relay took the email.
  const std::string report =
      "From: MAILER-DAEMON@mx.ciclo.test (Mail Delivery System)\r\n"
      "To: bounces@ciclo.test\r\nSubject: Undelivered Mail Returned to Sender\r\n"
      "Auto-Submitted: auto-replied\r\nMessage-Id: <20261123.4A1B2@mx.ciclo.test>\r\n"
      "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n"
      "\tboundary=\"4A1B2/mx\"\r\n\r\n--4A1B2/mx\r\nContent-Type: text/plain\r\n\r\n"
      "Your message could not be delivered.\r\n\r\n--4A1B2/mx\r\n"
      "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.ciclo.test\r\n\r\n"
      "Final-Recipient: rfc822; gone@rossi.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
      "Diagnostic-Code: smtp; 550 5.1.1 <gone@rossi.example>: User unknown\r\n\r\n"
      "--4A1B2/mx\r\nContent-Type: text/rfc822-headers\r\n\r\n"
      "Message-ID: " +
      sent->getValue<std::string>("message_id") + "\r\nX-Ciclo-Email: " + emailId +
      "\r\n\r\n--4A1B2/mx--\r\n";
  // First the relay's warning that it is still trying: nothing changes.
  std::string delayed = report;
  for (auto [from, to] :
       {std::pair{"20261123.4A1B2@", "20261122.4A1B2@"},
        std::pair{"Action: failed\r\nStatus: 5.1.1", "Action: delayed\r\nStatus: 4.4.1"}})
    delayed.replace(delayed.find(from), std::string(from).size(), to);
  auto warning = deliver(delayed);
  ASSERT_EQ(warning.status, 200) << warning.body;
  EXPECT_EQ(json(warning.body)->getValue<std::string>("kind"), "delayed");
  EXPECT_EQ(enrolments(lead)->getObject(0)->getValue<std::string>("status"), "active");
  EXPECT_EQ(suppressionReason("gone%40rossi.example"), "");

  auto r = deliver(report);
  ASSERT_EQ(r.status, 200) << r.body;
  auto answer = json(r.body);
  EXPECT_EQ(answer->getValue<std::string>("kind"), "bounce");
  EXPECT_EQ(answer->getValue<std::string>("email_id"), emailId);
  EXPECT_EQ(answer->getValue<std::string>("detail"),
            "hard bounce 5.1.1: 550 5.1.1 <gone@rossi.example>: User unknown");
  auto enrolment = enrolments(lead)->getObject(0);
  EXPECT_EQ(enrolment->getValue<std::string>("stop_reason"), "bounced");
  EXPECT_EQ(firstEmail(enrolment)->getValue<std::string>("status"), "bounced");
  EXPECT_EQ(firstEmail(enrolment)->getValue<int>("last_code"), 550);
  EXPECT_EQ(suppressionReason("gone%40rossi.example"), "hard_bounce");
  EXPECT_EQ(interactionTypes(lead), std::vector<std::string>{"email_bounced"});
  EXPECT_TRUE(json(deliver(report).body)->getValue<bool>("duplicate"));
  EXPECT_EQ(interactionTypes(lead), std::vector<std::string>{"email_bounced"});
}

TEST_P(Nurture, MailToTheUnsubscribeAddressAndAComplaintUnsubscribe) {
  const std::string lead = capture("mailto@rossi.example");
  auto sent = firstReceived();
  ASSERT_TRUE(sent);
  const std::string raw = sent->getValue<std::string>("raw");
  const auto at = raw.find("mailto:unsubscribe@ciclo.test?subject=");
  ASSERT_NE(at, std::string::npos);
  std::string subject;
  Poco::URI::decode(raw.substr(at + 38, raw.find('>', at) - at - 38), subject);
  // The envelope recipient comes from the MTA: the message's own To may say anything.
  auto r =
      deliver("From: mailto@rossi.example\r\nTo: undisclosed-recipients:;\r\nSubject: " + subject +
                  "\r\nMessage-ID: <u1@rossi.example>\r\n\r\n",
              "?recipient=unsubscribe%40ciclo.test");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json(r.body)->getValue<std::string>("kind"), "unsubscribe");
  EXPECT_EQ(enrolments(lead)->getObject(0)->getValue<std::string>("stop_reason"), "unsubscribed");
  EXPECT_EQ(suppressionReason("mailto%40rossi.example"), "unsubscribed");
  auto consents =
      json(daemon_->call("GET", "/v1/nurture/consents?email=mailto%40rossi.example", admin_).body);
  EXPECT_FALSE(consents->getValue<bool>("consent"));
  EXPECT_EQ(interactionTypes(lead), std::vector<std::string>{"unsubscribed"});

  // A complaint from a mailbox provider's feedback loop (RFC 5965).
  const std::string other = capture("complains@rossi.example");
  auto second = peer_.waitFor(2);
  ASSERT_EQ(second->size(), 2u);
  const std::string secondId =
      second->getObject(1)->getObject("headers")->getValue<std::string>("x-ciclo-email");
  auto complaint = deliver(
      "From: fbl@isp.example\r\nMessage-ID: <fbl-1@isp.example>\r\n"
      "Content-Type: multipart/report; report-type=feedback-report; boundary=p\r\n\r\n"
      "--p\r\nContent-Type: text/plain\r\n\r\nAn abuse report.\r\n--p\r\n"
      "Content-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n\r\n"
      "--p\r\nContent-Type: text/rfc822-headers\r\n\r\nX-Ciclo-Email: " +
      secondId + "\r\n\r\n--p--\r\n");
  ASSERT_EQ(complaint.status, 200) << complaint.body;
  EXPECT_EQ(json(complaint.body)->getValue<std::string>("kind"), "complaint");
  EXPECT_EQ(json(complaint.body)->getValue<std::string>("lead_id"), other);
  EXPECT_EQ(suppressionReason("complains%40rossi.example"), "complaint");
}

TEST_P(Nurture, BadInboundMailIsRefusedAndChangesNothing) {
  const std::string lead = capture("inbound@rossi.example");
  ASSERT_TRUE(firstReceived());
  const std::string message = "From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n";
  auto noKey = daemon_->request("POST", "/v1/mail/inbound", message, {}, "message/rfc822");
  EXPECT_EQ(noKey.status, 401) << noKey.body;
  auto wrongScope = deliver(message, "", reader_);
  EXPECT_EQ(wrongScope.status, 403) << wrongScope.body;
  auto wrongType = deliver(message, "", "", "text/html");
  EXPECT_EQ(wrongType.status, 415) << wrongType.body;
  for (const std::string& body :
       {std::string(""), std::string("no header here\r\n"), std::string("\r\n\r\nbody only")}) {
    auto r = deliver(body);
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/problem+json");
  }
  std::string many;
  for (int i = 0; i < 6000; ++i) many += "X-A: b\r\n";
  EXPECT_EQ(deliver(many + "\r\nbody").status, 422);
  EXPECT_EQ(deliver(std::string(2 << 20, 'a')).status, 413);
  EXPECT_EQ(
      json(daemon_->call("GET", "/v1/nurture/inbound", admin_).body)->getArray("data")->size(), 0u);
  EXPECT_EQ(daemon_->call("GET", "/v1/nurture/inbound?limit=0", admin_).status, 422);
  EXPECT_EQ(daemon_->call("GET", "/v1/nurture/inbound?kind=nope", admin_).status, 422);

  // A message about nothing of ours is taken and kept as unmatched; the lead is untouched.
  auto stray = deliver("From: a@b.example\r\nIn-Reply-To: <elsewhere@b.example>\r\n\r\nhi\r\n");
  ASSERT_EQ(stray.status, 200) << stray.body;
  EXPECT_EQ(json(stray.body)->getValue<std::string>("kind"), "unmatched");
  EXPECT_EQ(enrolments(lead)->getObject(0)->getValue<std::string>("status"), "active");
  EXPECT_TRUE(interactionTypes(lead).empty());
}

TEST_P(Nurture, TheWebsiteReportsWhatAVisitorDoesWithASignedToken) {
  const std::string lead = capture("visitor@rossi.example");
  auto issued = daemon_->call("POST", "/v1/nurture/visitor-tokens", admin_,
                              R"({"lead_id":")" + lead + R"("})");
  ASSERT_EQ(issued.status, 201) << issued.body;
  const std::string token = json(issued.body)->getValue<std::string>("token");
  EXPECT_EQ(json(issued.body)->getValue<std::string>("track_url"),
            "https://ciclo.test/t/i/" + token);

  // The page's script reports a download with navigator.sendBeacon (text/plain: no preflight).
  auto beacon = daemon_->request(
      "POST", "/t/i/" + token,
      R"({"type":"content_downloaded","url":"https://www.rossi.example/guida.pdf","title":"Guida"})",
      {}, "text/plain;charset=UTF-8");
  EXPECT_EQ(beacon.status, 204) << beacon.body;
  EXPECT_EQ(beacon.header("access-control-allow-origin"), "*");
  // A page without scripts: an image.
  auto pixel = daemon_->request(
      "GET", "/t/p/" + token + "?type=page_visited&url=https%3A%2F%2Fwww.rossi.example%2Fprezzi");
  EXPECT_EQ(pixel.status, 200);
  EXPECT_EQ(pixel.header("content-type"), "image/gif");
  auto interactions = json(get("/v1/leads/" + lead + "/interactions").body)->getArray("data");
  ASSERT_EQ(interactions->size(), 2u);
  EXPECT_EQ(interactions->getObject(0)->getValue<std::string>("type"), "content_downloaded");
  EXPECT_EQ(interactions->getObject(0)->getValue<std::string>("title"), "Guida");
  EXPECT_EQ(interactions->getObject(1)->getValue<std::string>("url"),
            "https://www.rossi.example/prezzi");

  // Refused, and nothing recorded: a tampered or foreign token, what only email links
  // report, fields that are not one line or not a URL, and past the hourly limit.
  std::string tampered = token;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  auto post = [&](const std::string& t, const std::string& body) {
    return daemon_->request("POST", "/t/i/" + t, body, {}, "application/json");
  };
  EXPECT_EQ(post(tampered, R"({"type":"page_visited"})").status, 404);
  EXPECT_EQ(
      post("lead_x.99999999999.0123456789abcdef0123456789abcdef", R"({"type":"page_visited"})")
          .status,
      404);
  for (const std::string& body :
       {std::string(R"({"type":"email_opened"})"), std::string(R"({"type":"unsubscribed"})"),
        std::string(R"j({"type":"page_visited","url":"javascript:alert(1)"})j"),
        std::string(R"({"type":"page_visited","title":"a\nb"})"),
        std::string(R"({"type":"page_visited","extra":1})"), std::string(R"({"type":7})"),
        std::string(R"(["page_visited"])"), std::string("{")}) {
    auto r = post(token, body);
    EXPECT_TRUE(r.status == 400 || r.status == 422) << body << " -> " << r.status;
    EXPECT_EQ(r.header("content-type"), "application/problem+json") << body;
  }
  EXPECT_EQ(json(get("/v1/leads/" + lead + "/interactions").body)->getArray("data")->size(), 2u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(post(token, R"({"type":"page_visited"})").status, 204);
  auto limited = post(token, R"({"type":"page_visited"})");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.header("retry-after"), "600");  // six an hour: the next one in ten minutes

  // Tokens expire (90 days unless configured).
  advance(91 * 86400);
  EXPECT_EQ(post(token, R"({"type":"page_visited"})").status, 404);
  EXPECT_EQ(json(get("/v1/leads/" + lead + "/interactions").body)->getArray("data")->size(), 6u);
}

TEST_P(Nurture, TheConsentLedgerTakesGrantsAndWithdrawalsFromElsewhere) {
  // A lead of no persona: only an enrolment by hand puts it in a sequence.
  auto created = post("/v1/leads", R"({"email":"phone@rossi.example","first_name":"Pia"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string lead = json(created.body)->getValue<std::string>("id");
  auto r = daemon_->call("POST", "/v1/nurture/consents", admin_,
                         R"({"email":"Phone@Rossi.example","action":"grant","source":"call",)"
                         R"("text":"Consenso dato al telefono","at":"2026-01-02T03:04:05Z"})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto ledger = json(r.body);
  EXPECT_TRUE(ledger->getValue<bool>("consent"));
  EXPECT_EQ(ledger->getArray("data")->getObject(0)->getValue<std::string>("at"),
            "2026-01-02T03:04:05.000Z");
  // With consent, enrolling by hand works.
  r = daemon_->call("POST", "/v1/nurture/enrolments", admin_,
                    R"({"lead_id":")" + lead + R"(","sequence":"welcome"})");
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(peer_.waitFor(1)->size(), 1u);
  // A withdrawal naming the lead stops its sequences at once.
  r = daemon_->call("POST", "/v1/nurture/consents", admin_,
                    R"({"email":"phone@rossi.example","action":"withdraw","source":"call",)"
                    R"("lead_id":")" +
                        lead + R"("})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_FALSE(json(r.body)->getValue<bool>("consent"));
  EXPECT_EQ(json(r.body)->getArray("data")->size(), 2u);
  auto stopped = enrolmentWhen(
      lead, [](Poco::JSON::Object& e) { return e.getValue<std::string>("status") == "stopped"; });
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->getValue<std::string>("stop_reason"), "unsubscribed");
}

TEST_P(Nurture, ALeadMergedIntoAnotherStopsItsSequences) {
  const std::string survivor = capture("first@rossi.example");
  const std::string duplicate = capture("second@rossi.example");
  ASSERT_EQ(peer_.waitFor(2)->size(), 2u);
  auto r = post("/v1/leads/" + survivor + "/merge", R"({"duplicate_id":")" + duplicate + R"("})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto stopped = enrolmentWhen(duplicate, [](Poco::JSON::Object& e) {
    return e.getValue<std::string>("status") == "stopped";
  });
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->getValue<std::string>("stop_reason"), "merged");
  EXPECT_EQ(enrolments(survivor)->getObject(0)->getValue<std::string>("status"), "active");
}

TEST_P(Nurture, EveryDocumentedRouteIsServed) {
  EXPECT_EQ(callDocumentedPluginRoutes(*daemon_, admin_, "nurture", {{"token", "eml_x.-.00"}}), 16);
}

CICLO_ON_BOTH_BACKENDS(Nurture);

// A nurture configuration that does not hold stops the start, naming its file, the key and
// the reason.
TEST(NurtureConfig, ErrorsNameTheFileTheKeyAndTheReason) {
  const std::string head =
      "from: M <m@ciclo.test>\npublic_url: https://ciclo.test\nunsubscribe_mailto: "
      "u@ciclo.test\n";
  const std::string step = "      a: {subject: Hi, text: Hello}\n";
  const std::pair<std::string, std::string> cases[] = {
      {"public_url: https://ciclo.test\nunsubscribe_mailto: u@ciclo.test\n", "from: is required"},
      {head + "default_time_zone: Mars/Olympus\n", "default_time_zone: is not a time zone"},
      {head + "quiet_hours: {start: \"25:00\"}\n", "quiet_hours.start: expected HH:MM"},
      {head + "sequences:\n  s:\n    stop: [bored]\n    steps:\n" + step,
       "sequences.s.stop: unknown rule bored"},
      {head + "sequences:\n  s:\n    steps:\n      a: {subject: \"{{#x}}\", text: t}\n",
       "sequences.s.steps.a.subject: is not a valid template"},
      {head + "sequences:\n  s:\n    steps:\n      a: {subject: s, text: t, when: sometimes}\n",
       "sequences.s.steps.a.when: expected always"},
      {head + "sequences:\n  s:\n    steps:\n      a: {subject: s, text: t, delay: 2w}\n",
       "sequences.s.steps.a.delay: expected a duration"},
      {head + "sequences:\n  s:\n    name: S\n", "sequences.s.steps: a sequence needs at least"},
      {head + "sequences:\n  s:\n    enrol: {persona: [x]}\n    steps:\n" + step,
       "sequences.s.enrol.persona: is not a known setting"},
  };
  for (const auto& [yaml, message] : cases) {
    SCOPED_TRACE(message);
    TempFiles files{{"nurture.yaml", yaml}};
    DaemonOptions o;
    o.extra_yaml = std::string("plugins:\n  - name: nurture\n    path: ") + CICLO_PLUGIN_DIR +
                   "/nurture.so\n    config: " + files.path("nurture.yaml") + "\n";
    Daemon d(o);
    EXPECT_FALSE(d.start());
    EXPECT_NE(d.log().find(files.path("nurture.yaml") + ": " + message), std::string::npos)
        << d.log();
  }
}

}  // namespace
}  // namespace ciclo::testing
