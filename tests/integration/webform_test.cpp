// The web form plugin in the running daemon: CONTRACT.md section 1, end to end over HTTP.

#include <Poco/JSON/Array.h>

#include "fixture.h"

namespace ciclo::testing {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kUrlEncoded = "application/x-www-form-urlencoded";
constexpr const char* kSite = "https://www.example.it";

class Webform : public DaemonTest {
 protected:
  DaemonOptions daemonOptions() override {
    DaemonOptions o;
    o.clock_control = true;
    o.extra_yaml = std::string("plugins:\n  - name: webform\n    path: ") + CICLO_PLUGIN_DIR +
                   "/webform.so\n    required: true\n    config:\n" + R"(      forms:
        demo:
          name: Demo request
          fields: {nome: first_name, azienda: company, messaggio: message}
          required: [email, first_name]
          allowed_origins: [https://www.example.it]
          thank_you_url: https://www.example.it/grazie
          error_url: https://www.example.it/errore
          honeypot: fax
          min_fill_seconds: 3
          rate_limit: {per_minute: 600, burst: 50}
          consent_text: Sì, voglio ricevere notizie sui prodotti.
          persona: plant_manager
          campaign: spring
          custom_fields: [budget]
          max_custom_bytes: 20
        kiosk:
          allow_without_origin: true
          rate_limit: {per_minute: 60, burst: 5}
          consent_text: I agree.
)";
    return o;
  }

  HttpResult form(const std::string& body, Headers headers = {{"Origin", kSite}},
                  const std::string& type = kUrlEncoded, const std::string& form = "demo") {
    return daemon_->request("POST", "/v1/forms/" + form + "/submissions", body, headers, type);
  }

  std::size_t leadCount() {
    auto list = json(get("/v1/leads?limit=100").body);
    return list->getArray("data")->size();
  }

  std::string admin() {
    if (admin_.empty()) admin_ = daemon_->createKey("forms:admin,admin", "ops");
    return admin_;
  }

  void advance(int seconds) { ASSERT_EQ(daemon_->advanceClock(admin(), seconds).status, 200); }

  std::string admin_;
};

TEST_P(Webform, JsonSubmissionCreatesThenMergesTheLead) {
  auto first =
      form(R"({"email":"Anna.Rossi@Example.IT","nome":"Anna","azienda":"Rossi Srl","budget":"10k",)"
           R"("consent_marketing":"on","page_url":"https://www.example.it/demo?utm_source=ads",)"
           R"("utm_source":"ads","unknown":"ignored"})",
           {{"Origin", kSite}, {"X-Forwarded-For", "198.51.100.7"}}, "application/json");
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(first.header("access-control-allow-origin"), kSite);
  const auto answer = json(first.body);
  EXPECT_EQ(answer->getValue<std::string>("outcome"), "created");
  const std::string id = answer->getValue<std::string>("lead_id");

  auto lead = json(get("/v1/leads/" + id).body);
  EXPECT_EQ(lead->getValue<std::string>("email"), "anna.rossi@example.it");
  EXPECT_EQ(lead->getValue<std::string>("first_name"), "Anna");
  EXPECT_EQ(lead->getValue<std::string>("company"), "Rossi Srl");
  EXPECT_EQ(lead->getValue<std::string>("persona"), "plant_manager");
  EXPECT_EQ(lead->getObject("custom")->getValue<std::string>("budget"), "10k");
  EXPECT_FALSE(lead->getObject("custom")->has("unknown"));
  auto touch = lead->getObject("first_touch");
  EXPECT_EQ(touch->getValue<std::string>("source"), "web_form");
  EXPECT_EQ(touch->getValue<std::string>("channel"), "web_form:demo");
  EXPECT_EQ(touch->getObject("utm")->getValue<std::string>("source"), "ads");
  EXPECT_EQ(touch->getObject("utm")->getValue<std::string>("campaign"), "spring")
      << "the form's campaign when the page sends none";
  auto consent = lead->getObject("consent");
  ASSERT_TRUE(consent);
  EXPECT_TRUE(consent->getValue<bool>("granted"));
  EXPECT_EQ(consent->getValue<std::string>("text"), "Sì, voglio ricevere notizie sui prodotti.");
  EXPECT_EQ(consent->getValue<std::string>("page"), "https://www.example.it/demo?utm_source=ads");
  EXPECT_EQ(consent->getValue<std::string>("ip"), "127.0.0.1")
      << "X-Forwarded-For is believed only from a trusted proxy";
  EXPECT_FALSE(consent->getValue<std::string>("at").empty());

  auto again = form("email=anna.rossi%40example.it&nome=Anna&messaggio=Vorrei+una+demo");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json(again.body)->getValue<std::string>("outcome"), "merged");
  EXPECT_EQ(json(again.body)->getValue<std::string>("lead_id"), id);
  EXPECT_EQ(json(get("/v1/leads/" + id).body)->getValue<std::string>("needs"), "Vorrei una demo");
  auto timeline = json(get("/v1/leads/" + id + "/timeline").body)->getArray("data");
  ASSERT_EQ(timeline->size(), 2u) << "each submission is on the lead's timeline";
  EXPECT_EQ(leadCount(), 1u);
}

TEST_P(Webform, BrowsersGetRedirectsOrAnHtmlErrorPage) {
  const Headers browser{{"Origin", kSite}, {"Accept", "text/html,application/xhtml+xml"}};
  auto ok = form("email=a%40example.it&nome=Anna", browser);
  EXPECT_EQ(ok.status, 303);
  EXPECT_EQ(ok.header("location"), "https://www.example.it/grazie");

  auto bad = form("email=not-an-email&nome=", browser);
  EXPECT_EQ(bad.status, 303);
  EXPECT_EQ(bad.header("location"), "https://www.example.it/errore?error=nome%3A%20is%20required");
  auto badEmail = form("email=not-an-email&nome=Anna", browser);
  EXPECT_EQ(badEmail.status, 303);
  EXPECT_TRUE(badEmail.header("location").starts_with("https://www.example.it/errore?error=email"))
      << badEmail.header("location");

  // A form without an error page answers with a small HTML page, escaping what was sent.
  auto page = form("email=%3Cscript%3Ex", {{"Accept", "text/html"}}, kUrlEncoded, "kiosk");
  EXPECT_EQ(page.status, 422);
  EXPECT_TRUE(page.header("content-type").starts_with("text/html")) << page.header("content-type");
  EXPECT_EQ(page.body.find("<script>"), std::string::npos);
  EXPECT_NE(page.body.find("email"), std::string::npos);
  EXPECT_EQ(leadCount(), 1u);
}

TEST_P(Webform, OriginsOutsideTheFormsListAreRefusedAndCreateNothing) {
  const std::string body = "email=a%40example.it&nome=Anna";
  EXPECT_EQ(form(body, {{"Origin", "https://evil.example"}}).status, 403);
  EXPECT_EQ(form(body, {{"Origin", "null"}}).status, 403);
  EXPECT_EQ(form(body, {{"Origin", "http://www.example.it"}}).status, 403) << "another scheme";
  EXPECT_EQ(form(body, {}).status, 403) << "neither Origin nor Referer";
  EXPECT_EQ(form(body, {{"Referer", "https://evil.example/page"}}).status, 403);
  EXPECT_EQ(leadCount(), 0u);
  EXPECT_EQ(form(body, {{"Referer", "https://www.example.it/landing?x=1"}}).status, 201);
  EXPECT_EQ(form("email=b%40example.it", {}, kUrlEncoded, "kiosk").status, 201)
      << "a form that allows posts without an origin";

  auto preflight = daemon_->request("OPTIONS", "/v1/forms/demo/submissions", "",
                                    {{"Origin", kSite}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.header("access-control-allow-origin"), kSite);
  EXPECT_NE(preflight.header("access-control-allow-headers").find("Idempotency-Key"),
            std::string::npos);
  auto refused = daemon_->request("OPTIONS", "/v1/forms/demo/submissions", "",
                                  {{"Origin", "https://evil.example"}});
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.header("access-control-allow-origin"), "");
}

TEST_P(Webform, BotsLookServedAndCreateNothing) {
  auto honeypot = form("email=bot%40example.it&nome=Bot&fax=123");
  ASSERT_EQ(honeypot.status, 201);
  const std::string decoy = json(honeypot.body)->getValue<std::string>("lead_id");
  EXPECT_TRUE(decoy.starts_with("lead_") && decoy.size() == 31) << decoy;
  EXPECT_EQ(get("/v1/leads/" + decoy).status, 404);

  // The embed script carries a signed start time; a form sent back too fast is a bot's.
  auto script = daemon_->request("GET", "/v1/forms/demo/embed.js");
  ASSERT_EQ(script.status, 200);
  EXPECT_TRUE(script.header("content-type").starts_with("text/javascript"));
  const auto at = script.body.find("\"started\":\"");
  ASSERT_NE(at, std::string::npos);
  const std::string token = script.body.substr(at + 11, script.body.find('"', at + 11) - at - 11);
  EXPECT_EQ(form("email=fast%40example.it&nome=F&ciclo_started=" + token).status, 201);
  EXPECT_EQ(form("email=forged%40example.it&nome=F&ciclo_started=1.abc").status, 201);
  EXPECT_EQ(leadCount(), 0u);
  advance(5);
  auto person = form("email=person%40example.it&nome=P&ciclo_started=" + token);
  ASSERT_EQ(person.status, 201);
  EXPECT_EQ(leadCount(), 1u);
  const auto metrics = daemon_->request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("ciclo_plugin_webform_trapped_total 3"), std::string::npos) << metrics;
}

TEST_P(Webform, ARepeatedSubmissionAnswersAsTheFirstAndACorrectedOneGoesThrough) {
  auto invalid = form("email=broken&nome=Anna&submission_id=s-1");
  ASSERT_EQ(invalid.status, 422) << invalid.body;
  EXPECT_EQ(json(invalid.body)->getArray("errors")->getObject(0)->getValue<std::string>("field"),
            "email");
  auto first = form("email=anna%40example.it&nome=Anna&submission_id=s-1");
  ASSERT_EQ(first.status, 201) << first.body;
  auto repeat = form("email=anna%40example.it&nome=Anna&submission_id=s-1");
  EXPECT_EQ(repeat.status, 201);
  EXPECT_EQ(repeat.body, first.body);
  auto header =
      form("email=maria%40example.it&nome=Maria", {{"Origin", kSite}, {"Idempotency-Key", "k-9"}});
  auto headerAgain =
      form("email=maria%40example.it&nome=Maria", {{"Origin", kSite}, {"Idempotency-Key", "k-9"}});
  EXPECT_EQ(header.body, headerAgain.body);
  EXPECT_EQ(form("email=other%40example.it&nome=O", {{"Origin", kSite}, {"Idempotency-Key", "k-9"}})
                .status,
            422)
      << "the same key with another body";
  EXPECT_EQ(leadCount(), 2u);
}

TEST_P(Webform, OneClientSubmittingTooFastIsSlowedDown) {
  auto kiosk = [&](const std::string& body) { return form(body, {}, kUrlEncoded, "kiosk"); };
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(kiosk("email=p" + std::to_string(i) + "%40example.it").status, 201) << i;
  }
  auto limited = kiosk("email=p9%40example.it");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.header("retry-after"), "1");
  EXPECT_EQ(json(limited.body)->getValue<std::string>("type"), "/problems/too-many-submissions");
  EXPECT_EQ(form("email=p9%40example.it&nome=P").status, 201) << "each form has its own bucket";
  advance(1);
  EXPECT_EQ(kiosk("email=p10%40example.it").status, 201);
  EXPECT_EQ(kiosk("email=p11%40example.it").status, 429);
}

TEST_P(Webform, BadSubmissionsGetClearProblems) {
  const std::size_t before = leadCount();
  auto missing = form("email=a%40example.it");
  ASSERT_EQ(missing.status, 422);
  EXPECT_EQ(json(missing.body)->getArray("errors")->getObject(0)->getValue<std::string>("field"),
            "nome")
      << "named as the page sends it";
  EXPECT_EQ(form("email=a%40example.it&nome=A&nome=B").status, 422) << "a field twice";
  EXPECT_EQ(form("email=a%40example.it&nome=A&budget=" + std::string(21, 'x')).status, 422);
  EXPECT_EQ(form("email=a%40example.it&nome=A%0D%0ABcc:%20x").status, 422) << "CRLF in a name";
  EXPECT_EQ(form("email=a%40example.it&nome=A%00").status, 422) << "NUL";
  EXPECT_EQ(form("email=%ZZ").status, 400);
  EXPECT_EQ(form("email=%C3%28&nome=A").status, 400) << "invalid UTF-8";
  EXPECT_EQ(form("{\"email\":", {{"Origin", kSite}}, "application/json").status, 400);
  EXPECT_EQ(form("email=a", {{"Origin", kSite}}, "text/plain").status, 415);
  EXPECT_EQ(form(std::string(70 * 1024, 'a')).status, 413);
  EXPECT_EQ(form("email=a%40example.it&nome=A", {{"Origin", kSite}}, kUrlEncoded, "nope").status,
            404);
  const std::string file =
      "--b\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@example.it\r\n"
      "--b\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.pdf\"\r\n"
      "Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--b--\r\n";
  auto withFile = form(file, {{"Origin", kSite}}, "multipart/form-data; boundary=b");
  EXPECT_EQ(withFile.status, 422) << withFile.body;
  std::string many;
  for (int i = 0; i < 10000; ++i) many += "f" + std::to_string(i) + "=1&";
  EXPECT_EQ(form(many.substr(0, 60000)).status, 400) << "thousands of fields";
  EXPECT_EQ(leadCount(), before);

  const std::string multipart =
      "--b\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nm@example.it\r\n"
      "--b\r\nContent-Disposition: form-data; name=\"nome\"\r\n\r\nMara\r\n--b--\r\n";
  EXPECT_EQ(form(multipart, {{"Origin", kSite}}, "multipart/form-data; boundary=b").status, 201);
}

TEST_P(Webform, OperatorsManageFormsThroughTheAdminApi) {
  const std::string body =
      R"({"key":"fiera","allowed_origins":["https://fiera.example.it"],"consent_text":"Ok.",)"
      R"("required":["email"],"rate_limit":{"per_minute":30,"burst":10}})";
  EXPECT_EQ(daemon_->call("POST", "/v1/forms", writer_, body).status, 403) << "needs forms:admin";
  auto created = daemon_->call("POST", "/v1/forms", admin(), body);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(daemon_->call("POST", "/v1/forms", admin(), body).status, 409);
  EXPECT_EQ(
      form("email=v%40example.it", {{"Origin", "https://fiera.example.it"}}, kUrlEncoded, "fiera")
          .status,
      201);
  auto list = json(daemon_->call("GET", "/v1/forms", admin()).body)->getArray("data");
  EXPECT_EQ(list->size(), 3u);

  auto invalid = daemon_->call("POST", "/v1/forms", admin(),
                               R"({"key":"x","allowed_origins":["https://a.it/path"]})");
  ASSERT_EQ(invalid.status, 422);
  EXPECT_NE(invalid.body.find("/allowed_origins/0"), std::string::npos) << invalid.body;
  EXPECT_EQ(daemon_->call("PUT", "/v1/forms/demo", admin(), body).status, 422)
      << "the key in the body differs from the path";
  for (const char* key : {"null", "5", "{}"}) {
    EXPECT_EQ(
        daemon_->call("PUT", "/v1/forms/fiera", admin(), std::string(R"({"key":)") + key + "}")
            .status,
        422)
        << key;
  }
  EXPECT_EQ(daemon_
                ->call("PUT", "/v1/forms/demo", admin(),
                       R"({"allowed_origins":["https://a.it"],"consent_text":"x"})")
                .status,
            409)
      << "a form from the configuration file is changed there";
  auto replaced = daemon_->call(
      "PUT", "/v1/forms/fiera", admin(),
      R"({"allowed_origins":["https://fiera.example.it"],"consent_text":"Ok.","required":["email","phone"]})");
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_EQ(
      form("email=w%40example.it", {{"Origin", "https://fiera.example.it"}}, kUrlEncoded, "fiera")
          .status,
      422);

  // Forms made through the API survive a restart.
  ASSERT_EQ(daemon_->stop(), 0);
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  auto kept = json(daemon_->call("GET", "/v1/forms/fiera", admin()).body);
  EXPECT_EQ(kept->getArray("required")->size(), 2u);
  EXPECT_EQ(daemon_->call("DELETE", "/v1/forms/fiera", admin()).status, 204);
  EXPECT_EQ(daemon_->call("DELETE", "/v1/forms/demo", admin()).status, 409);
  EXPECT_EQ(
      form("email=v%40example.it", {{"Origin", "https://fiera.example.it"}}, kUrlEncoded, "fiera")
          .status,
      404);
}

TEST_P(Webform, EveryDocumentedRouteOfThePluginIsServed) {
  EXPECT_EQ(callDocumentedPluginRoutes(*daemon_, admin(), "webform", {{"form", "demo"}}), 8);
}

CICLO_ON_BOTH_BACKENDS(Webform);

}  // namespace
}  // namespace ciclo::testing
