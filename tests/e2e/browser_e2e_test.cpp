// The example landing page (deploy/examples/landing) in a real browser: Debian's chromium,
// headless, driven by playwright-core (browser.mjs) with JavaScript on and off, against the
// web form plugin in the running daemon; and a page on another origin posting to the form.

#include <Poco/JSON/Array.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/StreamCopier.h>

#include "integration/fixture.h"

namespace ciclo::testing {
namespace {

class LandingPage : public DaemonTest {
 protected:
  DaemonOptions daemonOptions() override {
    DaemonOptions o;
    o.extra_yaml = std::string("plugins:\n  - name: webform\n    path: ") + CICLO_PLUGIN_DIR +
                   "/webform.so\n    required: true\n    config:\n      forms: {}\n";
    return o;
  }

  // Runs browser.mjs; what the browser saw.
  Poco::JSON::Object::Ptr drive() {
    const std::string admin = daemon_->createKey("forms:admin", "ops");
    Poco::Pipe out, err;
    auto process =
        Poco::Process::launch("node",
                              {std::string(CICLO_E2E_DIR) + "/browser.mjs",
                               "http://127.0.0.1:" + std::to_string(daemon_->port()), admin,
                               std::string(CICLO_SOURCE_DIR) + "/deploy/examples/landing"},
                              std::string(CICLO_E2E_DIR), nullptr, &out, &err);
    Poco::PipeInputStream outStream(out), errStream(err);
    std::string seen, errors;
    std::thread errReader([&] { Poco::StreamCopier::copyToString(errStream, errors); });
    Poco::StreamCopier::copyToString(outStream, seen);
    errReader.join();
    EXPECT_EQ(process.wait(), 0) << errors;
    return json(seen);
  }

  // The lead with this email, or null.
  Poco::JSON::Object::Ptr lead(const std::string& email) {
    auto leads = json(get("/v1/leads?limit=100").body)->getArray("data");
    for (std::size_t i = 0; leads && i < leads->size(); ++i) {
      auto l = leads->getObject(static_cast<unsigned>(i));
      if (l->optValue<std::string>("email", "") == email) return l;
    }
    return nullptr;
  }
};

TEST_P(LandingPage, ABrowserFillsTheFormWithAndWithoutJavaScript) {
  auto seen = drive();
  const std::string landing = seen->getValue<std::string>("landing");

  // Script on: thank-you page, and the lead with its UTM data, page and consent.
  auto on = seen->getObject("scriptOn");
  ASSERT_TRUE(on) << "the browser run did not finish";
  EXPECT_EQ(on->getValue<std::string>("url"), landing + "/grazie.html");
  EXPECT_EQ(on->getValue<std::string>("heading"), "Grazie!");
  auto ada = lead("js-on@example.com");
  ASSERT_TRUE(ada);
  EXPECT_EQ(ada->getValue<std::string>("first_name"), "Ada");
  EXPECT_EQ(ada->getValue<std::string>("company"), "Analytical");
  auto touch = ada->getObject("first_touch");
  EXPECT_EQ(touch->getValue<std::string>("source"), "web_form");
  EXPECT_EQ(touch->getValue<std::string>("channel"), "web_form:landing");
  EXPECT_EQ(touch->getObject("utm")->getValue<std::string>("source"), "newsletter");
  EXPECT_EQ(touch->getObject("utm")->getValue<std::string>("medium"), "email");
  EXPECT_EQ(touch->getObject("utm")->getValue<std::string>("campaign"), "autunno");
  EXPECT_EQ(touch->getValue<std::string>("page_url"),
            landing + "/index.html?utm_source=newsletter&utm_medium=email&utm_campaign=autunno");
  ASSERT_TRUE(ada->getObject("consent"));
  EXPECT_TRUE(ada->getObject("consent")->getValue<bool>("granted"));

  // A refused value: shown next to its field, on the same page, and no lead.
  auto inline_ = seen->getObject("inlineError");
  ASSERT_TRUE(inline_);
  EXPECT_EQ(inline_->getValue<std::string>("url"), landing + "/index.html");
  EXPECT_NE(inline_->getValue<std::string>("message").find("phone"), std::string::npos)
      << inline_->getValue<std::string>("message");
  EXPECT_EQ(inline_->getValue<std::string>("ariaInvalid"), "true");
  EXPECT_FALSE(lead("wrong-phone@example.com"));

  // Script off: the plain post, the thank-you page, UTM data from the page's address.
  auto off = seen->getObject("scriptOff");
  ASSERT_TRUE(off);
  EXPECT_EQ(off->getValue<std::string>("url"), landing + "/grazie.html");
  EXPECT_EQ(off->getValue<std::string>("heading"), "Grazie!");
  auto carla = lead("js-off@example.com");
  ASSERT_TRUE(carla);
  EXPECT_EQ(carla->getValue<std::string>("company"), "Senza JS");
  auto offTouch = carla->getObject("first_touch");
  EXPECT_EQ(offTouch->getObject("utm")->getValue<std::string>("source"), "partner-site");
  EXPECT_EQ(offTouch->getObject("utm")->getValue<std::string>("campaign"), "senza-js");
  // Without JavaScript a refused value leads to the error page, which names the field.
  auto offError = seen->getObject("scriptOffError");
  ASSERT_TRUE(offError);
  EXPECT_TRUE(offError->getValue<std::string>("url").starts_with(landing + "/errore.html?error="))
      << offError->getValue<std::string>("url");
  EXPECT_NE(offError->getValue<std::string>("url").find("telefono"), std::string::npos);
  EXPECT_FALSE(lead("js-off-wrong@example.com"));

  // The page on another origin: both of its posts reached ciclod and got 403; no lead.
  auto hostile = seen->getObject("hostile");
  ASSERT_TRUE(hostile);
  auto statuses = hostile->getArray("statuses");
  ASSERT_EQ(statuses->size(), 2u) << hostile->getValue<std::string>("body");
  EXPECT_EQ(statuses->getElement<int>(0), 403);
  EXPECT_EQ(statuses->getElement<int>(1), 403);
  EXPECT_FALSE(lead("hostile-form@evil.example.com"));
  EXPECT_FALSE(lead("hostile-fetch@evil.example.com"));
  EXPECT_EQ(json(get("/v1/leads?limit=100").body)->getArray("data")->size(), 2u);
}

// The browser is what is under test here; the backends are covered by the integration tests.
INSTANTIATE_TEST_SUITE_P(Sqlite, LandingPage, ::testing::Values(TestBackend::kSqlite),
                         [](const auto& p) { return backendName(p.param); });

}  // namespace
}  // namespace ciclo::testing
