// Profiling on the running daemon: every lead is matched against the configured buyer
// personas when it is captured and whenever its profile changes; the match is on the lead
// with the criteria met, changes land on the timeline and in the outbox, and a lead that
// fits none is discarded where the configured rule says so.

#include "integration/fixture.h"

namespace ciclo::testing {
namespace {

constexpr const char* kPersonas = R"(
personas:
  plant_manager:
    name: Plant manager
    min_score: 60
    criteria:
      - {field: industry, weight: 30, values: [Manufacturing, Logistics]}
      - {field: employees, weight: 20, min: 50, max: 2000}
      - {field: job_title, weight: 35, values: [plant manager, direttore di stabilimento]}
      - {field: country, weight: 15, values: [IT]}
  craft_owner:
    name: Craft business owner
    min_score: 60
    criteria:
      - {field: employees, weight: 50, max: 49}
      - {field: job_title, weight: 50, values: [titolare, owner]}
unfit:
  discard: true
  sources: [import]
  when_known: [industry, employees]
)";

class ProfilingApi : public DaemonTest {
 protected:
  DaemonOptions daemonOptions() override {
    DaemonOptions options;
    options.extra_yaml = "profiling:\n  personas: " + files_.path("personas.yaml") + "\n";
    return options;
  }
  static std::vector<std::string> strings(const Poco::JSON::Array::Ptr& a) {
    std::vector<std::string> out;
    for (std::size_t i = 0; a && i < a->size(); ++i) out.push_back(a->getElement<std::string>(i));
    return out;
  }
  TempFiles files_{{"personas.yaml", kPersonas}};
};

TEST_P(ProfilingApi, ACapturedLeadGetsItsBestPersonaWithTheCriteriaItMet) {
  auto created = post("/v1/leads", R"({"email":"marta@officine.it","job_title":"Plant Manager",
      "industry":"manufacturing","employees":240,"country":"DE"})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto answer = json(created.body);
  EXPECT_EQ(answer->getValue<std::string>("persona"), "plant_manager");
  auto match = answer->getObject("persona_match");
  ASSERT_TRUE(match) << created.body;
  EXPECT_EQ(match->getValue<int>("score"), 85);
  EXPECT_EQ(strings(match->getArray("matched")),
            (std::vector<std::string>{"industry", "employees", "job_title"}));
  EXPECT_EQ(strings(match->getArray("unmatched")), std::vector<std::string>{"country"});

  const std::string id = answer->getValue<std::string>("id");
  auto stored = lead(id);
  EXPECT_EQ(stored->getValue<std::string>("persona"), "plant_manager");
  EXPECT_EQ(stored->getObject("persona_match")->getValue<int>("score"), 85);
  EXPECT_EQ(timelineKinds(id), std::vector<std::string>{"lead.captured"});

  // Too little known to fit anybody: no persona, and not discarded (the rule names imports).
  auto bare = json(post("/v1/leads", R"({"email":"who@example.it"})").body);
  EXPECT_TRUE(bare->isNull("persona"));
  EXPECT_TRUE(bare->isNull("persona_match"));
  EXPECT_EQ(bare->getValue<std::string>("status"), "new");
}

TEST_P(ProfilingApi, EveryProfileChangeMatchesTheLeadAgain) {
  const std::string id =
      json(post("/v1/leads", R"({"email":"gino@bottega.it","job_title":"Titolare"})").body)
          ->getValue<std::string>("id");
  // Half of the owner's weight (the title) is below its minimum of 60: no persona yet.
  EXPECT_TRUE(lead(id)->isNull("persona"));

  // A person completes the profile: a craft business of 8 people.
  auto patched = daemon_->call("PATCH", "/v1/leads/" + id, writer_, R"({"employees":8})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(json(patched.body)->getValue<std::string>("persona"), "craft_owner");
  EXPECT_EQ(json(patched.body)->getObject("persona_match")->getValue<int>("score"), 100);

  // A new capture adds industry and country, which the owner persona does not weigh: the
  // match stays as it was.
  auto again =
      post("/v1/leads", R"({"email":"gino@bottega.it","industry":"Logistics","country":"IT"})");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json(again.body)->getValue<std::string>("persona"), "craft_owner");

  // The staff grows past the craft range and the title changes: a plant manager now.
  patched = daemon_->call("PATCH", "/v1/leads/" + id, writer_,
                          R"({"employees":300,"job_title":"Direttore di stabilimento"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  auto now = json(patched.body);
  EXPECT_EQ(now->getValue<std::string>("persona"), "plant_manager");
  EXPECT_EQ(now->getObject("persona_match")->getValue<int>("score"), 100);

  EXPECT_EQ(timelineKinds(id),
            (std::vector<std::string>{"lead.captured", "lead.updated", "lead.profiled",
                                      "lead.captured", "lead.updated", "lead.profiled"}));
  auto entries = json(get("/v1/leads/" + id + "/timeline").body)->getArray("data");
  EXPECT_EQ(entries->getObject(5)->getValue<std::string>("summary"),
            "buyer persona plant_manager (100%)");

  daemon_->stop();
  const std::string dump = dumpDatabase(daemon_->storeUrl());
  EXPECT_NE(dump.find("|lead.profiled|" + id + "|"), std::string::npos) << dump;
  daemon_.reset();
}

TEST_P(ProfilingApi, AnUnfitImportIsDiscardedAndComesBackWhenItFits) {
  auto created = post("/v1/leads", R"({"email":"forno@panetteria.it","source":"import",
      "industry":"Bakery","employees":4000})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto answer = json(created.body);
  EXPECT_EQ(answer->getValue<std::string>("status"), "disqualified");
  EXPECT_EQ(answer->getValue<std::string>("disqualify_reason"), "no_fit");
  const std::string id = answer->getValue<std::string>("id");
  auto history = lead(id)->getArray("status_history");
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ(history->getObject(0)->getValue<std::string>("actor"), "system");
  EXPECT_EQ(history->getObject(0)->getValue<std::string>("by"), "profiling");
  EXPECT_EQ(timelineKinds(id), (std::vector<std::string>{"lead.captured", "lead.status_changed"}));

  // The data was wrong: a manufacturer of 400 with a plant manager. The system takes back
  // what it decided.
  auto fixed = daemon_->call(
      "PATCH", "/v1/leads/" + id, writer_,
      R"({"industry":"Manufacturing","employees":400,"job_title":"Plant manager","country":"IT"})");
  ASSERT_EQ(fixed.status, 200) << fixed.body;
  auto back = json(fixed.body);
  EXPECT_EQ(back->getValue<std::string>("status"), "working");
  EXPECT_EQ(back->getValue<std::string>("persona"), "plant_manager");
  EXPECT_TRUE(back->isNull("disqualify_reason"));

  // The same import data from a web form is kept: the rule judges imports only.
  auto form = json(post("/v1/leads", R"({"email":"forno2@panetteria.it","source":"web_form",
      "industry":"Bakery","employees":4000})")
                       .body);
  EXPECT_EQ(form->getValue<std::string>("status"), "new");

  daemon_->stop();
  const std::string dump = dumpDatabase(daemon_->storeUrl());
  EXPECT_NE(dump.find("|lead.disqualified|" + id + "|"), std::string::npos) << dump;
  daemon_.reset();
}

CICLO_ON_BOTH_BACKENDS(ProfilingApi);

}  // namespace
}  // namespace ciclo::testing
