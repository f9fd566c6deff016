// From a landing page's form to a sales-ready lead, end to end, with every plugin of phase 1
// in one daemon: a form submission (webform) creates a lead that fits no buyer persona yet;
// LinkedIn enrichment (linkedin, against the local fake of LinkedIn's API) fills its
// company's industry, size and headquarters, so profiling matches the plant_manager persona;
// nurturing (nurture) enrols it and sends the first email through a real SMTP server
// (smtp-server, STARTTLS and AUTH); opening and clicking it move the score across the
// sales-ready threshold; the sequence stops; and lead.scored and lead.status_changed reach a
// subscribed webhook endpoint that verifies every delivery with the standardwebhooks package.

#include <Poco/JSON/Array.h>

#include <thread>

#include "e2e/nurture_rules.h"
#include "e2e/receiver.h"
#include "e2e/smtp_peer.h"
#include "integration/fixture.h"
#include "support/fake_linkedin.h"

namespace ciclo::testing {
namespace {

const char* kToken = "AQX-e2e-token_5c1f";

class LeadToSql : public DaemonTest {
 protected:
  DaemonOptions daemonOptions() override {
    linkedin_.add(FakeLinkedIn::officineRossi());
    linkedin_.addIndustry(55, "Manufacturing");
    std::ofstream(files_.path("linkedin.yaml"))
        << "base_url: " << linkedin_.baseUrl() << "\naccess_token: " << kToken
        << "\naccess: admin\n";
    DaemonOptions o;
    o.clock_control = true;
    const std::string plugins = CICLO_PLUGIN_DIR;
    o.extra_yaml = "profiling:\n  personas: " + std::string(CICLO_SOURCE_DIR) +
                   "/config/personas.yaml\nscoring:\n  rules: " + files_.path("scoring.yaml") +
                   "\noutbound:\n  allow_private_networks: true\nwebhooks:\n  timeout_ms: 3000\n"
                   "mail:\n  smtp:\n    host: localhost\n    port: " +
                   std::to_string(smtp_.port()) +
                   "\n    tls: starttls\n    ca_file: " + smtp_.caFile() +
                   "\n    username: " + smtp_.user() + "\n    password: " + smtp_.password() +
                   "\nplugins:\n"
                   "  - name: webform\n    path: " +
                   plugins +
                   "/webform.so\n    config:\n      forms:\n        demo:\n"
                   "          fields: {azienda: company, ruolo: job_title}\n"
                   "          required: [email, first_name]\n"
                   "          allowed_origins: [https://www.example.it]\n"
                   "          consent_text: Sì, voglio ricevere notizie via email.\n"
                   "          campaign: demo-request\n"
                   "  - name: linkedin\n    path: " +
                   plugins + "/linkedin.so\n    config: " + files_.path("linkedin.yaml") +
                   "\n  - name: nurture\n    path: " + plugins +
                   "/nurture.so\n    config: " + files_.path("nurture.yaml") + "\n";
    return o;
  }
  void SetUp() override {
    ASSERT_GT(smtp_.port(), 0) << "the SMTP server did not start (is node installed?)";
    ASSERT_GT(receiver_.port(), 0) << "the webhook receiver did not start";
    DaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    admin_ = daemon_->createKey("admin", "ops");
  }
  // The events of `type` the receiver got, with every delivery verified.
  std::vector<Poco::JSON::Object::Ptr> delivered(const std::string& type) {
    std::vector<Poco::JSON::Object::Ptr> out;
    auto all = receiver_.received();
    for (std::size_t i = 0; i < all->size(); ++i) {
      auto d = all->getObject(static_cast<unsigned>(i));
      EXPECT_TRUE(d->getValue<bool>("verified")) << d->optValue<std::string>("error", "");
      auto event = d->getObject("event");
      if (event && event->getValue<std::string>("type") == type) out.push_back(event);
    }
    return out;
  }

  TempFiles files_{{"scoring.yaml", kScoring}, {"nurture.yaml", kNurture}};
  FakeLinkedIn linkedin_{kToken};
  SmtpPeer smtp_;
  Receiver receiver_;
  std::string admin_;
};

TEST_P(LeadToSql, AFormLeadIsEnrichedNurturedAndBecomesSalesReady) {
  // A subscriber for the lead's score and status.
  auto endpoint = daemon_->call(
      "POST", "/v1/webhook-endpoints", admin_,
      R"({"url":")" + receiver_.url() +
          R"(","event_types":["lead.captured","lead.enriched","lead.scored","lead.status_changed"]})");
  ASSERT_EQ(endpoint.status, 201) << endpoint.body;
  receiver_.control(R"({"secret":")" + json(endpoint.body)->getValue<std::string>("secret") +
                    R"(","plan":[]})");

  // A form may feed only a buyer persona the daemon has.
  auto misnamed = daemon_->call(
      "POST", "/v1/forms", admin_,
      R"({"key":"fiera","allowed_origins":["https://fiera.example.it"],"consent_text":"Ok.",)"
      R"("persona":"plant_manger"})");
  EXPECT_EQ(misnamed.status, 422) << misnamed.body;
  EXPECT_NE(misnamed.body.find("/persona"), std::string::npos) << misnamed.body;

  // The landing page's form: a plant manager, with consent.
  auto submitted = daemon_->request(
      "POST", "/v1/forms/demo/submissions",
      "email=anna.bianchi%40officinerossi.it&first_name=Anna&azienda=Officine+Rossi&ruolo="
      "Plant+manager&consent_marketing=on&utm_source=google&utm_campaign=autunno",
      {{"Origin", "https://www.example.it"}, {"Accept", "application/json"}},
      "application/x-www-form-urlencoded");
  ASSERT_EQ(submitted.status, 201) << submitted.body;
  const std::string id = json(submitted.body)->getValue<std::string>("lead_id");
  // As the form created it (enrichment may already have followed when the lead is read).
  std::vector<Poco::JSON::Object::Ptr> captured;
  for (int i = 0; i < 200 && captured.empty(); ++i) {
    captured = delivered("lead.captured");
    if (captured.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(captured.size(), 1u);
  EXPECT_TRUE(captured[0]->getObject("data")->getObject("lead")->isNull("persona"))
      << "a title alone does not fit a persona";

  // Enriched from LinkedIn, and so matched to the persona.
  auto profiled = leadWhen(id, [](auto& l) { return !l.isNull("persona"); });
  EXPECT_EQ(profiled->getValue<std::string>("persona"), "plant_manager");
  EXPECT_EQ(profiled->getValue<std::string>("industry"), "Manufacturing");
  EXPECT_EQ(profiled->getValue<std::string>("employees_range"), "51-200");
  EXPECT_EQ(profiled->getValue<std::string>("company"), "Officine Rossi");
  EXPECT_FALSE(profiled->getObject("provenance")->has("company"));  // the lead's own

  // Enrolled, and the first email arrives through the SMTP server.
  auto got = smtp_.waitFor(1);
  ASSERT_EQ(got->size(), 1u) << daemon_->log();
  auto mail = got->getObject(0);
  EXPECT_TRUE(mail->getValue<bool>("secure"));
  EXPECT_EQ(mail->getArray("rcpt_to")->getElement<std::string>(0), "anna.bianchi@officinerossi.it");
  EXPECT_EQ(mail->getValue<std::string>("subject"), "Anna, la guida per Officine Rossi");
  const std::string html = mail->getValue<std::string>("html");
  EXPECT_EQ(lead(id)->getValue<std::string>("status"), "nurturing");

  // Opening and clicking move the score across the sales-ready threshold.
  const std::string open = linkPath(html, "/t/o/");
  const std::string click = linkPath(html, "/t/c/");
  ASSERT_FALSE(open.empty() || click.empty()) << html;
  EXPECT_EQ(daemon_->request("GET", open).status, 200);
  EXPECT_EQ(daemon_->request("GET", click).status, 302);
  auto ready = leadWhen(
      id, [](auto& l) { return l.template getValue<std::string>("status") == "sales_ready"; });
  EXPECT_EQ(ready->getValue<std::string>("status"), "sales_ready");
  EXPECT_EQ(ready->getValue<int>("score"), 65);

  // The sequence stops: days later nothing more is sent.
  auto enrolments = json(daemon_->call("GET", "/v1/nurture/enrolments?lead_id=" + id, admin_).body)
                        ->getArray("data");
  for (int i = 0; i < 100 && enrolments->getObject(0)->getValue<std::string>("status") != "stopped";
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    enrolments = json(daemon_->call("GET", "/v1/nurture/enrolments?lead_id=" + id, admin_).body)
                     ->getArray("data");
  }
  EXPECT_EQ(enrolments->getObject(0)->getValue<std::string>("status"), "stopped");
  EXPECT_EQ(enrolments->getObject(0)->getValue<std::string>("stop_reason"), "sales_ready");
  ASSERT_EQ(daemon_->advanceClock(admin_, 3 * 86400).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(smtp_.received()->size(), 1u);

  // The subscriber was told, in signed deliveries: enriched, scored, and the status moves.
  std::vector<std::string> statuses;
  for (int i = 0; i < 200; ++i) {
    statuses.clear();
    for (const auto& e : delivered("lead.status_changed"))
      statuses.push_back(e->getObject("data")->getValue<std::string>("to"));
    if (!statuses.empty() && statuses.back() == "sales_ready") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(statuses, (std::vector<std::string>{"nurturing", "sales_ready"}));
  const auto scored = delivered("lead.scored");
  ASSERT_FALSE(scored.empty());
  EXPECT_EQ(scored.back()->getObject("data")->getObject("lead")->getValue<int>("score"), 65);
  ASSERT_EQ(delivered("lead.enriched").size(), 1u);
  EXPECT_EQ(delivered("lead.enriched")[0]->getObject("data")->getValue<std::string>("source"),
            "linkedin");
}

CICLO_ON_BOTH_BACKENDS(LeadToSql);

}  // namespace
}  // namespace ciclo::testing
