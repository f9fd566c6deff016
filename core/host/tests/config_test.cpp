#include "host/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace ciclo::host {
namespace {

std::string errorOf(const std::string& yaml) {
  auto r = parseConfig(yaml, "test.yaml");
  return r.ok() ? std::string("(no error)") : r.error().message;
}

TEST(Config, DefaultsWhenEmpty) {
  auto r = parseConfig("", "test.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().server.host, "127.0.0.1");
  EXPECT_EQ(r.value().server.port, 8080);
  EXPECT_EQ(r.value().store.url, "sqlite:var/ciclo.db");
  EXPECT_EQ(r.value().store.sqlite_synchronous, "full");
  EXPECT_FALSE(r.value().clock_control);
}

TEST(Config, ReadsEverySection) {
  auto r = parseConfig(R"(
server:
  listen: 0.0.0.0:9090
  threads: 64
  trusted_proxies: [10.0.0.0/8, 127.0.0.1]
store:
  url: postgresql://ciclo@db:5432/ciclo
log:
  level: debug
  requests: false
testing:
  clock_control: true
)",
                       "test.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& c = r.value();
  EXPECT_EQ(c.server.host, "0.0.0.0");
  EXPECT_EQ(c.server.port, 9090);
  EXPECT_EQ(c.server.threads, 64);
  EXPECT_EQ(c.server.trusted_proxies.size(), 2u);
  EXPECT_EQ(c.store.url, "postgresql://ciclo@db:5432/ciclo");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_FALSE(c.log_requests);
  EXPECT_TRUE(c.clock_control);
}

TEST(Config, ErrorsNameFileKeyAndReason) {
  EXPECT_EQ(errorOf("server:\n  listne: 1\n"), "test.yaml: server.listne: is not a known setting");
  EXPECT_EQ(errorOf("servers: {}\n"), "test.yaml: servers: is not a known setting");
  EXPECT_EQ(errorOf("server:\n  threads: many\n"),
            "test.yaml: server.threads: expected an integer");
  EXPECT_EQ(errorOf("server:\n  threads: 1\n"),
            "test.yaml: server.threads: must be between 4 and 4096");
  EXPECT_EQ(errorOf("server:\n  listen: localhost\n"),
            "test.yaml: server.listen: expected host:port, e.g. 127.0.0.1:8080");
  EXPECT_EQ(errorOf("server:\n  listen: 127.0.0.1:99999\n"),
            "test.yaml: server.listen: the port must be a number from 0 to 65535");
  EXPECT_EQ(errorOf("store:\n  url: mysql://x\n"),
            "test.yaml: store.url: expected sqlite:PATH or postgresql://user@host:port/database");
  EXPECT_EQ(errorOf("store:\n  sqlite_synchronous: sometimes\n"),
            "test.yaml: store.sqlite_synchronous: expected off, normal, full or extra");
  EXPECT_EQ(errorOf("log:\n  requests: maybe\n"),
            "test.yaml: log.requests: expected true or false");
  EXPECT_EQ(errorOf("server: [1, 2]\n"), "test.yaml: server: expected a mapping");
  EXPECT_EQ(errorOf("server:\n  trusted_proxies: 10.0.0.1\n"),
            "test.yaml: server.trusted_proxies: expected a list");
}

TEST(Config, TheSmtpRelay) {
  EXPECT_FALSE(parseConfig("", "test.yaml").value().smtp);
  auto r = parseConfig(R"(
mail:
  smtp:
    host: smtp.example.com
    port: 465
    tls: tls
    username: ciclo
    password: secret
    auth: login
    data_timeout_ms: 900000
)",
                       "test.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r.value().smtp);
  const auto& relay = *r.value().smtp;
  EXPECT_EQ(relay.host, "smtp.example.com");
  EXPECT_EQ(relay.port, 465);
  EXPECT_EQ(relay.tls, connectors::SmtpSettings::Tls::kImplicit);
  EXPECT_EQ(relay.username, "ciclo");
  EXPECT_EQ(relay.auth, "login");
  EXPECT_TRUE(relay.verify_certificate);
  EXPECT_EQ(relay.command_timeout, std::chrono::minutes(5));  // RFC 5321's defaults
  EXPECT_EQ(relay.data_timeout, std::chrono::minutes(15));
  EXPECT_EQ(errorOf("mail:\n  smtp:\n    host: h\n    tls: ssl\n"),
            "test.yaml: mail.smtp.tls: expected starttls, tls or none");
  EXPECT_EQ(errorOf("mail:\n  smtp:\n    host: h\n    auth: cram-md5\n"),
            "test.yaml: mail.smtp.auth: expected plain or login");
  EXPECT_EQ(errorOf("mail:\n  smtp:\n    host: h\n    ca_file: /nonexistent/ca.pem\n"),
            "test.yaml: mail.smtp.ca_file: /nonexistent/ca.pem cannot be read");
  EXPECT_EQ(errorOf("mail:\n  smtp:\n    host: h\n    port: 0\n"),
            "test.yaml: mail.smtp.port: must be between 1 and 65535");
  EXPECT_EQ(errorOf("mail:\n  relay: {}\n"), "test.yaml: mail.relay: is not a known setting");
}

TEST(Config, APluginsConfigMayBeAFileOfItsOwn) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("ciclo-plugin-config-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "ciclo.yaml") << "plugins:\n  - name: echo\n    path: echo.so\n"
                                       "    config: echo.yaml\n";
  std::ofstream(dir / "echo.yaml") << "greeting: ciao\n";
  auto r = loadConfig((dir / "ciclo.yaml").string());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& plugin = r.value().plugins.at(0);
  EXPECT_EQ(plugin.config_file, (dir / "echo.yaml").string());
  // The plugin reads it as its section; errors name that file and the key within it.
  std::string error;
  auto section = pluginConfigSection(r.value(), plugin, error);
  EXPECT_EQ(section->text("greeting", ""), "ciao");
  section->text("bogus", "");
  section->fail("bogus", "is wrong");
  EXPECT_EQ(error, (dir / "echo.yaml").string() + ": bogus: is wrong");

  std::filesystem::remove(dir / "echo.yaml");
  auto missing = loadConfig((dir / "ciclo.yaml").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, (dir / "echo.yaml").string() + ": cannot be read");
  std::filesystem::remove_all(dir);
}

TEST(Config, DuplicateKeysAreRefused) {
  EXPECT_EQ(errorOf("server:\n  threads: 8\n  threads: 16\n"),
            "test.yaml: server.threads: is given twice");
  EXPECT_EQ(errorOf("store: {}\nstore: {}\n"), "test.yaml: store: is given twice");
}

TEST(Config, SubstitutesEnvironmentVariables) {
  ::setenv("CICLO_TEST_DB", "postgresql://u@h:5432/d", 1);
  ::unsetenv("CICLO_TEST_MISSING");
  auto r = parseConfig("store:\n  url: ${CICLO_TEST_DB}\n", "test.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().store.url, "postgresql://u@h:5432/d");
  EXPECT_EQ(errorOf("store:\n  url: ${CICLO_TEST_MISSING}\n"),
            "test.yaml: store.url: environment variable CICLO_TEST_MISSING is not set");
  auto fallback =
      parseConfig("store:\n  url: ${CICLO_TEST_MISSING:-sqlite:var/x.db}\n", "test.yaml");
  ASSERT_TRUE(fallback.ok());
  EXPECT_EQ(fallback.value().store.url, "sqlite:var/x.db");
  EXPECT_EQ(errorOf("store:\n  url: ${CICLO_TEST_DB\n"),
            "test.yaml: store.url: has an unterminated ${...}");
}

TEST(Config, SyntaxErrorsNameTheLine) {
  EXPECT_EQ(errorOf("server:\n  listen: [\n"), "test.yaml: line 3: end of sequence flow not found");
  auto missing = loadConfig("/nonexistent/ciclo.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "/nonexistent/ciclo.yaml: cannot be read");
}

TEST(Config, TheShippedConfigLoadsWithItsPersonasAndScoringRules) {
  auto r = loadConfig(std::string(CICLO_SOURCE_DIR) + "/config/ciclo.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& rules = r.value().profiling;
  ASSERT_EQ(rules.personas.size(), 2u);
  EXPECT_EQ(rules.personas[0].key, "plant_manager");
  EXPECT_EQ(rules.personas[1].criteria[1].max, 1'000'000'000);  // EUR 10,000,000.00 in cents
  EXPECT_TRUE(rules.unfit.discard);
  EXPECT_EQ(rules.unfit.when_known, (std::vector<std::string>{"industry", "employees"}));

  const auto& scoring = r.value().scoring;
  EXPECT_EQ(scoring.thresholds.sales_ready, 60);
  ASSERT_EQ(scoring.behaviour.size(), 10u);
  EXPECT_EQ(scoring.behaviour[0].cap, 10);
  EXPECT_EQ(scoring.behaviour[0].cap_period, std::chrono::hours(24 * 7));
  EXPECT_EQ(scoring.behaviour[0].half_life, std::chrono::hours(24 * 14));
  EXPECT_EQ(scoring.behaviour[8].half_life, std::chrono::seconds(0));
  EXPECT_EQ(scoring.profile.back().points, -100);
}

TEST(Config, ScoringRulesErrorsNameTheFileTheKeyAndTheReason) {
  const std::string dir =
      std::filesystem::temp_directory_path() / ("ciclo-scoring-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto errorOfRules = [&](const std::string& rules) {
    std::ofstream(dir + "/scoring.yaml") << rules;
    std::ofstream(dir + "/ciclo.yaml") << "scoring:\n  rules: scoring.yaml\n";
    auto r = loadConfig(dir + "/ciclo.yaml");
    return r.ok() ? std::string("(no error)") : r.error().message.substr(dir.size() + 1);
  };
  EXPECT_EQ(errorOfRules("behaviour:\n  - {name: v, interaction: page_view, points: 1}\n"),
            "scoring.yaml: behaviour[0].interaction: must be one of page_visited, "
            "content_downloaded, video_watched, event_attended, form_submitted, email_opened, "
            "email_clicked, email_replied, unsubscribed, email_bounced");
  EXPECT_EQ(errorOfRules("behaviour:\n  - {name: v, interaction: page_visited, points: 1, "
                         "half_life: 2w}\n"),
            "scoring.yaml: behaviour[0].half_life: expected a duration such as 30m, 12h or 14d");
  EXPECT_EQ(errorOfRules("profile:\n  - {name: s, field: job_title, values: [student]}\n"),
            "scoring.yaml: profile[0].points: must be from -1000 to 1000, not 0");
  EXPECT_EQ(errorOfRules("thresholds: {nurturing: 90, sales_ready: 60}\n"),
            "scoring.yaml: thresholds.nurturing: must not be above sales_ready");
  EXPECT_EQ(errorOfRules("profile: {name: x}\n"),
            "scoring.yaml: profile: expected a list of rules");
  EXPECT_EQ(errorOfRules("behaviour:\n  - {name: v, interaction: page_visited, points: 1, "
                         "decay: 3d}\n"),
            "scoring.yaml: behaviour[0].decay: is not a known setting");
  EXPECT_EQ(errorOfRules("thresholds: {nurturing: 10, sales_ready: 60}\nprofile: []\n"),
            "(no error)");
  std::filesystem::remove_all(dir);
}

// A config in a directory of its own that names a personas file beside it.
class PersonasFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ciclo-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Result<Config> load(const std::string& personas) {
    std::ofstream(dir_ / "personas.yaml") << personas;
    std::ofstream(dir_ / "ciclo.yaml") << "profiling:\n  personas: personas.yaml\n";
    return loadConfig((dir_ / "ciclo.yaml").string());
  }
  std::string errorOf(const std::string& personas) {
    auto r = load(personas);
    if (r.ok()) return "(no error)";
    const std::string prefix = (dir_ / "personas.yaml").string() + ": ";
    const std::string& m = r.error().message;
    return m.starts_with(prefix) ? m.substr(prefix.size()) : m;
  }
  std::filesystem::path dir_;
};

TEST_F(PersonasFile, IsReadRelativeToTheConfigThatNamesIt) {
  auto r = load(R"(
personas:
  buyer:
    name: Buyer
    min_score: 40
    criteria:
      - {field: industry, values: [Retail], weight: 3}
      - {field: annual_revenue, currency: EUR, min: "1000000", max: "2500000.50"}
      - {field: employees, min: 10}
unfit:
  discard: false
)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& p = r.value().profiling.personas.at(0);
  EXPECT_EQ(p.key, "buyer");
  EXPECT_EQ(p.min_score, 40);
  ASSERT_EQ(p.criteria.size(), 3u);
  EXPECT_EQ(p.criteria[0].weight, 3);
  EXPECT_EQ(p.criteria[1].min, 100'000'000);
  EXPECT_EQ(p.criteria[1].max, 250'000'050);
  EXPECT_EQ(p.criteria[2].min, 10);
  EXPECT_FALSE(p.criteria[2].max);
  EXPECT_EQ(p.criteria[2].weight, 1);
  EXPECT_FALSE(r.value().profiling.unfit.discard);
}

TEST_F(PersonasFile, ErrorsNameThePersonasFileTheKeyAndTheReason) {
  const std::pair<std::string, std::string> cases[] = {
      {"personas:\n  b:\n    criteria:\n      - {field: revenue, values: [x]}\n",
       "personas.b.criteria[0].field: must be one of industry, employees, annual_revenue, "
       "country, job_title, source, persona, email_domain, free_mail, partner"},
      {"personas:\n  b:\n    criteria:\n      - {field: employees, min: 10, max: 5}\n",
       "personas.b.criteria[0].max: must not be less than min"},
      {"personas:\n  b:\n    criteria:\n      - {field: annual_revenue, currency: EUR, min: "
       "lots}\n",
       "personas.b.criteria[0].min: expected an amount such as 5000000.00"},
      {"personas:\n  b:\n    criteria:\n      - {field: country, values: [IT], weight: 0}\n",
       "personas.b.criteria[0].weight: must be between 1 and 100"},
      {"personas:\n  b:\n    criteria:\n      - {field: country, values: [IT], colour: red}\n",
       "personas.b.criteria[0].colour: is not a known setting"},
      {"personas:\n  b:\n    min_score: 50\n",
       "personas.b.criteria: must name at least one criterion"},
      {"personas:\n  Big Buyer:\n    criteria:\n      - {field: country, values: [IT]}\n",
       "personas.Big Buyer: a persona's key must be 1 to 64 characters of a-z, 0-9 and _"},
      {"personas:\n  b:\n    criteria: {field: country}\n",
       "personas.b.criteria: expected a list of criteria"},
      {"unfit:\n  sources: [fax]\n",
       "unfit.sources: fax is not a source: web_form, referral, import, manual, email or api"},
      {"unfit:\n  when_known: [industry, revenue]\n",
       "unfit.when_known[1]: is not a profile field"},
      {"unfit:\n  discard: yes\n", "unfit.discard: expected true or false"},
      {"personas: {}\nscoring: {}\n", "scoring: is not a known setting"},
      {"personas:\n  b: [\n", "line 3: end of sequence flow not found"},
  };
  for (const auto& [yaml, error] : cases) EXPECT_EQ(errorOf(yaml), error) << yaml;

  std::filesystem::remove(dir_ / "personas.yaml");
  std::ofstream(dir_ / "ciclo.yaml") << "profiling:\n  personas: personas.yaml\n";
  auto missing = loadConfig((dir_ / "ciclo.yaml").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, (dir_ / "personas.yaml").string() + ": cannot be read");
}

}  // namespace
}  // namespace ciclo::host
