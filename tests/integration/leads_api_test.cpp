// The /v1 API against the real daemon, on SQLite and PostgreSQL.

#include <Poco/JSON/Array.h>

#include <atomic>
#include <set>
#include <thread>

#include "fixture.h"

namespace ciclo::testing {
namespace {

using LeadsApi = DaemonTest;

TEST_P(LeadsApi, CaptureCreatesThenMergesThenReportsUnchanged) {
  auto created = post("/v1/leads", R"({"email":" Anna.Rossi@Rossi-Carrelli.IT ","first_name":"Anna",
      "phone":"02 1234 5678","utm":{"source":"google","campaign":"autunno"},"page_url":"https://example.it/lp"})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto lead = json(created.body);
  const std::string id = lead->getValue<std::string>("id");
  EXPECT_EQ(lead->getValue<std::string>("outcome"), "created");
  EXPECT_EQ(lead->getValue<std::string>("email"), "anna.rossi@rossi-carrelli.it");
  EXPECT_EQ(lead->getValue<std::string>("phone"), "+390212345678");
  EXPECT_EQ(lead->getValue<std::string>("company_domain"), "rossi-carrelli.it");
  EXPECT_EQ(lead->getObject("first_touch")->getObject("utm")->getValue<std::string>("campaign"),
            "autunno");
  EXPECT_EQ(created.header("location"), "/v1/leads/" + id);
  EXPECT_FALSE(created.header("x-request-id").empty());

  // The same person by phone, with new data: merged into the same lead.
  auto merged =
      post("/v1/leads",
           R"({"phone":"+39 02 12345678","company":"Rossi Carrelli Srl","first_name":"Annalisa"})");
  ASSERT_EQ(merged.status, 200) << merged.body;
  auto m = json(merged.body);
  EXPECT_EQ(m->getValue<std::string>("id"), id);
  EXPECT_EQ(m->getValue<std::string>("outcome"), "merged");
  EXPECT_EQ(m->getValue<std::string>("company"), "Rossi Carrelli Srl");
  EXPECT_EQ(m->getValue<std::string>("first_name"), "Anna")
      << "a value already entered is never overwritten";

  auto again = post("/v1/leads", R"({"email":"anna.rossi@rossi-carrelli.it"})");
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(json(again.body)->getValue<std::string>("outcome"), "unchanged");

  auto timeline = get("/v1/leads/" + id + "/timeline");
  ASSERT_EQ(timeline.status, 200) << timeline.body;
  EXPECT_EQ(json(timeline.body)->getArray("data")->size(), 3u)
      << "every capture lands on the timeline";
}

TEST_P(LeadsApi, ReadersCannotWriteAndWritersNeedAKey) {
  auto denied = daemon_->call("POST", "/v1/leads", reader_, R"({"email":"a@b.it"})");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.header("content-type"), "application/problem+json");
  auto anonymous = daemon_->request("GET", "/v1/leads");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.header("www-authenticate"), "Bearer");
}

TEST_P(LeadsApi, ListFiltersAndPagesWithCursors) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(
        post("/v1/leads", R"({"email":"p)" + std::to_string(i) + R"(@example.it","source":")" +
                              (i % 2 ? "manual" : "api") + R"(","partner":"acme"})")
            .status,
        201);
  }
  auto page1 = json(get("/v1/leads?limit=2").body);
  EXPECT_EQ(page1->getArray("data")->size(), 2u);
  EXPECT_TRUE(page1->getValue<bool>("has_more"));
  std::set<std::string> seen;
  std::string cursor = page1->getValue<std::string>("next_cursor");
  for (std::size_t i = 0; i < 2; ++i)
    seen.insert(page1->getArray("data")->getObject(i)->getValue<std::string>("id"));
  while (!cursor.empty()) {
    auto page = json(get("/v1/leads?limit=2&cursor=" + cursor).body);
    for (std::size_t i = 0; i < page->getArray("data")->size(); ++i) {
      EXPECT_TRUE(
          seen.insert(page->getArray("data")->getObject(i)->getValue<std::string>("id")).second);
    }
    cursor = page->isNull("next_cursor") ? "" : page->getValue<std::string>("next_cursor");
  }
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(json(get("/v1/leads?source=manual").body)->getArray("data")->size(), 2u);
  EXPECT_EQ(json(get("/v1/leads?partner=acme&status=new").body)->getArray("data")->size(), 5u);
  EXPECT_EQ(json(get("/v1/leads?email=P3%40Example.IT").body)->getArray("data")->size(), 1u);
  EXPECT_EQ(
      json(get("/v1/leads?updated_after=2999-01-01T00:00:00Z").body)->getArray("data")->size(), 0u);
}

TEST_P(LeadsApi, StatusCommandsFollowTheLifecycle) {
  const std::string id =
      json(post("/v1/leads", R"({"email":"c@example.it"})").body)->getValue<std::string>("id");
  const std::string path = "/v1/leads/" + id + "/commands";
  auto work = post(path, R"({"command":"start_work"})");
  ASSERT_EQ(work.status, 200) << work.body;
  EXPECT_EQ(json(work.body)->getValue<std::string>("status"), "working");
  auto reactivate = post(path, R"({"command":"reactivate"})");
  EXPECT_EQ(reactivate.status, 409);
  EXPECT_NE(reactivate.body.find("/problems/illegal-transition"), std::string::npos);
  EXPECT_EQ(post(path, R"({"command":"disqualify"})").status, 422) << "a reason is required";
  auto out = post(path, R"({"command":"disqualify","reason":"no_fit","note":"fits no persona"})");
  ASSERT_EQ(out.status, 200);
  EXPECT_EQ(json(out.body)->getValue<std::string>("disqualify_reason"), "no_fit");
  ASSERT_EQ(post(path, R"({"command":"reactivate"})").status, 200);
  ASSERT_EQ(post(path, R"({"command":"qualify"})").status, 200);
  EXPECT_EQ(post(path, R"({"command":"start_work"})").status, 409) << "qualified is final";
  auto lead = json(get("/v1/leads/" + id).body);
  EXPECT_EQ(lead->getArray("status_history")->size(), 4u);
  auto timeline = json(get("/v1/leads/" + id + "/timeline").body);
  EXPECT_EQ(timeline->getArray("data")->size(), 5u);
}

TEST_P(LeadsApi, UpdatesOverwriteAndRefuseDuplicateEmails) {
  const std::string a = json(post("/v1/leads", R"({"email":"a@example.it","first_name":"A"})").body)
                            ->getValue<std::string>("id");
  post("/v1/leads", R"({"email":"b@example.it"})");
  auto patched = daemon_->call("PATCH", "/v1/leads/" + a, writer_,
                               R"({"first_name":"Alba","city":null,"employees":40})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  auto lead = json(patched.body);
  EXPECT_EQ(lead->getValue<std::string>("first_name"), "Alba");
  EXPECT_EQ(lead->getValue<int>("employees"), 40);
  EXPECT_EQ(lead->getValue<int>("version"), 2);
  auto clash = daemon_->call("PATCH", "/v1/leads/" + a, writer_, R"({"email":"B@example.it"})");
  EXPECT_EQ(clash.status, 409);
  auto stale = daemon_->call("PATCH", "/v1/leads/" + a, writer_, R"({"city":"Roma","version":1})");
  EXPECT_EQ(stale.status, 409);
}

TEST_P(LeadsApi, ManualMergeMovesTheTimelineAndHidesTheDuplicate) {
  const std::string w =
      json(post("/v1/leads", R"({"email":"w@example.it"})").body)->getValue<std::string>("id");
  const std::string l =
      json(post("/v1/leads", R"({"email":"l@example.it","phone":"+39 347 123 4567"})").body)
          ->getValue<std::string>("id");
  auto merged = post("/v1/leads/" + w + "/merge", R"({"duplicate_id":")" + l + R"("})");
  ASSERT_EQ(merged.status, 200) << merged.body;
  auto lead = json(merged.body);
  EXPECT_EQ(lead->getValue<std::string>("phone"), "+393471234567");
  EXPECT_EQ(lead->getArray("merged_from")->getElement<std::string>(0), l);
  EXPECT_EQ(json(get("/v1/leads/" + l).body)->getValue<std::string>("disqualify_reason"),
            "duplicate");
  auto timeline = json(get("/v1/leads/" + w + "/timeline").body);
  EXPECT_EQ(timeline->getArray("data")->size(), 3u) << "both captures and the merge";
  EXPECT_EQ(json(get("/v1/leads?email=l%40example.it").body)->getArray("data")->size(), 0u);
  // A new capture with the duplicate's phone now finds the surviving lead.
  auto capture = post("/v1/leads", R"({"phone":"3471234567"})");
  EXPECT_EQ(json(capture.body)->getValue<std::string>("id"), w);
  EXPECT_EQ(post("/v1/leads/" + w + "/merge", R"({"duplicate_id":")" + l + R"("})").status, 409);
}

TEST_P(LeadsApi, IdempotencyKeyReplaysTheFirstAnswer) {
  const std::vector<std::pair<std::string, std::string>> key{{"Idempotency-Key", "order-7"}};
  auto first = post("/v1/leads", R"({"email":"i@example.it"})", key);
  ASSERT_EQ(first.status, 201);
  auto second = post("/v1/leads", R"({"email":"i@example.it"})", key);
  EXPECT_EQ(second.status, 201);
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(second.header("idempotent-replayed"), "true");
  auto other = post("/v1/leads", R"({"email":"j@example.it"})", key);
  EXPECT_EQ(other.status, 422);
  EXPECT_NE(other.body.find("idempotency-key-reused"), std::string::npos);
  // A refused request is not remembered: corrected, the same key goes through.
  const std::vector<std::pair<std::string, std::string>> k2{{"Idempotency-Key", "form-9"}};
  EXPECT_EQ(post("/v1/leads", R"({"email":"not-an-email"})", k2).status, 422);
  EXPECT_EQ(post("/v1/leads", R"({"email":"k@example.it"})", k2).status, 201);
}

TEST_P(LeadsApi, ConcurrentRepeatsOfOneKeyExecuteOnce) {
  constexpr int kClients = 8;
  std::vector<HttpResult> results(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] =
          post("/v1/leads", R"({"email":"same@example.it"})", {{"Idempotency-Key", "burst"}});
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> ids;
  for (const auto& r : results) {
    ASSERT_TRUE(r.status == 201 || r.status == 409) << r.status << r.body;
    if (r.status == 201) ids.insert(json(r.body)->getValue<std::string>("id"));
  }
  EXPECT_EQ(ids.size(), 1u);
  auto timeline = json(get("/v1/leads/" + *ids.begin() + "/timeline").body);
  EXPECT_EQ(timeline->getArray("data")->size(), 1u) << "executed once";
}

TEST_P(LeadsApi, AccountsLinkLeadsByCompanyDomain) {
  auto account = post(
      "/v1/accounts",
      R"({"name":"Rossi Carrelli Srl","domain":"https://www.rossi-carrelli.it","country":"IT"})");
  ASSERT_EQ(account.status, 201) << account.body;
  const std::string accountId = json(account.body)->getValue<std::string>("id");
  EXPECT_EQ(json(account.body)->getValue<std::string>("domain"), "rossi-carrelli.it");
  EXPECT_EQ(post("/v1/accounts", R"({"name":"Copy","domain":"rossi-carrelli.it"})").status, 409);
  auto lead = json(post("/v1/leads", R"({"email":"m@rossi-carrelli.it"})").body);
  EXPECT_EQ(lead->getValue<std::string>("account_id"), accountId);
  auto freeMail = json(post("/v1/leads", R"({"email":"m@gmail.com"})").body);
  EXPECT_TRUE(freeMail->isNull("account_id"));
  auto contact =
      post("/v1/contacts", R"({"account_id":")" + accountId +
                               R"(","first_name":"Marco","email":"M@rossi-carrelli.it"})");
  ASSERT_EQ(contact.status, 201) << contact.body;
  EXPECT_EQ(json(get("/v1/contacts?account_id=" + accountId).body)->getArray("data")->size(), 1u);
  EXPECT_EQ(
      post("/v1/contacts", R"({"account_id":"acct_01JD3Q8X2M4V6N8R0T2W4Y6A8C","first_name":"X"})")
          .status,
      422);
}

TEST_P(LeadsApi, EveryChangeWritesTimelineAndOutboxTogether) {
  const std::string id =
      json(post("/v1/leads", R"({"email":"e@example.it"})").body)->getValue<std::string>("id");
  post("/v1/leads/" + id + "/commands", R"({"command":"qualify"})");
  daemon_->stop();
  const std::string dump = dumpDatabase(daemon_->storeUrl());
  for (const char* type : {"lead.captured", "lead.status_changed", "lead.qualified"}) {
    EXPECT_NE(dump.find(std::string("|") + type + "|" + id + "|"), std::string::npos)
        << type << "\n"
        << dump;
  }
  daemon_.reset();
}

CICLO_ON_BOTH_BACKENDS(LeadsApi);

}  // namespace
}  // namespace ciclo::testing

namespace ciclo::testing {
namespace {

using Activities = DaemonTest;

TEST_P(Activities, SellersRecordNotesCallsAppointmentsAndPostsWithReplies) {
  const std::string lead =
      json(post("/v1/leads", R"({"email":"act@example.it"})").body)->getValue<std::string>("id");
  const std::string base = "/v1/leads/" + lead + "/activities";
  EXPECT_EQ(post(base, R"({"type":"note","body":"Wants 3 forklifts by March"})").status, 201);
  EXPECT_EQ(
      post(
          base,
          R"({"type":"call","direction":"outbound","outcome":"reached","body":"Budget confirmed"})")
          .status,
      201);
  EXPECT_EQ(
      post(base, R"({"type":"appointment","subject":"Site visit","starts_at":"2026-12-01T09:00:00Z",
                          "ends_at":"2026-12-01T10:30:00Z","location":"Bergamo"})")
          .status,
      201);
  auto postResponse =
      post(base, R"({"type":"post","body":"@marco can you price the service contract?"})");
  ASSERT_EQ(postResponse.status, 201) << postResponse.body;
  const std::string postId = json(postResponse.body)->getValue<std::string>("id");
  auto reply = post(base + "/" + postId + "/replies", R"({"body":"Done, 4.2k per year"})");
  ASSERT_EQ(reply.status, 201) << reply.body;
  EXPECT_EQ(json(reply.body)->getValue<std::string>("parent_id"), postId);
  EXPECT_EQ(json(reply.body)->getValue<std::string>("by"), "crm");

  const std::string noteId =
      json(get(base).body)->getArray("data")->getObject(0)->getValue<std::string>("id");
  EXPECT_EQ(post(base + "/" + noteId + "/replies", R"({"body":"x"})").status, 409)
      << "only posts take replies";
  EXPECT_EQ(post(base, R"({"type":"call"})").status, 422);
  EXPECT_EQ(
      post(
          base,
          R"({"type":"appointment","subject":"x","starts_at":"2026-12-01T10:00:00Z","ends_at":"2026-12-01T09:00:00Z"})")
          .status,
      422);
  EXPECT_EQ(post(base, R"({"type":"email","body":"x"})").status, 422);

  auto listed = json(get(base).body)->getArray("data");
  EXPECT_EQ(listed->size(), 5u);
  auto timeline = json(get("/v1/leads/" + lead + "/timeline").body)->getArray("data");
  EXPECT_EQ(timeline->size(), 6u) << "the capture and five activities";
  EXPECT_EQ(timeline->getObject(3)->getValue<std::string>("kind"), "activity.appointment");
}

TEST_P(Activities, FollowTheSurvivorOfAMerge) {
  const std::string w =
      json(post("/v1/leads", R"({"email":"aw@example.it"})").body)->getValue<std::string>("id");
  const std::string l =
      json(post("/v1/leads", R"({"email":"al@example.it"})").body)->getValue<std::string>("id");
  ASSERT_EQ(
      post("/v1/leads/" + l + "/activities", R"({"type":"note","body":"on the duplicate"})").status,
      201);
  ASSERT_EQ(post("/v1/leads/" + w + "/merge", R"({"duplicate_id":")" + l + R"("})").status, 200);
  auto moved = json(get("/v1/leads/" + w + "/activities").body)->getArray("data");
  ASSERT_EQ(moved->size(), 1u);
  EXPECT_EQ(moved->getObject(0)->getValue<std::string>("record_id"), w);
}

CICLO_ON_BOTH_BACKENDS(Activities);

}  // namespace
}  // namespace ciclo::testing

namespace ciclo::testing {
namespace {

class ClockControlled : public DaemonTest {
 protected:
  DaemonOptions daemonOptions() override {
    DaemonOptions o;
    o.clock_control = true;
    return o;
  }
  void advance(int seconds) { ASSERT_EQ(daemon_->advanceClock(admin_, seconds).status, 200); }
  std::string admin_;
};

TEST_P(ClockControlled, ARevokedKeyIsRefusedWithinASecond) {
  admin_ = daemon_->createKey("admin", "ops");
  ASSERT_EQ(get("/v1/leads").status, 200);  // verified, and kept for a second
  const std::string keyId = reader_.substr(0, reader_.find('.'));
  EXPECT_EQ(daemon_->call("GET", "/v1/leads", keyId + ".not-its-secret").status, 401)
      << "a kept key still needs its secret";

  std::string out, err;
  ASSERT_EQ(daemon_->runCli({"apikey", "revoke", keyId}, &out, &err), 0) << err;
  // The CLI is another process: the daemon may take the key it verified a moment ago until
  // that second is over, never after.
  advance(1);
  EXPECT_EQ(get("/v1/leads").status, 401);
  // A key revoked before the daemon saw it is refused at once.
  const std::string other = daemon_->createKey("leads:read", "other");
  ASSERT_EQ(daemon_->runCli({"apikey", "revoke", other.substr(0, other.find('.'))}), 0);
  EXPECT_EQ(daemon_->call("GET", "/v1/leads", other).status, 401);

  ASSERT_EQ(daemon_->runCli({"apikey", "list"}, &out, &err), 0);
  EXPECT_NE(out.find(keyId), std::string::npos);
  EXPECT_NE(out.find("revoked"), std::string::npos);
  EXPECT_EQ(out.find(reader_.substr(reader_.find('.') + 1)), std::string::npos)
      << "secrets are never listed";
}

TEST_P(ClockControlled, IdempotencyKeysAreKeptADayThenForgotten) {
  admin_ = daemon_->createKey("admin", "ops");
  const std::vector<std::pair<std::string, std::string>> key{{"Idempotency-Key", "daily"}};
  ASSERT_EQ(post("/v1/leads", R"({"email":"d1@example.it"})", key).status, 201);
  advance(23 * 3600);
  EXPECT_EQ(post("/v1/leads", R"({"email":"d2@example.it"})", key).status, 422)
      << "still remembered after 23 hours";
  advance(2 * 3600);
  // The hourly purge clears it; until it runs, a lookup ignores it anyway.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (dumpDatabase(daemon_->storeUrl()).find("|daily|") != std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(dumpDatabase(daemon_->storeUrl()).find("|daily|"), std::string::npos) << "purged";
  EXPECT_EQ(post("/v1/leads", R"({"email":"d2@example.it"})", key).status, 201)
      << "a new request after a day";
}

CICLO_ON_BOTH_BACKENDS(ClockControlled);

}  // namespace
}  // namespace ciclo::testing
