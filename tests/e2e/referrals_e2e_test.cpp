// Partner referrals signed by third-party libraries (the standardwebhooks and svix npm
// packages, through sign.mjs), and partners told about their own leads only, through
// endpoints verified by the standardwebhooks package (webhook_receiver.mjs).

#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/StreamCopier.h>

#include "e2e/receiver.h"
#include "integration/fixture.h"

namespace ciclo::testing {
namespace {

class PartnerReferrals : public DaemonTest {
 protected:
  DaemonOptions daemonOptions() override {
    DaemonOptions o;
    o.clock_control = true;
    o.extra_yaml = std::string(
                       "webhooks:\n  timeout_ms: 3000\noutbound:\n  allow_private_networks: "
                       "true\nplugins:\n  - name: referrals\n    path: ") +
                   CICLO_PLUGIN_DIR +
                   "/referrals.so\n    config:\n      partners:\n        acme:\n          name: "
                   "Acme\n          secrets: [" +
                   acme_ + "]\n        beta:\n          name: Beta\n          secrets: [" + beta_ +
                   "]\n";
    return o;
  }
  void SetUp() override {
    DaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    dir_ = makeTempDir("ciclo-sign-");
    admin_ = daemon_->createKey("admin", "ops");
  }

  // The webhook-signature value `library` computes for `body`.
  std::string sign(const std::string& library, const std::string& secret, const std::string& id,
                   long long timestamp, const std::string& body) {
    const std::string file = dir_ + "body";
    std::ofstream(file, std::ios::binary) << body;
    Poco::Pipe out;
    auto process = Poco::Process::launch("node",
                                         {std::string(CICLO_E2E_DIR) + "/sign.mjs", library, secret,
                                          id, std::to_string(timestamp), file},
                                         std::string(CICLO_E2E_DIR), nullptr, &out, nullptr);
    Poco::PipeInputStream in(out);
    std::string signature;
    Poco::StreamCopier::copyToString(in, signature);
    EXPECT_EQ(process.wait(), 0) << library << " could not sign (is npm ci run?)";
    return signature;
  }

  // Sends `body` with the headers the library's senders use: webhook-* or svix-*.
  HttpResult send(const std::string& library, const std::string& partner, const std::string& body,
                  const std::string& id, long long timestamp, const std::string& signature) {
    const std::string prefix = library == "svix" ? "svix-" : "webhook-";
    return daemon_->request("POST", "/v1/partners/" + partner + "/referrals", body,
                            {{prefix + "id", id},
                             {prefix + "timestamp", std::to_string(timestamp)},
                             {prefix + "signature", signature}},
                            "application/json");
  }

  std::size_t leadCount() {
    return json(get("/v1/leads?limit=100").body)->getArray("data")->size();
  }

  const std::string acme_ = makeWebhookSecret(), beta_ = makeWebhookSecret();
  std::string dir_, admin_;
};

TEST_P(PartnerReferrals, ThirdPartySignaturesAreAcceptedAndForgeriesRefused) {
  int n = 0;
  for (const std::string library : {"standardwebhooks", "svix"}) {
    SCOPED_TRACE(library);
    const std::string body = R"({"referrals":[{"external_id":")" + library + R"(","email":")" +
                             library + R"(@partner.it"}]})";
    const std::string id = "msg_" + library;
    const long long now = unixNow();

    const std::string before = recordsDump();
    auto tampered = send(library, "acme", body.substr(0, body.size() - 2) + " ]}", id, now,
                         sign(library, acme_, id, now, body));
    EXPECT_EQ(tampered.status, 401) << "a tampered body";
    EXPECT_EQ(
        send(library, "acme", body, id, now, sign(library, makeWebhookSecret(), id, now, body))
            .status,
        401)
        << "a wrong secret";
    EXPECT_EQ(send(library, "acme", body, id, now, sign(library, beta_, id, now, body)).status, 401)
        << "another partner's secret";
    EXPECT_EQ(send(library, "acme", body, id, now - 360, sign(library, acme_, id, now - 360, body))
                  .status,
              401)
        << "stale";
    EXPECT_EQ(send(library, "acme", body, id, now + 360, sign(library, acme_, id, now + 360, body))
                  .status,
              401)
        << "from the future";
    EXPECT_EQ(recordsDump(), before) << "refusals change nothing";

    auto ok = send(library, "acme", body, id, now, sign(library, acme_, id, now, body));
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(json(ok.body)->getArray("results")->getObject(0)->getValue<std::string>("outcome"),
              "created");
    EXPECT_EQ(leadCount(), static_cast<std::size_t>(++n));
  }
}

TEST_P(PartnerReferrals, APartnerIsToldAboutItsOwnLeadsOnly) {
  Receiver receiver;
  ASSERT_GT(receiver.port(), 0) << "the receiver did not start (is node installed?)";
  std::map<std::string, std::string> secrets;
  for (const std::string partner : {"acme", "beta"}) {
    auto r = daemon_->call("POST", "/v1/webhook-endpoints", admin_,
                           R"({"url":")" + receiver.url("/" + partner) +
                               R"(","event_types":["lead.qualified","lead.disqualified"],)"
                               R"("partner":")" +
                               partner + R"("})");
    ASSERT_EQ(r.status, 201) << r.body;
    secrets[partner] = json(r.body)->getValue<std::string>("secret");
  }
  receiver.control(R"({"secrets":{"/acme":")" + secrets["acme"] + R"(","/beta":")" +
                   secrets["beta"] + R"("}})");

  std::map<std::string, std::string> leads;
  for (const auto& [partner, secret] :
       {std::pair{std::string("acme"), acme_}, std::pair{std::string("beta"), beta_}}) {
    const std::string body = R"({"referrals":[{"external_id":"1","email":"lead@)" + partner +
                             R"(-client.it","first_name":"Lia"}]})";
    const long long now = unixNow();
    auto r = send("standardwebhooks", partner, body, "m1", now,
                  sign("standardwebhooks", secret, "m1", now, body));
    ASSERT_EQ(r.status, 200) << r.body;
    leads[partner] =
        json(r.body)->getArray("results")->getObject(0)->getValue<std::string>("lead_id");
  }
  // A lead nobody referred is nobody's business.
  auto own = post("/v1/leads", R"({"email":"direct@client.it"})");
  ASSERT_EQ(own.status, 201);
  const std::string direct = json(own.body)->getValue<std::string>("id");

  ASSERT_EQ(post("/v1/leads/" + leads["acme"] + "/commands", R"({"command":"qualify"})").status,
            200);
  ASSERT_EQ(post("/v1/leads/" + leads["beta"] + "/commands",
                 R"({"command":"disqualify","reason":"no_fit"})")
                .status,
            200);
  ASSERT_EQ(post("/v1/leads/" + direct + "/commands", R"({"command":"qualify"})").status, 200);

  receiver.waitFor(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // nothing more may come
  auto got = receiver.received();
  ASSERT_EQ(got->size(), 2u);
  std::map<std::string, Poco::JSON::Object::Ptr> byPath;
  for (std::size_t i = 0; i < got->size(); ++i) {
    auto d = got->getObject(static_cast<unsigned>(i));
    EXPECT_TRUE(d->getValue<bool>("verified")) << d->getValue<std::string>("error");
    byPath[d->getValue<std::string>("path")] = d->getObject("event");
  }
  ASSERT_TRUE(byPath["/acme"]);
  ASSERT_TRUE(byPath["/beta"]);
  EXPECT_EQ(byPath["/acme"]->getValue<std::string>("type"), "lead.qualified");
  EXPECT_EQ(byPath["/beta"]->getValue<std::string>("type"), "lead.disqualified");
  std::ostringstream acme, beta;
  byPath["/acme"]->stringify(acme);
  byPath["/beta"]->stringify(beta);
  EXPECT_NE(acme.str().find(leads["acme"]), std::string::npos);
  EXPECT_EQ(acme.str().find(leads["beta"]), std::string::npos);
  EXPECT_NE(beta.str().find(leads["beta"]), std::string::npos);
  EXPECT_EQ(beta.str().find(leads["acme"]), std::string::npos);
  EXPECT_EQ(acme.str().find(direct), std::string::npos);
}

CICLO_ON_BOTH_BACKENDS(PartnerReferrals);

}  // namespace
}  // namespace ciclo::testing
