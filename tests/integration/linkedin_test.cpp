// LinkedIn enrichment with the real daemon and the linkedin plugin against a local fake of
// LinkedIn's REST API (tests/support/fake_linkedin.h): a captured lead's company is looked
// up by its email domain and fills only what nobody entered, with provenance, on the
// timeline, and profiles the lead again; the access level decides which fields are read;
// answers are cached; a 429 and the daily quota hold lookups back until their time on the
// daemon's clock; failures are tried again; and the on-demand API.

#include <thread>

#include "integration/fixture.h"
#include "support/fake_linkedin.h"

namespace ciclo::testing {
namespace {

class LinkedIn : public DaemonTest {
 protected:
  LinkedIn() {
    linkedin_.add(FakeLinkedIn::officineRossi());
    linkedin_.add({42,
                   "Bianchi Logistica",
                   "bianchi-logistica",
                   {"bianchi.example"},
                   "https://bianchi.example",
                   "IT",
                   "Milano",
                   {},
                   "",
                   false});
    linkedin_.addIndustry(55, "Manufacturing");
    // An answer the host refuses: a city of two lines.
    linkedin_.add({7,
                   "Torre Srl",
                   "torre",
                   {"torre.example"},
                   "https://torre.example",
                   "IT",
                   "Pisa\nToscana",
                   {},
                   "",
                   false});
  }
  virtual std::string pluginSettings() { return "access: admin\n"; }
  DaemonOptions daemonOptions() override {
    DaemonOptions o;
    o.clock_control = true;
    settings_ =
        std::make_unique<TempFiles>(std::initializer_list<std::pair<std::string, std::string>>{
            {"linkedin.yaml", "base_url: " + linkedin_.baseUrl() + "\naccess_token: " + kToken +
                                  "\nversion: \"202411\"\nattempts: 1\n" + pluginSettings()}});
    o.extra_yaml = "profiling:\n  personas: " + std::string(CICLO_SOURCE_DIR) +
                   "/config/personas.yaml\noutbound:\n  allow_private_networks: true\n"
                   "plugins:\n  - name: linkedin\n    path: " +
                   std::string(CICLO_PLUGIN_DIR) +
                   "/linkedin.so\n    config: " + settings_->path("linkedin.yaml") + "\n";
    return o;
  }
  void SetUp() override {
    DaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    admin_ = daemon_->createKey("admin", "ops");
  }

  std::string capture(const std::string& email, const std::string& extra = "") {
    auto r =
        post("/v1/leads", R"({"email":")" + email +
                              R"(","first_name":"Anna","job_title":"Plant manager")" + extra + "}");
    EXPECT_EQ(r.status, 201) << r.body;
    return json(r.body)->getValue<std::string>("id");
  }
  static bool enriched(Poco::JSON::Object& l) { return l.getObject("provenance")->size() > 0; }
  void advance(long long seconds) {
    auto r = daemon_->advanceClock(admin_, seconds);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  Poco::JSON::Object::Ptr status() { return json(get("/v1/linkedin/status").body); }

  static constexpr const char* kToken = "AQX-test-token_0123456789";
  FakeLinkedIn linkedin_{kToken};
  std::unique_ptr<TempFiles> settings_;
  std::string admin_;
};

TEST_P(LinkedIn, ACapturedLeadIsEnrichedWithoutTouchingWhatItEntered) {
  const std::string id = capture("anna@officinerossi.it", R"(,"company":"Rossi Officine Srl")");
  EXPECT_TRUE(lead(id)->isNull("persona"));  // a plant manager, little else known yet
  const auto l = leadWhen(id, enriched);
  EXPECT_EQ(l->getValue<std::string>("industry"), "Manufacturing");
  EXPECT_EQ(l->getValue<std::string>("employees_range"), "51-200");
  EXPECT_EQ(l->getValue<std::string>("website"), "https://www.officinerossi.it");
  EXPECT_EQ(l->getValue<std::string>("country"), "IT");
  EXPECT_EQ(l->getValue<std::string>("city"), "Bergamo");
  EXPECT_EQ(l->getValue<std::string>("company"), "Rossi Officine Srl");  // the lead's own
  auto provenance = l->getObject("provenance");
  EXPECT_EQ(provenance->size(), 5u);
  EXPECT_FALSE(provenance->has("company"));
  EXPECT_EQ(provenance->getObject("industry")->getValue<std::string>("source"), "linkedin");
  EXPECT_EQ(provenance->getObject("industry")->getValue<std::string>("reference"),
            "urn:li:organization:1337");
  // Now the profile says enough for the persona (industry, size band, country, title).
  auto profiled = leadWhen(id, [](auto& x) { return !x.isNull("persona"); });
  EXPECT_EQ(profiled->getValue<std::string>("persona"), "plant_manager");
  const auto kinds = timelineKinds(id);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "lead.enriched"), kinds.end());
  auto timeline = json(get("/v1/leads/" + id + "/timeline").body)->getArray("data");
  for (std::size_t i = 0; i < timeline->size(); ++i) {
    auto e = timeline->getObject(static_cast<unsigned>(i));
    if (e->getValue<std::string>("kind") != "lead.enriched") continue;
    EXPECT_EQ(e->getValue<std::string>("summary"),
              "enriched from linkedin: website industry country city employees_range");
    EXPECT_EQ(e->getValue<std::string>("actor"), "plugin:linkedin");
  }
  // The calls LinkedIn got: the email-domain finder and the industry's name.
  const auto requests = linkedin_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0], "GET /rest/organizations?q=emailDomain&emailDomain=officinerossi.it");
  EXPECT_EQ(requests[1], "GET /rest/industryTaxonomyVersions/DEFAULT/industries/55");

  // A second lead of the same company comes from the cache; a person's edit is theirs.
  const std::string colleague = capture("marco@officinerossi.it");
  leadWhen(colleague, enriched);
  EXPECT_EQ(linkedin_.calls(), 2) << ::testing::PrintToString(linkedin_.requests());
  auto patched = daemon_->call("PATCH", "/v1/leads/" + id, writer_, R"({"industry":"Robotics"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_FALSE(json(patched.body)->getObject("provenance")->has("industry"));
  auto again = post("/v1/leads/" + id + "/enrichment", R"({"refresh":true})");
  ASSERT_EQ(again.status, 200) << again.body;
  auto answer = json(again.body);
  EXPECT_FALSE(answer->getValue<bool>("cached"));
  EXPECT_EQ(answer->getArray("kept")->size(), 2u);  // company and industry
  EXPECT_EQ(answer->getArray("filled")->size(), 0u);
  EXPECT_EQ(lead(id)->getValue<std::string>("industry"), "Robotics");
}

TEST_P(LinkedIn, ThrottlingAndFailuresHoldLookupsBackUntilTheirTime) {
  linkedin_.throttle(1, "120");
  const std::string id = capture("anna@bianchi.example");
  auto s = status();
  for (int i = 0; i < 100 && s->isNull("rate_limited_until"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    s = status();
  }
  ASSERT_FALSE(s->isNull("rate_limited_until")) << "the 429 was not honoured";
  EXPECT_EQ(s->getObject("queue")->getValue<int>("pending"), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(linkedin_.calls(), 1);  // nothing more asked while limited
  // The on-demand API says so too, with the time left.
  auto limited = post("/v1/leads/" + id + "/enrichment", "");
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(json(limited.body)->getValue<std::string>("type"), "/problems/rate-limited");
  advance(121);
  auto l = leadWhen(id, enriched);
  EXPECT_EQ(l->getValue<std::string>("city"), "Milano");
  EXPECT_TRUE(l->isNull("industry"));  // not administered: member fields only

  // A server failure is tried again after a backoff on the daemon's clock.
  linkedin_.fail(1, 503);
  const std::string other = capture("luca@nowhere-known.example");
  for (int i = 0; i < 100 && status()->getObject("queue")->getValue<int>("retrying") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(status()->getObject("queue")->getValue<int>("retrying"), 1);
  EXPECT_EQ(linkedin_.calls(), 3);
  advance(130);
  for (int i = 0; i < 100 && status()->getObject("queue")->getValue<int>("pending") > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(status()->getObject("queue")->getValue<int>("pending"), 0);
  EXPECT_EQ(lead(other)->getObject("provenance")->size(), 0u);  // LinkedIn knows no such company
}

TEST_P(LinkedIn, TheOnDemandApiRefusesBadInputAndReportsUpstreamErrors) {
  const std::string id = capture("anna@gmail.com");  // free mail: no company domain
  auto none = post("/v1/leads/" + id + "/enrichment", "{}");
  EXPECT_EQ(none.status, 422) << none.body;
  EXPECT_EQ(json(none.body)->getValue<std::string>("type"), "/problems/nothing-to-look-up");
  for (const char* bad : {R"({"vanity_name":"a/b"})", R"({"vanity_name":12})",
                          R"({"refresh":"yes"})", R"({"other":1})", R"({"vanity_name":""})"}) {
    auto r = post("/v1/leads/" + id + "/enrichment", bad);
    EXPECT_EQ(r.status, 422) << bad << ": " << r.body;
  }
  EXPECT_EQ(post("/v1/leads/" + id + "/enrichment", "[1]").status, 400);
  EXPECT_EQ(post("/v1/leads/lead_nope/enrichment", "{}").status, 404);
  EXPECT_EQ(daemon_->call("POST", "/v1/leads/" + id + "/enrichment", reader_, "{}").status, 403);
  EXPECT_EQ(linkedin_.calls(), 0);
  linkedin_.fail(1, 500);
  auto failed = post("/v1/leads/" + id + "/enrichment", R"({"vanity_name":"officine-rossi"})");
  EXPECT_EQ(failed.status, 502) << failed.body;
  EXPECT_EQ(json(failed.body)->getValue<std::string>("type"), "/problems/upstream-failed");
  EXPECT_EQ(lead(id)->getObject("provenance")->size(), 0u);
  auto found = post("/v1/leads/" + id + "/enrichment", R"({"vanity_name":"officine-rossi"})");
  ASSERT_EQ(found.status, 200) << found.body;
  auto answer = json(found.body);
  EXPECT_TRUE(answer->getValue<bool>("found"));
  EXPECT_EQ(answer->getValue<std::string>("lookup"), "vanity:officine-rossi");
  EXPECT_EQ(answer->getValue<std::string>("reference"), "urn:li:organization:1337");
  EXPECT_EQ(answer->getObject("organization")->getValue<std::string>("industry"), "Manufacturing");
  EXPECT_EQ(lead(id)->getObject("provenance")->size(), 6u);  // and the company's name
  auto unknown = post("/v1/leads/" + id + "/enrichment", R"({"vanity_name":"nobody-here"})");
  ASSERT_EQ(unknown.status, 200) << unknown.body;
  EXPECT_FALSE(json(unknown.body)->getValue<bool>("found"));
}

TEST_P(LinkedIn, AnAnswerTheLeadCannotTakeEndsTheLookupAndChangesNothing) {
  const std::string id = capture("anna@torre.example");
  for (int i = 0; i < 100 && linkedin_.calls() < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (int i = 0; i < 100 && status()->getObject("queue")->getValue<int>("pending") > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(status()->getObject("queue")->getValue<int>("pending"), 0) << "not tried forever";
  EXPECT_EQ(lead(id)->getObject("provenance")->size(), 0u);
  EXPECT_TRUE(lead(id)->isNull("website"));
  auto r = post("/v1/leads/" + id + "/enrichment", "{}");
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(json(r.body)->getValue<std::string>("type"), "/problems/upstream-failed");
  EXPECT_NE(json(r.body)->getValue<std::string>("detail").find("city"), std::string::npos)
      << r.body;
  EXPECT_EQ(linkedin_.calls(), 1);  // the second answer came from the cache
  EXPECT_EQ(lead(id)->getObject("provenance")->size(), 0u);
}

TEST_P(LinkedIn, ALookupThatKeepsFailingIsGivenUpAfterRetryFor) {
  linkedin_.fail(1000, 503);
  const std::string id = capture("anna@officinerossi.it");
  auto retrying = [&] { return status()->getObject("queue")->getValue<int>("retrying"); };
  for (int i = 0; i < 100 && retrying() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(retrying(), 1);
  advance(24 * 3600);  // within retry_for (3 days): tried again, still queued
  for (int i = 0; i < 100 && linkedin_.calls() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(status()->getObject("queue")->getValue<int>("pending"), 1);
  advance(3 * 24 * 3600);  // past it: the next failure ends the lookup
  for (int i = 0; i < 100 && status()->getObject("queue")->getValue<int>("pending") > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(status()->getObject("queue")->getValue<int>("pending"), 0);
  EXPECT_EQ(linkedin_.calls(), 3);
  EXPECT_EQ(lead(id)->getObject("provenance")->size(), 0u);
  EXPECT_NE(daemon_->log().find("linkedin: gave up enriching " + id), std::string::npos);
}

CICLO_ON_BOTH_BACKENDS(LinkedIn);

TEST(LinkedInSettings, AreCheckedAtStart) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"version: \"202411\"\n", "linkedin.yaml: access_token: is required"},
      {"access_token: t\nversion: \"2024-11\"\n",
       "linkedin.yaml: version: must be a LinkedIn API version"},
      {"access_token: t\naccess: owner\n", "linkedin.yaml: access: must be member"},
      {"access_token: t\nbase_url: ftp://x\n", "linkedin.yaml: base_url: must be"},
      {"access_token: t\nproxy: socks5://p:1080\n", "linkedin.yaml: proxy: must be"},
      {"access_token: t\ncache_ttl: soon\n", "linkedin.yaml: cache_ttl: expected"},
  };
  for (const auto& [settings, message] : cases) {
    SCOPED_TRACE(message);
    TempFiles files{{"linkedin.yaml", settings}};
    DaemonOptions o;
    o.extra_yaml = "plugins:\n  - name: linkedin\n    path: " + std::string(CICLO_PLUGIN_DIR) +
                   "/linkedin.so\n    config: " + files.path("linkedin.yaml") + "\n";
    Daemon d(o);
    EXPECT_FALSE(d.start());
    EXPECT_NE(d.log().find(message), std::string::npos) << d.log();
  }
}

// Member access: the fields only administrators get are never read, even when present.
class LinkedInMember : public LinkedIn {
 protected:
  std::string pluginSettings() override { return "access: member\ndaily_quota: 1\n"; }
};

TEST_P(LinkedInMember, ReadsMemberFieldsOnlyAndKeepsToTheDailyQuota) {
  const std::string id = capture("anna@officinerossi.it");
  auto l = leadWhen(id, enriched);
  EXPECT_EQ(l->getValue<std::string>("website"), "https://www.officinerossi.it");
  EXPECT_TRUE(l->isNull("industry"));
  EXPECT_TRUE(l->isNull("employees_range"));
  EXPECT_EQ(linkedin_.calls(), 1);
  // The quota of one call a day is used: the next company waits for the next UTC day.
  const std::string other = capture("luca@bianchi.example");
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(linkedin_.calls(), 1);
  auto s = status()->getObject("quota");
  EXPECT_EQ(s->getValue<int>("used"), 1);
  EXPECT_EQ(s->getValue<int>("limit"), 1);
  auto limited = post("/v1/leads/" + other + "/enrichment", "");
  EXPECT_EQ(limited.status, 429) << limited.body;
  advance(24 * 3600);
  EXPECT_EQ(leadWhen(other, enriched)->getValue<std::string>("city"), "Milano");
  EXPECT_EQ(linkedin_.calls(), 2);
}

CICLO_ON_BOTH_BACKENDS(LinkedInMember);

// A wrong token is LinkedIn's 401: the lookup fails and is tried again later, and capture
// goes on as ever.
class LinkedInWrongToken : public LinkedIn {
 protected:
  DaemonOptions daemonOptions() override {
    auto o = LinkedIn::daemonOptions();
    std::ofstream(settings_->path("linkedin.yaml"))
        << "base_url: " << linkedin_.baseUrl() << "\naccess_token: " << kWrong << "\nattempts: 1\n";
    return o;
  }
  static constexpr const char* kWrong = "AQX-revoked-4f1d9c";
};

TEST_P(LinkedInWrongToken, FailsTheLookupNotTheCapture) {
  const std::string id = capture("anna@officinerossi.it");
  for (int i = 0; i < 100 && linkedin_.calls() < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto r = post("/v1/leads/" + id + "/enrichment", "{}");
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_NE(json(r.body)->getValue<std::string>("detail").find("401 INVALID_ACCESS_TOKEN"),
            std::string::npos);
  EXPECT_EQ(json(r.body)->getValue<std::string>("detail").find(kWrong), std::string::npos);
  EXPECT_EQ(lead(id)->getObject("provenance")->size(), 0u);
  EXPECT_EQ(daemon_->log().find(kWrong), std::string::npos);  // the token is never logged
}

CICLO_ON_BOTH_BACKENDS(LinkedInWrongToken);

}  // namespace
}  // namespace ciclo::testing
