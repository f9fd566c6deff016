// The referrals plugin in the running daemon: CONTRACT.md section 2, end to end over HTTP.
// Requests are signed here with the host's Standard Webhooks code; tests/e2e signs them with
// the standardwebhooks and svix npm packages.

#include <Poco/JSON/Array.h>

#include <future>
#include <thread>

#include "fixture.h"

namespace ciclo::testing {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

class Referrals : public DaemonTest {
 protected:
  DaemonOptions daemonOptions() override {
    DaemonOptions o;
    o.clock_control = true;
    o.extra_yaml = std::string("plugins:\n  - name: referrals\n    path: ") + CICLO_PLUGIN_DIR +
                   "/referrals.so\n    required: true\n    config:\n      partners:\n" +
                   "        acme:\n          name: Acme Consulting\n          owner: "
                   "anna.bianchi\n          quality: 70\n          secrets: [" +
                   old_ + ", " + acme_ +
                   "]\n        beta:\n          name: Beta Partners\n          secrets: [" + beta_ +
                   "]\n";
    return o;
  }

  // A request signed as Standard Webhooks with `secret`, at `timestamp`.
  HttpResult send(const std::string& partner, const std::string& body, const std::string& secret,
                  const std::string& id, long long timestamp = unixNow(),
                  const std::string& route = "referrals",
                  const std::string& type = "application/json") {
    auto signature = host::Crypto::standardWebhookSignature(secret, id, timestamp, body);
    EXPECT_TRUE(signature.ok());
    return daemon_->request("POST", "/v1/partners/" + partner + "/" + route, body,
                            {{"webhook-id", id},
                             {"webhook-timestamp", std::to_string(timestamp)},
                             {"webhook-signature", signature.value()}},
                            type);
  }
  HttpResult referrals(const std::string& body, const std::string& id) {
    return send("acme", body, acme_, id);
  }

  std::size_t leadCount() {
    return json(get("/v1/leads?limit=200").body)->getArray("data")->size();
  }

  std::string admin() {
    if (admin_.empty()) admin_ = daemon_->createKey("partners:admin,admin", "ops");
    return admin_;
  }

  static Poco::JSON::Array::Ptr results(const HttpResult& r) {
    return json(r.body)->getArray("results");
  }

  const std::string old_ = makeWebhookSecret(), acme_ = makeWebhookSecret(),
                    beta_ = makeWebhookSecret();
  std::string admin_;
};

TEST_P(Referrals, ABatchGetsOneResultPerItemInOrder) {
  ASSERT_EQ(post("/v1/leads", R"({"email":"marco@verdi.it","first_name":"Marco"})").status, 201);
  auto r = referrals(R"({"referrals":[
      {"external_id":"A-1","email":"Anna@Rossi.it","first_name":"Anna","company":"Rossi Srl",
       "note":"wants a demo","consent_marketing":true,"fax":"0321"},
      {"external_id":"A-2","email":"not an email"},
      {"email":"no-id@x.it"},
      {"external_id":"A-3","email":"marco@verdi.it","job_title":"CTO"},
      {"external_id":"A-4","phone":"+39 02 1234 5678","consent_marketing":"yes"}]})",
                     "msg_1");
  ASSERT_EQ(r.status, 200) << r.body;
  auto list = results(r);
  ASSERT_EQ(list->size(), 5u);
  auto item = [&](std::size_t i) { return list->getObject(static_cast<unsigned>(i)); };
  EXPECT_EQ(item(0)->getValue<std::string>("outcome"), "created");
  EXPECT_EQ(item(0)->getValue<std::string>("external_id"), "A-1");
  EXPECT_EQ(item(0)->getArray("warnings")->getObject(0)->getValue<std::string>("field"),
            "/referrals/0/fax");
  EXPECT_EQ(item(1)->getValue<std::string>("outcome"), "rejected");
  EXPECT_TRUE(item(1)->isNull("lead_id"));
  EXPECT_EQ(item(1)->getArray("errors")->getObject(0)->getValue<std::string>("field"),
            "/referrals/1/email");
  EXPECT_EQ(item(2)->getValue<std::string>("outcome"), "rejected");
  EXPECT_EQ(item(2)->getArray("errors")->getObject(0)->getValue<std::string>("field"),
            "/referrals/2/external_id");
  EXPECT_EQ(item(3)->getValue<std::string>("outcome"), "merged") << "matched by email";
  EXPECT_EQ(item(4)->getValue<std::string>("outcome"), "rejected");
  EXPECT_EQ(item(4)->getArray("errors")->getObject(0)->getValue<std::string>("field"),
            "/referrals/4/consent_marketing");
  EXPECT_EQ(leadCount(), 2u) << "one created, one merged, the rest rejected";

  auto lead = json(get("/v1/leads/" + item(0)->getValue<std::string>("lead_id")).body);
  EXPECT_EQ(lead->getValue<std::string>("email"), "anna@rossi.it");
  EXPECT_EQ(lead->getValue<std::string>("needs"), "wants a demo");
  EXPECT_EQ(lead->getValue<std::string>("owner"), "anna.bianchi") << "the partner's owner";
  auto touch = lead->getObject("first_touch");
  EXPECT_EQ(touch->getValue<std::string>("source"), "referral");
  EXPECT_EQ(touch->getValue<std::string>("partner"), "acme");
  EXPECT_NE(lead->getObject("consent")->getValue<std::string>("text").find("Acme Consulting"),
            std::string::npos);
  auto merged = json(get("/v1/leads/" + item(3)->getValue<std::string>("lead_id")).body);
  EXPECT_EQ(merged->getValue<std::string>("job_title"), "CTO");
}

TEST_P(Referrals, ThePartnersExternalIdNamesOneLead) {
  auto first = referrals(R"({"referrals":[{"external_id":"X-9","email":"lia@neri.it"}]})", "m1");
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string id = results(first)->getObject(0)->getValue<std::string>("lead_id");

  auto same = referrals(R"({"referrals":[{"external_id":"X-9","email":"lia@neri.it"}]})", "m2");
  EXPECT_EQ(results(same)->getObject(0)->getValue<std::string>("outcome"), "unchanged");
  EXPECT_EQ(results(same)->getObject(0)->getValue<std::string>("lead_id"), id);

  // The partner corrects the address under the same id: still the same lead, with news.
  auto more = referrals(
      R"({"referrals":[{"external_id":"X-9","email":"lia.neri@neri.it","company":"Neri SpA"}]})",
      "m3");
  EXPECT_EQ(results(more)->getObject(0)->getValue<std::string>("outcome"), "merged");
  EXPECT_EQ(results(more)->getObject(0)->getValue<std::string>("lead_id"), id);
  EXPECT_EQ(json(get("/v1/leads/" + id).body)->getValue<std::string>("company"), "Neri SpA");

  // Another partner's X-9 is another referral, of the same person here.
  auto beta =
      send("beta", R"({"referrals":[{"external_id":"X-9","email":"lia@neri.it"}]})", beta_, "m1");
  ASSERT_EQ(beta.status, 200) << beta.body;
  EXPECT_EQ(results(beta)->getObject(0)->getValue<std::string>("outcome"), "merged");
  EXPECT_EQ(leadCount(), 1u);
  EXPECT_EQ(
      json(get("/v1/leads/" + id).body)->getObject("first_touch")->getValue<std::string>("partner"),
      "acme")
      << "the first partner keeps the attribution";
}

TEST_P(Referrals, ARedeliveryGetsTheFirstAnswerAndAnotherBodyUnderItsIdIs409) {
  const std::string body = R"({"referrals":[{"external_id":"R-1","email":"r1@x.it"}]})";
  auto first = referrals(body, "msg_same");
  ASSERT_EQ(first.status, 200);
  auto again = referrals(body, "msg_same");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body) << "the first answer, not 'unchanged'";
  EXPECT_EQ(again.header("idempotent-replayed"), "true");
  auto other = referrals(R"({"referrals":[{"external_id":"R-2","email":"r2@x.it"}]})", "msg_same");
  EXPECT_EQ(other.status, 409) << other.body;
  EXPECT_EQ(json(other.body)->getValue<std::string>("type"), "/problems/webhook-id-reused");
  EXPECT_EQ(leadCount(), 1u);
  // The same id from another partner, or on the feed route, is another delivery.
  EXPECT_EQ(send("beta", body, beta_, "msg_same").status, 200);
  auto feed = send("acme", "external_id,email\nR-3,r3@x.it\n", acme_, "msg_same", unixNow(),
                   "feeds", "text/csv");
  EXPECT_EQ(feed.status, 200) << feed.body;
  EXPECT_EQ(leadCount(), 2u);
}

TEST_P(Referrals, AnswersAreKeptForAWeekThenForgotten) {
  const std::string body = R"({"referrals":[{"external_id":"W-1","email":"w1@x.it"}]})";
  ASSERT_EQ(referrals(body, "msg_week").status, 200);
  ASSERT_EQ(daemon_->advanceClock(admin(), 8 * 86400).status, 200);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (recordsDump().find("|msg_week|") != std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(recordsDump().find("|msg_week|"), std::string::npos)
      << "the hourly job forgets answers older than 7 days";
  // Signed on the daemon's clock, now 8 days ahead: carried out again, and found unchanged.
  auto again = send("acme", body, acme_, "msg_week", unixNow() + 8 * 86400);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.header("idempotent-replayed"), "");
  EXPECT_EQ(results(again)->getObject(0)->getValue<std::string>("outcome"), "unchanged");
  EXPECT_EQ(leadCount(), 1u);
}

TEST_P(Referrals, FiveCopiesAtTheSameMomentAreCarriedOutOnce) {
  std::string body = R"({"referrals":[)";
  for (int i = 0; i < 50; ++i)
    body += (i ? "," : "") + std::string(R"({"external_id":"C-)") + std::to_string(i) +
            R"(","email":"c)" + std::to_string(i) + R"(@copies.it"})";
  body += "]}";
  const long long ts = unixNow();
  std::vector<std::future<HttpResult>> copies;
  for (int i = 0; i < 5; ++i)
    copies.push_back(std::async(std::launch::async,
                                [&] { return send("acme", body, acme_, "msg_copies", ts); }));
  std::vector<HttpResult> answers;
  for (auto& c : copies) answers.push_back(c.get());
  for (const auto& a : answers) {
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(a.body, answers[0].body);
  }
  for (std::size_t i = 0; i < 50; ++i)
    EXPECT_EQ(
        results(answers[0])->getObject(static_cast<unsigned>(i))->getValue<std::string>("outcome"),
        "created");
  EXPECT_EQ(leadCount(), 50u);
}

TEST_P(Referrals, SignaturesAreCheckedAndRefusalsChangeNothing) {
  const std::string body = R"({"referrals":[{"external_id":"S-1","email":"s1@x.it"}]})";
  const std::string before = recordsDump();
  const long long now = unixNow();
  EXPECT_EQ(send("acme", body, beta_, "s1").status, 401) << "another partner's secret";
  EXPECT_EQ(send("acme", body, makeWebhookSecret(), "s1").status, 401) << "a wrong secret";
  EXPECT_EQ(send("acme", body, acme_, "s1", now - 360).status, 401) << "stale";
  EXPECT_EQ(send("acme", body, acme_, "s1", now + 360).status, 401) << "from the future";
  EXPECT_EQ(send("nobody", body, acme_, "s1").status, 401) << "an unknown partner";
  auto signature = host::Crypto::standardWebhookSignature(acme_, "s1", now, body).value();
  auto tampered = daemon_->request("POST", "/v1/partners/acme/referrals",
                                   body.substr(0, body.size() - 2) + " ]}",
                                   {{"webhook-id", "s1"},
                                    {"webhook-timestamp", std::to_string(now)},
                                    {"webhook-signature", signature}},
                                   "application/json");
  EXPECT_EQ(tampered.status, 401) << "a tampered body";
  EXPECT_EQ(json(tampered.body)->getValue<std::string>("type"), "/problems/invalid-signature");
  auto unsigned_ =
      daemon_->request("POST", "/v1/partners/acme/referrals", body, {}, "application/json");
  EXPECT_EQ(unsigned_.status, 401);
  EXPECT_EQ(recordsDump(), before);

  EXPECT_EQ(send("acme", body, old_, "s2").status, 200) << "the older of two secrets";
  EXPECT_EQ(send("acme", body, acme_, "s3").status, 200) << "the newer one";
  // Several signatures in the header: any one matching is enough.
  const std::string both =
      "v1,AAAA " + host::Crypto::standardWebhookSignature(acme_, "s4", now, body).value();
  EXPECT_EQ(daemon_
                ->request("POST", "/v1/partners/acme/referrals", body,
                          {{"webhook-id", "s4"},
                           {"webhook-timestamp", std::to_string(now)},
                           {"webhook-signature", both}},
                          "application/json")
                .status,
            200);

  // The daemon's clock, not the sender's, decides what is stale.
  ASSERT_EQ(daemon_->advanceClock(admin(), 400).status, 200);
  EXPECT_EQ(send("acme", body, acme_, "s5", now).status, 401);
  EXPECT_EQ(send("acme", body, acme_, "s5", now + 400).status, 200);
}

TEST_P(Referrals, BatchesHoldOneToAThousandItemsOfJson) {
  const std::string before = recordsDump();
  EXPECT_EQ(referrals("not json", "b1").status, 400);
  EXPECT_EQ(referrals("[1,2]", "b2").status, 400);
  EXPECT_EQ(referrals(R"({"referrals":[]})", "b3").status, 422);
  EXPECT_EQ(referrals(R"({"referrals":{}})", "b4").status, 422);
  EXPECT_EQ(referrals(R"({"items":[{"external_id":"1","email":"a@b.it"}]})", "b5").status, 422);
  std::string big = R"({"referrals":[)";
  for (int i = 0; i < 1001; ++i) big += (i ? "," : "") + std::string(R"({"external_id":"1"})");
  big += "]}";
  auto tooMany = referrals(big, "b6");
  EXPECT_EQ(tooMany.status, 422);
  EXPECT_EQ(json(tooMany.body)->getArray("errors")->getObject(0)->getValue<std::string>("field"),
            "/referrals");
  EXPECT_EQ(recordsDump(), before);

  std::string full = R"({"referrals":[)";
  for (int i = 0; i < 1000; ++i)
    full += (i ? "," : "") + std::string(R"({"external_id":"F-)") + std::to_string(i) +
            R"(","email":"f)" + std::to_string(i) + R"(@full.it"})";
  full += "]}";
  auto ok = referrals(full, "b7");
  ASSERT_EQ(ok.status, 200) << ok.body.substr(0, 300);
  EXPECT_EQ(results(ok)->size(), 1000u);
  EXPECT_EQ(results(ok)->getObject(999)->getValue<std::string>("external_id"), "F-999");
}

TEST_P(Referrals, AFeedIsKeptAndEachRowGetsItsResult) {
  const std::string feed =
      "\xEF\xBB\xBF"
      "External_ID;email;first_name;company;consent_marketing;region\r\n"
      "F-1;gio@bruni.it;Giovanni;\"Bruni; Figli\";sì;Nord\r\n"
      "F-2;not-an-email;X;;;\r\n"
      "F-3;\"broken\"x;;;;\r\n"
      "F-4;eva@gialli.it;Eva;;no;\r\n";
  auto r = send("acme", feed, acme_, "feed_1", unixNow(), "feeds", "text/csv");
  ASSERT_EQ(r.status, 200) << r.body;
  auto list = results(r);
  ASSERT_EQ(list->size(), 4u);
  auto row = [&](unsigned i) { return list->getObject(i); };
  EXPECT_EQ(row(0)->getValue<int>("row"), 2);
  EXPECT_EQ(row(0)->getValue<std::string>("outcome"), "created");
  EXPECT_EQ(row(0)->getArray("warnings")->getObject(0)->getValue<std::string>("field"), "region");
  EXPECT_EQ(row(1)->getValue<std::string>("outcome"), "rejected");
  EXPECT_EQ(row(1)->getArray("errors")->getObject(0)->getValue<std::string>("field"), "email");
  EXPECT_EQ(row(2)->getValue<std::string>("outcome"), "rejected");
  EXPECT_EQ(row(2)->getArray("errors")->getObject(0)->getValue<std::string>("field"), "row");
  EXPECT_EQ(row(3)->getValue<int>("row"), 5);
  EXPECT_EQ(row(3)->getValue<std::string>("outcome"), "created");
  EXPECT_EQ(leadCount(), 2u);
  auto lead = json(get("/v1/leads/" + row(0)->getValue<std::string>("lead_id")).body);
  EXPECT_EQ(lead->getValue<std::string>("company"), "Bruni; Figli");
  EXPECT_TRUE(lead->getObject("consent")->getValue<bool>("granted"));

  const std::string feedId = json(r.body)->getValue<std::string>("feed_id");
  auto kept = daemon_->call("GET", "/v1/partners/acme/feeds/" + feedId, admin());
  ASSERT_EQ(kept.status, 200);
  EXPECT_EQ(kept.body, feed) << "the raw feed, byte for byte";
  auto report = daemon_->call("GET", "/v1/partners/acme/feeds/" + feedId, admin(), "",
                              {{"Accept", "application/json"}});
  EXPECT_EQ(report.status, 200);
  EXPECT_EQ(report.body, r.body) << "the report as first answered";
  EXPECT_EQ(daemon_->call("GET", "/v1/partners/acme/feeds/feed_nope", admin()).status, 404);
  EXPECT_EQ(daemon_->call("GET", "/v1/partners/beta/feeds/" + feedId, admin()).status, 404)
      << "another partner's feed";
  auto listed = json(daemon_->call("GET", "/v1/partners/acme/feeds", admin()).body);
  EXPECT_EQ(listed->getArray("data")->getObject(0)->getValue<int>("rows"), 4);

  const std::string before = recordsDump();
  const long long ts = unixNow();
  EXPECT_EQ(send("acme", "", acme_, "feed_2", ts, "feeds", "text/csv").status, 422);
  EXPECT_EQ(send("acme", "email,name\nx@y.it,X\n", acme_, "feed_3", ts, "feeds", "text/csv").status,
            422)
      << "no external_id column";
  EXPECT_EQ(send("acme", "external_id,email,Email\n1,a@b.it,c@d.it\n", acme_, "feed_4", ts, "feeds",
                 "text/csv")
                .status,
            422)
      << "a column named twice";
  EXPECT_EQ(send("acme", "external_id\n", acme_, "feed_5", ts, "feeds", "text/csv").status, 422);
  EXPECT_EQ(send("acme", std::string("external_id,email\n1,a\0@b.it\n", 27), acme_, "feed_6", ts,
                 "feeds", "text/csv")
                .status,
            400);
  EXPECT_EQ(
      send("acme", "external_id,email\n1,\xff@b.it\n", acme_, "feed_7", ts, "feeds", "text/csv")
          .status,
      400);
  EXPECT_EQ(send("acme", feed, acme_, "feed_8", ts, "feeds", "application/json").status, 415);
  EXPECT_EQ(recordsDump(), before);
}

TEST_P(Referrals, PartnersAreManagedThroughTheAdminApi) {
  EXPECT_EQ(daemon_->call("GET", "/v1/partners", writer_).status, 403) << "needs partners:admin";
  auto created =
      daemon_->call("POST", "/v1/partners", admin(),
                    R"({"key":"gamma","name":"Gamma Srl","owner":"luca.verdi","quality":40})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string first = json(created.body)->getValue<std::string>("secret");
  EXPECT_TRUE(first.starts_with("whsec_"));
  const std::string body = R"({"referrals":[{"external_id":"G-1","email":"g1@x.it"}]})";
  EXPECT_EQ(send("gamma", body, first, "g1").status, 200);

  auto shown = daemon_->call("GET", "/v1/partners/gamma", admin());
  EXPECT_EQ(shown.body.find("whsec_"), std::string::npos) << "a secret is shown once only";
  EXPECT_EQ(json(shown.body)->getValue<int>("quality"), 40);
  EXPECT_EQ(daemon_->call("GET", "/v1/partners", admin()).body.find("whsec_"), std::string::npos);

  auto rotated = daemon_->call("POST", "/v1/partners/gamma/secrets", admin(), "");
  ASSERT_EQ(rotated.status, 201) << rotated.body;
  const std::string second = json(rotated.body)->getValue<std::string>("secret");
  EXPECT_EQ(send("gamma", body, first, "g2").status, 200) << "both work during the rotation";
  EXPECT_EQ(send("gamma", body, second, "g3").status, 200);
  EXPECT_EQ(daemon_->call("DELETE", "/v1/partners/gamma/secrets/1", admin()).status, 204);
  EXPECT_EQ(send("gamma", body, first, "g4").status, 401) << "the old secret is gone";
  EXPECT_EQ(send("gamma", body, second, "g5").status, 200);
  EXPECT_EQ(daemon_->call("DELETE", "/v1/partners/gamma/secrets/2", admin()).status, 409)
      << "never without a secret";
  EXPECT_EQ(daemon_->call("DELETE", "/v1/partners/gamma/secrets/7", admin()).status, 404);
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(daemon_->call("POST", "/v1/partners/gamma/secrets", admin(), "").status, 201);
  EXPECT_EQ(daemon_->call("POST", "/v1/partners/gamma/secrets", admin(), "").status, 409)
      << "at most 5 secrets";
  for (const char* id : {"3", "4", "5", "6"})
    ASSERT_EQ(
        daemon_->call("DELETE", std::string("/v1/partners/gamma/secrets/") + id, admin()).status,
        204);
  EXPECT_EQ(daemon_->call("PATCH", "/v1/partners/gamma", admin(), R"({"key":"delta"})").status, 422)
      << "a key is not changed";
  EXPECT_EQ(daemon_->call("PATCH", "/v1/partners/nobody", admin(), "{}").status, 404);

  auto patched = daemon_->call("PATCH", "/v1/partners/gamma", admin(), R"({"quality":90})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(json(patched.body)->getValue<int>("quality"), 90);
  EXPECT_EQ(daemon_->call("PATCH", "/v1/partners/gamma", admin(), R"({"quality":"high"})").status,
            422);
  EXPECT_EQ(daemon_->call("POST", "/v1/partners", admin(), R"({"key":"gamma","name":"G"})").status,
            409);
  EXPECT_EQ(
      daemon_->call("POST", "/v1/partners", admin(), R"({"key":"Bad Key","name":"G"})").status,
      422);
  EXPECT_EQ(daemon_->call("PATCH", "/v1/partners/acme", admin(), R"({"quality":1})").status, 409)
      << "defined in the configuration file";
  EXPECT_EQ(daemon_->call("DELETE", "/v1/partners/acme", admin()).status, 409);

  // A restart reads the partner and its sealed secret back.
  daemon_->stop();
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  EXPECT_EQ(
      json(daemon_->call("GET", "/v1/partners/gamma", admin()).body)->getValue<int>("quality"), 90);
  EXPECT_EQ(send("gamma", body, second, "g6").status, 200);
  EXPECT_EQ(recordsDump().find(second.substr(6)), std::string::npos)
      << "secrets are sealed at rest";

  EXPECT_EQ(daemon_->call("DELETE", "/v1/partners/gamma", admin()).status, 204);
  EXPECT_EQ(send("gamma", body, second, "g7").status, 401);
  EXPECT_EQ(daemon_->call("GET", "/v1/partners/gamma", admin()).status, 404);
}

TEST_P(Referrals, EveryDocumentedRouteOfThePluginIsServed) {
  EXPECT_EQ(callDocumentedPluginRoutes(*daemon_, admin(), "referrals",
                                       {{"partner", "acme"}, {"feed", "feed_x"}, {"secret", "9"}}),
            11);
}

CICLO_ON_BOTH_BACKENDS(Referrals);

}  // namespace
}  // namespace ciclo::testing
