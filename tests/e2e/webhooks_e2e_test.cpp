// Outbound webhooks against a receiver that verifies with the standardwebhooks npm package.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Process.h>

#include <fstream>
#include <thread>

#include "e2e/receiver.h"
#include "integration/fixture.h"

namespace ciclo::testing {
namespace {

class Webhooks : public DaemonTest {
 protected:
  DaemonOptions daemonOptions() override {
    DaemonOptions o;
    o.clock_control = true;
    o.extra_yaml = "webhooks:\n  timeout_ms: 3000\noutbound:\n  allow_private_networks: true\n";
    return o;
  }
  void SetUp() override {
    DaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    admin_ = daemon_->createKey("admin", "ops");
    ASSERT_GT(receiver_.port(), 0)
        << "the receiver did not start (is node installed and npm ci run?)";
  }
  std::string createEndpoint(const std::string& body) {
    auto r = daemon_->call("POST", "/v1/webhook-endpoints", admin_, body);
    EXPECT_EQ(r.status, 201) << r.body;
    auto o = json(r.body);
    EXPECT_TRUE(o->getValue<std::string>("secret").starts_with("whsec_"));
    secret_ = o->getValue<std::string>("secret");
    return o->getValue<std::string>("id");
  }
  void advance(int seconds) {
    auto r = daemon_->advanceClock(admin_, seconds);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  Poco::JSON::Array::Ptr deliveries(const std::string& endpoint, const std::string& query = "") {
    auto r =
        daemon_->call("GET", "/v1/webhook-endpoints/" + endpoint + "/deliveries" + query, admin_);
    EXPECT_EQ(r.status, 200) << r.body;
    return json(r.body)->getArray("data");
  }

  Receiver receiver_;
  std::string admin_, secret_;
};

TEST_P(Webhooks, DeliveriesVerifyAndRetriesKeepTheWebhookId) {
  const std::string endpoint =
      createEndpoint(R"({"url":")" + receiver_.url() + R"(","event_types":["lead.captured"]})");
  receiver_.control(R"({"secret":")" + secret_ + R"(","plan":[500]})");
  auto lead = post("/v1/leads", R"({"email":"hook@example.it","first_name":"Hook"})");
  ASSERT_EQ(lead.status, 201);
  auto first = receiver_.waitFor(1);
  ASSERT_EQ(first->size(), 1u);
  auto d1 = first->getObject(0);
  EXPECT_TRUE(d1->getValue<bool>("verified")) << d1->getValue<std::string>("error");
  EXPECT_EQ(d1->getValue<int>("status"), 500);
  const std::string webhookId = d1->getValue<std::string>("id");
  EXPECT_TRUE(webhookId.starts_with("evt_"));
  auto event = d1->getObject("event");
  EXPECT_EQ(event->getValue<std::string>("id"), webhookId);
  EXPECT_EQ(event->getValue<std::string>("type"), "lead.captured");
  EXPECT_EQ(event->getObject("data")->getObject("lead")->getValue<std::string>("email"),
            "hook@example.it");

  // Nothing more until the retry delay has passed on the daemon's clock.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(receiver_.received()->size(), 1u);
  auto pending = deliveries(endpoint);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->getObject(0)->getValue<std::string>("status"), "pending");
  EXPECT_EQ(pending->getObject(0)->getValue<int>("attempts"), 1);
  advance(6);
  auto second = receiver_.waitFor(2);
  ASSERT_EQ(second->size(), 2u);
  EXPECT_TRUE(second->getObject(1)->getValue<bool>("verified"));
  EXPECT_EQ(second->getObject(1)->getValue<std::string>("id"), webhookId)
      << "the same webhook-id on a retry";
  EXPECT_EQ(second->getObject(1)->getValue<int>("status"), 200);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (deliveries(endpoint)->getObject(0)->getValue<std::string>("status") != "succeeded" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(deliveries(endpoint)->getObject(0)->getValue<std::string>("status"), "succeeded");
  // The counter moves just after the delivery's record does.
  const std::string counted = "ciclo_webhook_deliveries_total{result=\"succeeded\"} 1";
  const auto metricsDeadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (daemon_->request("GET", "/metrics").body.find(counted) == std::string::npos &&
         std::chrono::steady_clock::now() < metricsDeadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(daemon_->request("GET", "/metrics").body.find(counted), std::string::npos);
}

TEST_P(Webhooks, GoneDisablesTheEndpointAndFailuresAreKeptForReplay) {
  const std::string endpoint =
      createEndpoint(R"({"url":")" + receiver_.url() + R"(","event_types":["*"]})");
  receiver_.control(R"({"secret":")" + secret_ + R"(","plan":[410]})");
  ASSERT_EQ(post("/v1/leads", R"({"email":"gone@example.it"})").status, 201);
  ASSERT_EQ(receiver_.waitFor(1)->size(), 1u);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (json(daemon_->call("GET", "/v1/webhook-endpoints/" + endpoint, admin_).body)
                 ->getValue<std::string>("status") != "disabled" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(json(daemon_->call("GET", "/v1/webhook-endpoints/" + endpoint, admin_).body)
                ->getValue<std::string>("status"),
            "disabled");
  auto failed = deliveries(endpoint, "?status=failed");
  ASSERT_EQ(failed->size(), 1u);
  const std::string delivery = failed->getObject(0)->getValue<std::string>("id");
  // Events while disabled are not sent.
  ASSERT_EQ(post("/v1/leads", R"({"email":"later@example.it"})").status, 201);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(receiver_.received()->size(), 1u);
  EXPECT_EQ(
      daemon_->call("POST", "/v1/webhook-deliveries/" + delivery + "/replay", admin_, "{}").status,
      409);
  ASSERT_EQ(
      daemon_->call("PATCH", "/v1/webhook-endpoints/" + endpoint, admin_, R"({"status":"active"})")
          .status,
      200);
  EXPECT_EQ(
      daemon_->call("POST", "/v1/webhook-deliveries/" + delivery + "/replay", admin_, "{}").status,
      202);
  auto got = receiver_.waitFor(2);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_TRUE(got->getObject(1)->getValue<bool>("verified"));
  EXPECT_EQ(got->getObject(1)->getValue<std::string>("id"),
            got->getObject(0)->getValue<std::string>("id"));
}

TEST_P(Webhooks, RetriesGrowForMoreThanADayThenFail) {
  const std::string endpoint =
      createEndpoint(R"({"url":")" + receiver_.url() + R"(","event_types":["lead.captured"]})");
  receiver_.control(R"({"secret":")" + secret_ + R"(","plan":[503,503,503,503,503,503,503,503]})");
  ASSERT_EQ(post("/v1/leads", R"({"email":"down@example.it"})").status, 201);
  int total = 0;
  for (std::size_t attempt = 1; attempt <= 8; ++attempt) {
    auto got = receiver_.waitFor(attempt);
    ASSERT_EQ(got->size(), attempt) << "attempt " << attempt;
    if (attempt < 8) {
      // Each delay is longer than the one before.
      const int delays[] = {5, 300, 1800, 7200, 18000, 36000, 36000};
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      EXPECT_EQ(receiver_.received()->size(), attempt) << "no attempt before its time";
      advance(delays[attempt - 1] + 1);
      total += delays[attempt - 1] + 1;
    }
  }
  EXPECT_GT(total, 24 * 3600);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (deliveries(endpoint, "?status=failed")->size() != 1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto failed = deliveries(endpoint, "?status=failed");
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_EQ(failed->getObject(0)->getValue<int>("attempts"), 8);
  EXPECT_EQ(failed->getObject(0)->getValue<int>("last_status"), 503);
}

TEST_P(Webhooks, PartnerEndpointsSeeOnlyTheirLeadsAndNoProfileData) {
  createEndpoint(R"({"url":")" + receiver_.url("/acme") +
                 R"(","event_types":["lead.captured"],"partner":"acme"})");
  receiver_.control(R"({"secret":")" + secret_ + R"("})");
  ASSERT_EQ(post("/v1/leads", R"({"email":"other@example.it","partner":"globex"})").status, 201);
  ASSERT_EQ(post("/v1/leads", R"({"email":"mine@example.it","partner":"acme","first_name":"Mia"})")
                .status,
            201);
  auto got = receiver_.waitFor(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  got = receiver_.received();
  ASSERT_EQ(got->size(), 1u) << "only the acme lead";
  auto d = got->getObject(0);
  EXPECT_TRUE(d->getValue<bool>("verified"));
  auto lead = d->getObject("event")->getObject("data")->getObject("lead");
  EXPECT_TRUE(lead->has("id"));
  EXPECT_TRUE(lead->has("status"));
  EXPECT_FALSE(lead->has("email"));
  EXPECT_FALSE(lead->has("first_name"));
}

TEST_P(Webhooks, EndpointsAreValidatedAndTheirSecretsSealed) {
  EXPECT_EQ(daemon_
                ->call("POST", "/v1/webhook-endpoints", admin_,
                       R"({"url":"ftp://x","event_types":["*"]})")
                .status,
            422);
  EXPECT_EQ(daemon_
                ->call("POST", "/v1/webhook-endpoints", admin_,
                       R"({"url":"https://x.example","event_types":["lead.eaten"]})")
                .status,
            422);
  EXPECT_EQ(daemon_->call("POST", "/v1/webhook-endpoints", admin_, R"({"url":"https://x.example"})")
                .status,
            422);
  EXPECT_EQ(daemon_
                ->call("POST", "/v1/webhook-endpoints", writer_,
                       R"({"url":"https://x.example","event_types":["*"]})")
                .status,
            403);
  const std::string id = createEndpoint(
      R"({"url":"https://hooks.example/in","event_types":["lead.captured","lead.qualified"]})");
  auto listed = daemon_->call("GET", "/v1/webhook-endpoints", admin_);
  EXPECT_EQ(listed.body.find("whsec_"), std::string::npos) << "the secret is shown once";
  daemon_->stop();
  EXPECT_EQ(dumpDatabase(daemon_->storeUrl()).find(secret_.substr(6)), std::string::npos)
      << "sealed at rest";
  daemon_.reset();
}

CICLO_ON_BOTH_BACKENDS(Webhooks);

}  // namespace
}  // namespace ciclo::testing
