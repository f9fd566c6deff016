// The plugin host in the running daemon, with the SDK's test plugin.

#include <thread>

#include "fixture.h"

namespace ciclo::testing {
namespace {

std::string pluginYaml(const std::string& name, const std::string& path, bool required,
                       const std::string& config) {
  return "plugins:\n  - name: " + name + "\n    path: " + path +
         "\n    required: " + (required ? "true" : "false") + "\n" +
         (config.empty() ? "" : "    config:\n" + config);
}

class Plugins : public DaemonTest {
 protected:
  DaemonOptions daemonOptions() override {
    DaemonOptions o;
    o.clock_control = true;
    o.extra_yaml = pluginYaml("echo", CICLO_PLUGIN_DIR "/echo.so", true,
                              "      greeting: ciao\n      tick_seconds: 60\n");
    return o;
  }

  Poco::JSON::Object::Ptr state() { return json(daemon_->request("GET", "/v1/echo/state").body); }

  template <typename Predicate>
  bool eventually(Predicate p) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!p()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
  }
};

TEST_P(Plugins, RoutesEventsAndJobsOfAPluginWork) {
  EXPECT_EQ(state()->getValue<std::string>("greeting"), "ciao")
      << "the plugin read its config section";

  // A route behind a scope, with the host's body limit and error handling.
  EXPECT_EQ(daemon_->request("POST", "/v1/echo/things", "{}").status, 401);
  EXPECT_EQ(daemon_->call("POST", "/v1/echo/things", reader_, "{}").status, 403);
  auto plain = daemon_->request("POST", "/v1/echo/things", "just text",
                                {{"Authorization", "Bearer " + writer_}}, "text/plain");
  EXPECT_EQ(plain.status, 201) << "the route accepts the media types its plugin declared";
  EXPECT_EQ(daemon_
                ->request("POST", "/v1/echo/things", "<x/>",
                          {{"Authorization", "Bearer " + writer_}}, "application/xml")
                .status,
            415);
  auto created = daemon_->call("POST", "/v1/echo/things", writer_, "{}");
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(json(created.body)->getValue<std::string>("caller"), "crm");
  EXPECT_EQ(
      daemon_
          ->call("POST", "/v1/echo/things", writer_, "{\"x\":\"" + std::string(2000, 'x') + "\"}")
          .status,
      413);
  auto thrown = daemon_->call("POST", "/v1/echo/things", writer_, R"({"boom":1})");
  EXPECT_EQ(thrown.status, 500);
  EXPECT_EQ(thrown.header("content-type"), "application/problem+json");
  EXPECT_EQ(daemon_->request("GET", "/healthz").status, 200)
      << "a throwing plugin does not take the daemon down";

  // An event subscription.
  const std::string lead =
      json(post("/v1/leads", R"({"email":"plug@example.it"})").body)->getValue<std::string>("id");
  EXPECT_TRUE(eventually([&] { return state()->getValue<int>("captured") == 1; }));
  EXPECT_EQ(state()->getValue<std::string>("last_lead"), lead);
  EXPECT_NE(daemon_->request("GET", "/metrics").body.find("ciclo_plugin_echo_captured_total 1"),
            std::string::npos);

  // A scheduled job runs when the daemon's clock passes its time.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(state()->getValue<int>("ticks"), 0);
  auto admin = daemon_->createKey("admin", "ops");
  ASSERT_EQ(daemon_->advanceClock(admin, 61).status, 200);
  EXPECT_TRUE(eventually([&] { return state()->getValue<int>("ticks") == 1; }));
}

TEST_P(Plugins, APluginsPositionSurvivesARestart) {
  post("/v1/leads", R"({"email":"one@example.it"})");
  ASSERT_TRUE(eventually([&] { return state()->getValue<int>("captured") == 1; }));
  ASSERT_EQ(daemon_->stop(), 0);
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  post("/v1/leads", R"({"email":"two@example.it"})");
  ASSERT_TRUE(eventually([&] { return state()->getValue<int>("captured") == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(state()->getValue<int>("captured"), 1)
      << "only the event after the restart, none twice";
}

CICLO_ON_BOTH_BACKENDS(Plugins);

TEST(PluginHost, RefusesWhatDoesNotFitAndStopsTheStartForRequiredPlugins) {
  struct Case {
    std::string yaml;
    std::string message;
  };
  const std::vector<Case> cases{
      {pluginYaml("echo", "/nonexistent/echo.so", true, ""),
       "plugin echo (/nonexistent/echo.so) is refused: cannot load"},
      {pluginYaml("echo", CICLO_TEST_PLUGIN_DIR "/echo_foreign.so", true, ""),
       "is refused: it was built against other SDK headers (hash 0000000000000000"},
      {pluginYaml("echo", CICLO_PLUGIN_DIR "/echo.so", true, "      bogus: 1\n"),
       "ciclo.yaml: plugins.echo.config.bogus: is not a known setting"},
      {pluginYaml("echo", CICLO_PLUGIN_DIR "/echo.so", true, "      tick_seconds: 0\n"),
       "ciclo.yaml: plugins.echo.config.tick_seconds: must be between 1 and 86400"},
      {pluginYaml("Echo!", CICLO_PLUGIN_DIR "/echo.so", true, ""),
       "plugins[0].name: must be 1 to 32 characters"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.message);
    DaemonOptions o;
    o.extra_yaml = c.yaml;
    Daemon d(o);
    EXPECT_FALSE(d.start());
    EXPECT_NE(d.log().find(c.message), std::string::npos) << d.log();
  }
}

TEST(PluginHost, AnOptionalPluginThatFailsIsSkipped) {
  DaemonOptions o;
  o.extra_yaml = pluginYaml("echo", "/nonexistent/echo.so", false, "");
  Daemon d(o);
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_EQ(d.request("GET", "/healthz").status, 200);
  EXPECT_EQ(d.request("GET", "/v1/echo/state").status, 404);
  EXPECT_EQ(d.stop(), 0);
  EXPECT_NE(d.log().find("it is optional"), std::string::npos);
}

}  // namespace
}  // namespace ciclo::testing

namespace ciclo::testing {
namespace {

TEST_P(Plugins, CaptureLeadsThroughTheSdkIdempotently) {
  // Waiting for the result, and answered later once it is committed: the same captures.
  for (const std::string route : {"/v1/echo/capture", "/v1/echo/capture-later"}) {
    SCOPED_TRACE(route);
    const std::string tag = route.ends_with("later") ? "later" : "now";
    const std::string email = "Sdk-" + tag + "%40Example.IT";
    auto first = daemon_->call("POST", route + "?email=" + email + "&first_name=Sara&key=k1-" + tag,
                               writer_);
    ASSERT_EQ(first.status, 200) << first.body;
    auto r1 = json(first.body);
    EXPECT_EQ(r1->getValue<std::string>("outcome"), "created");
    EXPECT_FALSE(r1->getValue<bool>("replayed"));
    const std::string id = r1->getValue<std::string>("lead_id");
    auto lead = json(get("/v1/leads/" + id).body);
    EXPECT_EQ(lead->getValue<std::string>("email"), "sdk-" + tag + "@example.it")
        << "the lead is readable once the answer is given";
    EXPECT_EQ(lead->getObject("first_touch")->getValue<std::string>("source"), "referral");
    EXPECT_EQ(lead->getObject("first_touch")->getValue<std::string>("partner"), "echo-partner");

    auto again = json(
        daemon_->call("POST", route + "?email=" + email + "&first_name=Sara&key=k1-" + tag, writer_)
            .body);
    EXPECT_EQ(again->getValue<std::string>("lead_id"), id);
    EXPECT_TRUE(again->getValue<bool>("replayed"));
    auto reused = daemon_->call(
        "POST", route + "?email=sdk-" + tag + "%40example.it&first_name=Sara&key=k1-" + tag,
        writer_);
    EXPECT_EQ(reused.status, 422) << "the same key with another request";
    EXPECT_NE(reused.body.find("idempotency-key-reused"), std::string::npos);
    auto bad = daemon_->call("POST", route + "?email=not-an-email&key=k2-" + tag, writer_);
    EXPECT_EQ(bad.status, 422);
    EXPECT_NE(bad.body.find("\"field\":\"email\""), std::string::npos) << bad.body;
    auto merged = json(
        daemon_
            ->call("POST", route + "?email=sdk-" + tag + "%40example.it&first_name=Other", writer_)
            .body);
    EXPECT_EQ(merged->getValue<std::string>("outcome"), "unchanged");
    EXPECT_EQ(merged->getValue<std::string>("lead_id"), id);
  }
  // The result is handed over on the store's answering thread, where a write or a waiting
  // capture would wait for itself: each is refused instead of hanging the daemon.
  auto later = daemon_->call("POST", "/v1/echo/capture-later?email=nested%40example.it", writer_);
  EXPECT_EQ(later.status, 200) << later.body;
  EXPECT_EQ(later.header("x-nested-write"), "refused");
  EXPECT_EQ(later.header("x-nested-capture"), "refused");
}

TEST_P(Plugins, ARouteAnsweredLaterGetsOneAnswerWhateverItsHandlerDoes) {
  auto fromThread = daemon_->call("POST", "/v1/echo/later?mode=thread", writer_);
  EXPECT_EQ(fromThread.status, 200) << "answered from another thread; only the first answer counts";
  EXPECT_EQ(fromThread.body, R"({"from":"thread"})");
  auto dropped = daemon_->call("POST", "/v1/echo/later?mode=drop", writer_);
  EXPECT_EQ(dropped.status, 500) << "a handler that lets go of its answer without giving it";
  EXPECT_EQ(dropped.header("content-type"), "application/problem+json");
  auto thrown = daemon_->call("POST", "/v1/echo/later?mode=throw", writer_);
  EXPECT_EQ(thrown.status, 500);
  EXPECT_EQ(thrown.header("content-type"), "application/problem+json");
  EXPECT_EQ(daemon_->call("POST", "/v1/echo/later?mode=other", writer_).status, 400);
  EXPECT_EQ(daemon_->request("GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace ciclo::testing

namespace ciclo::testing {
namespace {

TEST_P(Plugins, KeepTheirOwnTablesAndReachOutOnlyThroughTheConnector) {
  const std::vector<std::pair<std::string, std::string>> auth{
      {"Authorization", "Bearer " + writer_}};
  auto first = daemon_->request("POST", "/v1/echo/notes", "first note", auth, "text/plain");
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(json(daemon_->request("POST", "/v1/echo/notes", "second", auth, "text/plain").body)
                ->getValue<int>("notes"),
            2);
  auto peek = daemon_->call("GET", "/v1/echo/peek", reader_);
  EXPECT_EQ(peek.status, 409);
  EXPECT_NE(peek.body.find("only its own tables (p_echo_...), not leads"), std::string::npos)
      << peek.body;
  // The host remembers the statements it allowed, never one it refused.
  EXPECT_EQ(daemon_->call("GET", "/v1/echo/peek", reader_).status, 409);
  // The connector refuses loopback: the daemon's own port is not reachable from a plugin.
  auto fetched = json(daemon_
                          ->call("POST",
                                 "/v1/echo/fetch?url=http%3A%2F%2F127.0.0.1%3A" +
                                     std::to_string(daemon_->port()) + "%2Fhealthz",
                                 writer_)
                          .body);
  EXPECT_EQ(fetched->getValue<std::string>("kind"), "permanent");
  EXPECT_NE(fetched->getValue<std::string>("error").find("not allowed"), std::string::npos);
  // The plugin's migration ran once, across restarts.
  ASSERT_EQ(daemon_->stop(), 0);
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  EXPECT_EQ(json(daemon_->request("POST", "/v1/echo/notes", "third", auth, "text/plain").body)
                ->getValue<int>("notes"),
            3);
}

}  // namespace
}  // namespace ciclo::testing

namespace ciclo::testing {
namespace {

TEST_P(Plugins, AFailingSubscriberGetsTheSameEventAgain) {
  ASSERT_EQ(daemon_->call("POST", "/v1/echo/fail?times=2", writer_).status, 204);
  const std::string lead =
      json(post("/v1/leads", R"({"email":"again@example.it"})").body)->getValue<std::string>("id");
  EXPECT_TRUE(eventually([&] { return state()->getValue<int>("captured") == 1; }));
  auto s = state();
  EXPECT_EQ(s->getValue<int>("deliveries"), 3) << "two failures, then the same event once more";
  EXPECT_EQ(s->getValue<std::string>("last_lead"), lead);
}

}  // namespace
}  // namespace ciclo::testing
