// Lead scoring on the running daemon: a lead is scored from what is known of it once it is
// captured, and again at once for each interaction; thresholds move it to nurturing and
// sales-ready; the score explains itself, and its behaviour points fade as the clock moves.

#include <fstream>
#include <thread>

#include "integration/fixture.h"

namespace ciclo::testing {
namespace {

constexpr const char* kRules = R"(
thresholds: {nurturing: 20, sales_ready: 60}
profile:
  - {name: target_industry, field: industry, values: [Logistics], points: 20}
  - {name: free_mail, field: free_mail, points: -10}
  - {name: hobbyist, field: job_title, values: [hobbyist], points: -20}
behaviour:
  - {name: download, interaction: content_downloaded, points: 25, half_life: 10d}
  - {name: page_visit, interaction: page_visited, points: 5, cap: 10, cap_period: 7d}
)";

class ScoringApi : public DaemonTest {
 protected:
  DaemonOptions daemonOptions() override {
    DaemonOptions options;
    options.clock_control = true;
    options.extra_yaml = "scoring:\n  rules: " + files_.path("scoring.yaml") + "\n";
    return options;
  }
  HttpResult interact(const std::string& id, const std::string& body) {
    return post("/v1/leads/" + id + "/interactions", body);
  }
  // The lead once the scoring consumer has scored it (it follows the capture's event).
  Poco::JSON::Object::Ptr scoredLead(const std::string& id) {
    return leadWhen(id, [](Poco::JSON::Object& l) { return !l.isNull("scored_at"); });
  }
  void advanceDays(int days) {
    const std::string admin = daemon_->createKey("admin", "clock");
    ASSERT_EQ(daemon_->advanceClock(admin, days * 86400LL).status, 200);
  }
  // Two leads in the target industry and one not, scored; then the industry is made worth 70
  // in the rules file, which the daemon reads when it starts.
  std::vector<std::string> leadsUnderChangedRules() {
    std::vector<std::string> ids;
    for (const char* body : {R"({"email":"a@trasporti.it","industry":"Logistics"})",
                             R"({"email":"b@trasporti.it","industry":"Logistics"})",
                             R"({"email":"c@forni.it","industry":"Bakery"})"}) {
      ids.push_back(json(post("/v1/leads", body).body)->getValue<std::string>("id"));
      scoredLead(ids.back());
    }
    EXPECT_EQ(json(get("/v1/leads/" + ids[0]).body)->getValue<int>("score"), 20);
    // kRules with the industry worth 70: enough for sales-ready on its own.
    std::string changed = kRules;
    const std::string from = "values: [Logistics], points: 20";
    changed.replace(changed.find(from), from.size(), "values: [Logistics], points: 70");
    std::ofstream(files_.path("scoring.yaml")) << changed;
    return ids;
  }
  TempFiles files_{{"scoring.yaml", kRules}};
};

TEST_P(ScoringApi, ACapturedLeadIsScoredFromItsProfileAndMovesToNurturing) {
  const std::string id =
      json(post("/v1/leads", R"({"email":"ops@trasporti.it","industry":"Logistics"})").body)
          ->getValue<std::string>("id");
  auto lead = scoredLead(id);
  EXPECT_EQ(lead->getValue<int>("fit_score"), 20);
  EXPECT_EQ(lead->getValue<int>("score"), 20);
  EXPECT_EQ(lead->getValue<std::string>("status"), "nurturing");  // at the nurturing threshold
  auto history = lead->getArray("status_history");
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ(history->getObject(0)->getValue<std::string>("actor"), "scoring");

  // A free-mail address with no target industry: -10, and it stays new.
  const std::string free =
      json(post("/v1/leads", R"({"email":"mario@gmail.com"})").body)->getValue<std::string>("id");
  auto other = scoredLead(free);
  EXPECT_EQ(other->getValue<int>("score"), -10);
  EXPECT_EQ(other->getValue<std::string>("status"), "new");

  // Points that cancel out still score the lead: 0, from two rules the ledger shows.
  const std::string even =
      json(post("/v1/leads",
                R"({"email":"ivo@trasporti.it","industry":"Logistics","job_title":"Hobbyist"})")
               .body)
          ->getValue<std::string>("id");
  auto scored = scoredLead(even);
  EXPECT_FALSE(scored->isNull("scored_at"));
  EXPECT_EQ(scored->getValue<int>("score"), 0);
  EXPECT_EQ(json(get("/v1/leads/" + even + "/score").body)->getArray("entries")->size(), 2u);
}

TEST_P(ScoringApi, InteractionsScoreAtOnceAndCrossTheSalesReadyThresholdBothWays) {
  const std::string id =
      json(post("/v1/leads", R"({"email":"ops@trasporti.it","industry":"Logistics"})").body)
          ->getValue<std::string>("id");
  scoredLead(id);
  auto visit = interact(id, R"({"type":"page_visited","url":"https://www.example.it/prezzi"})");
  ASSERT_EQ(visit.status, 201) << visit.body;
  auto answer = json(visit.body);
  EXPECT_TRUE(answer->getValue<std::string>("id").starts_with("int_"));
  EXPECT_EQ(answer->getObject("lead_score")->getValue<int>("total"), 25);
  EXPECT_EQ(answer->getValue<std::string>("lead_status"), "nurturing");

  auto download = interact(id, R"({"type":"content_downloaded","title":"Guida ai carrelli"})");
  ASSERT_EQ(download.status, 201) << download.body;
  EXPECT_EQ(json(download.body)->getObject("lead_score")->getValue<int>("total"), 50);
  for (int i = 0; i < 3; ++i) interact(id, R"({"type":"page_visited"})");  // capped at 10
  auto second = interact(id, R"({"type":"content_downloaded"})");
  auto scored = json(second.body);
  EXPECT_EQ(scored->getObject("lead_score")->getValue<int>("total"), 80);
  EXPECT_EQ(scored->getValue<std::string>("lead_status"), "sales_ready");

  // Why 80: 20 for the industry, 10 from visits (capped), 25 + 25 for the downloads.
  auto why = json(get("/v1/leads/" + id + "/score").body);
  EXPECT_EQ(why->getValue<int>("fit"), 20);
  EXPECT_EQ(why->getValue<int>("engagement"), 60);
  EXPECT_EQ(why->getValue<int>("total"), 80);
  auto entries = why->getArray("entries");
  ASSERT_EQ(entries->size(), 5u) << why->getArray("entries")->size();
  EXPECT_EQ(entries->getObject(0)->getValue<std::string>("cause"), "industry: Logistics");
  // In the order they were first awarded: the industry, the first visit, the download...
  EXPECT_EQ(entries->getObject(1)->getValue<std::string>("rule"), "page_visit");
  EXPECT_EQ(entries->getObject(2)->getValue<std::string>("rule"), "download");
  EXPECT_EQ(entries->getObject(2)->getValue<std::string>("cause"),
            json(download.body)->getValue<std::string>("id"));

  // Ten days later the downloads are worth half: 20 + 10 + 12.5 + 12.5 = 55, below 60. The
  // next score - here, another visit, which the cap (7 days passed) lets through - sends it
  // back to nurturing.
  advanceDays(10);
  why = json(get("/v1/leads/" + id + "/score").body);
  EXPECT_EQ(why->getValue<int>("total"), 55);
  EXPECT_DOUBLE_EQ(why->getArray("entries")->getObject(2)->getValue<double>("value"), 12.5);
  auto later = json(interact(id, R"({"type":"page_visited"})").body);
  EXPECT_EQ(later->getObject("lead_score")->getValue<int>("total"), 60);
  EXPECT_EQ(later->getValue<std::string>("lead_status"), "sales_ready");
  // A day later the points have faded below 60 again: the hourly job sends the lead back to
  // nurturing with no request about it.
  advanceDays(1);
  auto lead = leadWhen(
      id, [](Poco::JSON::Object& l) { return l.getValue<std::string>("status") == "nurturing"; });
  EXPECT_EQ(lead->getValue<std::string>("status"), "nurturing");
  EXPECT_LT(lead->getValue<int>("score"), 60);
  auto after = json(interact(id, R"({"type":"unsubscribed"})").body);  // no rule: no points
  EXPECT_EQ(after->getValue<std::string>("lead_status"), "nurturing");

  auto listed = json(get("/v1/leads/" + id + "/interactions?limit=3").body);
  EXPECT_EQ(listed->getArray("data")->size(), 3u);
  EXPECT_TRUE(listed->getValue<bool>("has_more"));

  daemon_->stop();
  const std::string dump = dumpDatabase(daemon_->storeUrl());
  for (const char* type : {"lead.scored", "lead.status_changed"})
    EXPECT_NE(dump.find(std::string("|") + type + "|" + id + "|"), std::string::npos) << type;
  daemon_.reset();
}

TEST_P(ScoringApi, BadInteractionsAreRefusedAndChangeNothing) {
  const std::string id =
      json(post("/v1/leads", R"({"email":"ops@trasporti.it"})").body)->getValue<std::string>("id");
  scoredLead(id);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the consumer settle
  const std::string before = recordsDump();
  const std::pair<std::string, int> cases[] = {
      {R"({"type":"page_view"})", 422},
      {R"({})", 422},
      {R"({"type":"page_visited","occurred_at":"2999-01-01T00:00:00Z"})", 422},
      {R"({"type":"page_visited","occurred_at":"yesterday"})", 422},
      {R"({"type":"page_visited","colour":"red"})", 422},
      {R"({"type":"page_visited","url":"a\nb"})", 422},
      {R"({"type":7})", 422},
      {R"([1,2])", 400},
      {R"({"type":"page_visited")", 400},
  };
  for (const auto& [body, status] : cases) {
    auto r = interact(id, body);
    EXPECT_EQ(r.status, status) << body << " " << r.body;
    EXPECT_EQ(r.header("content-type"), "application/problem+json") << body;
  }
  EXPECT_EQ(interact("lead_nosuchlead", R"({"type":"page_visited"})").status, 404);
  EXPECT_EQ(interact("../etc", R"({"type":"page_visited"})").status, 404);
  EXPECT_EQ(
      daemon_
          ->call("POST", "/v1/leads/" + id + "/interactions", reader_, R"({"type":"page_visited"})")
          .status,
      403);
  EXPECT_EQ(get("/v1/leads/lead_nosuchlead/score").status, 404);
  EXPECT_EQ(get("/v1/leads/" + id + "/interactions?cursor=lead_x").status, 422);
  EXPECT_EQ(get("/v1/leads/" + id + "/interactions?sort=asc").status, 422);
  EXPECT_EQ(recordsDump(), before);

  // A retried report with its Idempotency-Key is recorded once.
  const std::vector<std::pair<std::string, std::string>> key{{"Idempotency-Key", "visit-1"}};
  auto first = post("/v1/leads/" + id + "/interactions", R"({"type":"page_visited"})", key);
  auto again = post("/v1/leads/" + id + "/interactions", R"({"type":"page_visited"})", key);
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.header("idempotent-replayed"), "true");
  EXPECT_EQ(json(again.body)->getValue<std::string>("id"),
            json(first.body)->getValue<std::string>("id"));
  EXPECT_EQ(json(get("/v1/leads/" + id + "/interactions").body)->getArray("data")->size(), 1u);

  // A lead merged into another takes no more interactions; the survivor does.
  const std::string winner =
      json(post("/v1/leads", R"({"email":"boss@trasporti.it"})").body)->getValue<std::string>("id");
  ASSERT_EQ(post("/v1/leads/" + winner + "/merge", "{\"duplicate_id\":\"" + id + "\"}").status,
            200);
  auto merged = interact(id, R"({"type":"page_visited"})");
  EXPECT_EQ(merged.status, 409);
  EXPECT_NE(merged.body.find("lead-merged"), std::string::npos) << merged.body;
  EXPECT_EQ(interact(winner, R"({"type":"page_visited"})").status, 201);
}

TEST_P(ScoringApi, TheRescoreCommandScoresEveryLeadUnderChangedRulesOnce) {
  const auto ids = leadsUnderChangedRules();
  ASSERT_EQ(daemon_->stop(), 0);
  std::string out, err;
  ASSERT_EQ(daemon_->runCli({"rescore"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("rescored 3 leads"), std::string::npos) << out;
  EXPECT_NE(out.find(": 2 changed"), std::string::npos) << out;
  EXPECT_NE(err.find("rescore"), std::string::npos) << "progress on stderr: " << err;
  // Again: every lead already has the points these rules give.
  ASSERT_EQ(daemon_->runCli({"rescore"}, &out, &err), 0) << err;
  EXPECT_NE(out.find(": 0 changed"), std::string::npos) << out;

  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  auto lead = json(get("/v1/leads/" + ids[0]).body);
  EXPECT_EQ(lead->getValue<int>("fit_score"), 70);
  EXPECT_EQ(lead->getValue<std::string>("status"), "sales_ready");
  auto why = json(get("/v1/leads/" + ids[0] + "/score").body);
  ASSERT_EQ(why->getArray("entries")->size(), 1u);
  EXPECT_EQ(why->getArray("entries")->getObject(0)->getValue<int>("points"), 70);
  EXPECT_EQ(json(get("/v1/leads/" + ids[2]).body)->getValue<int>("score"), 0);
  // The daemon finds every lead scored under its rules: nothing more happens.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto kinds = timelineKinds(ids[0]);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "lead.scored"), 2);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "lead.status_changed"), 2);  // ... sales_ready
}

TEST_P(ScoringApi, TheDaemonScoresTheAffectedLeadsAgainWhenItsRulesChanged) {
  const auto ids = leadsUnderChangedRules();
  const auto before = timelineKinds(ids[2]);
  ASSERT_EQ(daemon_->stop(), 0);
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  auto lead = json(get("/v1/leads/" + ids[1]).body);
  for (int i = 0; i < 500 && lead->getValue<int>("fit_score") != 70; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    lead = json(get("/v1/leads/" + ids[1]).body);
  }
  EXPECT_EQ(lead->getValue<int>("fit_score"), 70);
  EXPECT_EQ(lead->getValue<std::string>("status"), "sales_ready");
  EXPECT_EQ(timelineKinds(ids[2]), before) << "a lead the change does not touch is not written";

  // Started again with the same rules: nothing to do.
  EXPECT_EQ(daemon_->stop(), 0);
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto kinds = timelineKinds(ids[1]);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "lead.scored"), 2);
  std::string out, err;
  ASSERT_EQ(daemon_->runCli({"rescore"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("rescored 3 leads"), std::string::npos) << out;
  EXPECT_NE(out.find(": 0 changed"), std::string::npos) << out;
}

CICLO_ON_BOTH_BACKENDS(ScoringApi);

}  // namespace
}  // namespace ciclo::testing
