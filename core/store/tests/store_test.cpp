#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "store/access.h"
#include "store/database.h"
#include "store/import_store.h"
#include "store/journal.h"
#include "store/lead_store.h"
#include "support/test_db.h"

namespace ciclo::store {
namespace {

using ciclo::testing::TestBackend;

const Timestamp kT0{std::chrono::milliseconds{1'700'000'000'000}};

// Occupies the writer with a write that waits for release(), so that what is queued meanwhile
// is committed together afterwards.
class HeldWriter {
 public:
  explicit HeldWriter(Store& store) {
    thread_ = std::thread([&] {
      (void)store.write([&](Connection&) {
        running_ = true;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!released_ && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
        return Status();
      });
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!running_ && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  }
  void release() {
    released_ = true;
    if (thread_.joinable()) thread_.join();
  }
  ~HeldWriter() { release(); }

 private:
  std::atomic<bool> running_{false}, released_{false};
  std::thread thread_;
};

// Waits (up to 20 s) until `n` writes are queued behind a HeldWriter.
void awaitQueued(const Store& store, std::size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (store.queueDepth() < n && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
}

class StoreTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == TestBackend::kPostgres && !std::getenv("CICLO_TEST_PG_URL_FILE")) {
      GTEST_SKIP() << "no PostgreSQL test cluster (run through ctest)";
    }
    url_ = ciclo::testing::freshDatabaseUrl(GetParam());
    store_ = openStore();
  }

  std::unique_ptr<Store> openStore(StoreConfig config = {}) {
    config.url = url_;
    auto opened = Store::open(config);
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().message);
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  Lead lead(const std::string& id, const std::string& email) {
    Lead l;
    l.id = id;
    l.profile.email = email;
    l.first_touch.source = LeadSource::kWebForm;
    l.first_touch.partner = "acme";
    l.created_at = l.updated_at = kT0;
    return l;
  }

  std::string url_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, MigrationsApplyOnceAndRecordTheirVersion) {
  store_->close();
  store_.reset();
  auto again = openStore();
  ASSERT_TRUE(again);
  std::int64_t version = 0, count = 0;
  ASSERT_TRUE(again
                  ->read([&](Connection& c) {
                    auto rows = c.query("SELECT MAX(version), COUNT(*) FROM schema_migrations");
                    version = integer(rows[0][0]);
                    count = integer(rows[0][1]);
                    return Status();
                  })
                  .ok());
  EXPECT_EQ(version, latestMigration());
  EXPECT_EQ(count, latestMigration());
}

TEST_P(StoreTest, AFailedWorkRollsBackOnlyItself) {
  // Holds the writer until the two writes below are queued, so that they share a batch.
  HeldWriter held(*store_);
  Status good, bad;
  std::thread t1([&] {
    good = store_->write([&](Connection& c) {
      Lead l = lead("lead_good", "good@example.it");
      insertLead(c, l);
      return Status();
    });
  });
  std::thread t2([&] {
    bad = store_->write([&](Connection& c) {
      Lead l = lead("lead_bad", "bad@example.it");
      insertLead(c, l);
      return Status(Error::invalid("refused after writing"));
    });
  });
  awaitQueued(*store_, 2);
  held.release();
  t1.join();
  t2.join();
  EXPECT_TRUE(good.ok());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalid);
  ASSERT_TRUE(store_
                  ->read([&](Connection& c) {
                    EXPECT_TRUE(findLead(c, "lead_good").has_value());
                    EXPECT_FALSE(findLead(c, "lead_bad").has_value());
                    return Status();
                  })
                  .ok());
}

TEST_P(StoreTest, RepeatableWorksShareASavepointAndRunAgainAloneWhenOneFails) {
  // In the queue's order: three repeatable works, one that is not, two repeatable again. The
  // second fails after writing and the sixth throws: each run they are in is rolled back and
  // run again a work at a time; a work after a failure in its run runs once, alone.
  struct Step {
    std::string id;
    Repeat repeat;
    int fails;  // 0: succeeds; 1: returns an error after writing; 2: throws after writing
  };
  const std::vector<Step> steps{
      {"lead_r1", Repeat::kRepeatable, 0}, {"lead_r2", Repeat::kRepeatable, 1},
      {"lead_r3", Repeat::kRepeatable, 0}, {"lead_o4", Repeat::kOnce, 0},
      {"lead_r5", Repeat::kRepeatable, 0}, {"lead_r6", Repeat::kRepeatable, 2}};
  std::vector<std::atomic<int>> runs(steps.size());
  std::vector<Status> results(steps.size());
  HeldWriter held(*store_);
  std::vector<std::thread> writers;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    writers.emplace_back([&, i] {
      results[i] = store_->write(
          [&, i](Connection& c) {
            ++runs[i];
            Lead l = lead(steps[i].id, steps[i].id + "@example.it");
            insertLead(c, l);
            if (steps[i].fails == 1) return Status(Error::invalid("refused after writing"));
            if (steps[i].fails == 2) throw std::runtime_error("thrown after writing");
            return Status();
          },
          steps[i].repeat);
    });
    awaitQueued(*store_, i + 1);
  }
  const auto before = store_->stats();
  held.release();
  for (auto& t : writers) t.join();
  EXPECT_EQ(store_->stats().commits - before.commits, 2u) << "the held write, then one batch";
  const std::vector<int> expectedRuns{2, 2, 1, 1, 2, 2};
  for (std::size_t i = 0; i < steps.size(); ++i) {
    SCOPED_TRACE(steps[i].id);
    EXPECT_EQ(runs[i], expectedRuns[i]);
    EXPECT_EQ(results[i].ok(), steps[i].fails == 0);
    ASSERT_TRUE(store_
                    ->read([&](Connection& c) {
                      EXPECT_EQ(findLead(c, steps[i].id).has_value(), steps[i].fails == 0);
                      return Status();
                    })
                    .ok());
  }
  EXPECT_EQ(results[1].error().kind, ErrorKind::kInvalid);
}

TEST_P(StoreTest, ABatchWhoseSavepointCannotBeEndedIsRolledBackWhole) {
  // A work that releases the writer's savepoint itself ("w" for a work alone, "r" for a run
  // of repeatable works) leaves the writer unable to end it: the transaction is in doubt, so
  // nothing of the batch is kept and every caller is told to retry.
  for (const auto& [repeat, savepoint] :
       {std::pair{Repeat::kOnce, "w"}, std::pair{Repeat::kRepeatable, "r"}}) {
    SCOPED_TRACE(savepoint);
    const std::string good = std::string("lead_good_") + savepoint;
    const std::string saboteur = std::string("lead_saboteur_") + savepoint;
    Status goodResult, saboteurResult;
    HeldWriter held(*store_);
    std::thread first([&] {
      goodResult = store_->write(
          [&](Connection& c) {
            Lead l = lead(good, good + "@example.it");
            insertLead(c, l);
            return Status();
          },
          repeat);
    });
    awaitQueued(*store_, 1);
    std::thread second([&] {
      saboteurResult = store_->write(
          [&](Connection& c) {
            Lead l = lead(saboteur, saboteur + "@example.it");
            insertLead(c, l);
            c.exec(std::string("RELEASE SAVEPOINT ") + savepoint);
            return Status();
          },
          repeat);
    });
    awaitQueued(*store_, 2);
    held.release();
    first.join();
    second.join();
    for (const Status* result : {&goodResult, &saboteurResult}) {
      ASSERT_FALSE(result->ok());
      EXPECT_EQ(result->error().kind, ErrorKind::kRetryable);
    }
    ASSERT_TRUE(store_
                    ->read([&](Connection& c) {
                      EXPECT_FALSE(findLead(c, good).has_value());
                      EXPECT_FALSE(findLead(c, saboteur).has_value());
                      return Status();
                    })
                    .ok());
  }
}

TEST_P(StoreTest, ConcurrentWritesShareGroupCommits) {
  constexpr int kWriters = 64;
  HeldWriter held(*store_);
  std::vector<std::thread> writers;
  std::atomic<int> ok{0};
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      auto s = store_->write([&](Connection& c) {
        Lead l = lead("lead_" + std::to_string(1000 + i), std::to_string(i) + "@example.it");
        insertLead(c, l);
        return Status();
      });
      if (s.ok()) ++ok;
    });
  }
  awaitQueued(*store_, kWriters);
  const auto before = store_->stats();
  held.release();
  for (auto& t : writers) t.join();
  const auto after = store_->stats();
  EXPECT_EQ(ok, kWriters);
  EXPECT_EQ(after.writes - before.writes, static_cast<std::uint64_t>(kWriters + 1));
  EXPECT_EQ(after.commits - before.commits, 2u)
      << "the held write, then the queued ones as one batch";
  std::int64_t count = 0;
  ASSERT_TRUE(store_
                  ->read([&](Connection& c) {
                    count = integer(c.query("SELECT COUNT(*) FROM leads")[0][0]);
                    return Status();
                  })
                  .ok());
  EXPECT_EQ(count, kWriters);
}

TEST_P(StoreTest, ASubmittedWriteIsAnsweredOnceCommittedAndRetryableOnceStopping) {
  HeldWriter held(*store_);
  std::mutex mutex;
  std::condition_variable told;
  std::vector<std::pair<std::string, Status>> outcomes;  // in the order they were told
  const auto tell = [&](std::string name) {
    return [&, name](Status status) {
      // A read is quick and the test's readers are free: what the write left is visible.
      bool committed = false;
      (void)store_->read([&](Connection& c) {
        committed = findLead(c, "lead_" + name).has_value();
        return Status();
      });
      std::lock_guard lock(mutex);
      outcomes.emplace_back(name + (committed ? " committed" : " absent"), std::move(status));
      told.notify_all();
    };
  };
  store_->submit(
      [&](Connection& c) {
        Lead l = lead("lead_one", "one@example.it");
        insertLead(c, l);
        return Status();
      },
      Repeat::kRepeatable, tell("one"));
  store_->submit(
      [&](Connection& c) {
        Lead l = lead("lead_two", "two@example.it");
        insertLead(c, l);
        return Status(Error::invalid("refused after writing"));
      },
      Repeat::kOnce, tell("two"));
  awaitQueued(*store_, 2);
  {
    std::lock_guard lock(mutex);
    EXPECT_TRUE(outcomes.empty()) << "nothing is answered before its batch commits";
  }
  held.release();
  std::unique_lock lock(mutex);
  ASSERT_TRUE(told.wait_for(lock, std::chrono::seconds(20), [&] { return outcomes.size() == 2; }));
  EXPECT_EQ(outcomes[0].first, "one committed");
  EXPECT_TRUE(outcomes[0].second.ok());
  EXPECT_EQ(outcomes[1].first, "two absent");
  ASSERT_FALSE(outcomes[1].second.ok());
  EXPECT_EQ(outcomes[1].second.error().kind, ErrorKind::kInvalid);
  lock.unlock();

  store_->close();
  Status late;
  bool called = false;
  store_->submit([](Connection&) { return Status(); }, Repeat::kOnce,
                 [&](Status status) {
                   called = true;
                   late = std::move(status);
                 });
  ASSERT_TRUE(called) << "a stopped store answers at once";
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().kind, ErrorKind::kRetryable);
}

TEST_P(StoreTest, AWriteFromTheStoresOwnThreadsIsRefusedInsteadOfWaitingForItself) {
  Status fromWork;                // on the writer's thread, inside a batch
  std::promise<Status> fromThen;  // on the answering thread, where each `then` runs
  store_->submit(
      [&](Connection&) {
        fromWork = store_->write([](Connection&) { return Status(); });
        return Status();
      },
      Repeat::kOnce,
      [&](Status) { fromThen.set_value(store_->write([](Connection&) { return Status(); })); });
  auto answered = fromThen.get_future();
  ASSERT_EQ(answered.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  for (const Status& status : {fromWork, answered.get()}) {
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().kind, ErrorKind::kInternal);
  }
  EXPECT_TRUE(store_->write([](Connection&) { return Status(); }).ok()) << "the writer goes on";
}

TEST_P(StoreTest, TheWriterCommitsTheNextBatchWhileAnAnswerIsStillRunning) {
  ASSERT_TRUE(store_
                  ->write([](Connection& c) {
                    c.exec("CREATE TABLE scratch (body TEXT NOT NULL)");
                    return Status();
                  })
                  .ok());
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> firstAnswered, secondAnswered;
  store_->submit([](Connection&) { return Status(); }, Repeat::kOnce,
                 [&, released](Status) {
                   released.wait();  // a slow `then`
                   firstAnswered.set_value();
                 });
  store_->submit(
      [](Connection& c) {
        c.exec("INSERT INTO scratch (body) VALUES ($1)", {std::string("second")});
        return Status();
      },
      Repeat::kOnce, [&](Status) { secondAnswered.set_value(); });
  // The second write is committed - readers see it - while the first one's answer still runs.
  std::size_t seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (seen == 0 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(store_
                    ->read([&](Connection& c) {
                      seen = c.query("SELECT body FROM scratch").size();
                      return Status();
                    })
                    .ok());
  }
  EXPECT_EQ(seen, 1u);
  // Answers keep commit order: the second waits for the first.
  auto second = secondAnswered.get_future();
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  release.set_value();
  EXPECT_EQ(second.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  firstAnswered.get_future().wait();
}

TEST_P(StoreTest, LeadsRoundTripWithOptimisticVersions) {
  Lead l = lead("lead_01", "anna@example.it");
  l.profile.annual_revenue = Money(250000000, "EUR");
  l.profile.employees = 120;
  l.consent = Consent{true, "news", kT0, "web_form:demo", "203.0.113.9", ""};
  l.custom["budget"] = "50k";
  l.history.push_back({LeadStatus::kNew, LeadStatus::kWorking, LeadCommand::kStartWork,
                       Actor::kPerson, "anna", std::nullopt, "", kT0});
  ASSERT_TRUE(store_
                  ->write([&](Connection& c) {
                    insertLead(c, l);
                    return Status();
                  })
                  .ok());
  std::optional<Lead> back;
  ASSERT_TRUE(store_
                  ->read([&](Connection& c) {
                    back = findLead(c, "lead_01");
                    return Status();
                  })
                  .ok());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, l);

  Lead stale = *back;
  back->profile.city = "Milano";
  bool first = false, second = true;
  ASSERT_TRUE(store_
                  ->write([&](Connection& c) {
                    first = updateLead(c, *back);
                    second = updateLead(c, stale);
                    return Status();
                  })
                  .ok());
  EXPECT_TRUE(first);
  EXPECT_FALSE(second) << "a stale version must not overwrite";
  EXPECT_EQ(back->version, 2);
}

TEST_P(StoreTest, AnImportMovesOnOnlyFromTheProgressItRead) {
  LeadImport i{"imp_01", "ab12", "list.csv", "fair", "", "running", 1, 0, 0, 0, 0, kT0, kT0};
  const std::vector<std::string> fields{"not-an-email", "caf\xc3\xa9", "\xff"};
  bool moved = false, stale = true;
  std::optional<LeadImport> back;
  std::vector<ImportRejection> rejected;
  ASSERT_TRUE(
      store_
          ->write([&](Connection& c) {
            insertLeadImport(c, i);
            insertImportRejection(c, i.id, {3, 4, "Email: is not an email address", fields});
            LeadImport next = i;
            next.records_done = 1001;
            next.created = 999;
            next.rejected = 1;
            moved = updateLeadImport(c, next, 1);
            // A second importer that read the same starting point is refused.
            stale = updateLeadImport(c, next, 1);
            back = findLeadImport(c, "ab12", "fair", "");
            forEachImportRejection(c, i.id, [&](const auto& r) { rejected.push_back(r); });
            return Status();
          })
          .ok());
  EXPECT_TRUE(moved);
  EXPECT_FALSE(stale);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->records_done, 1001);
  EXPECT_EQ(back->created, 999);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].line, 4);
  EXPECT_EQ(rejected[0].errors, "Email: is not an email address");
  EXPECT_EQ(rejected[0].fields,
            (std::vector<std::string>{"not-an-email", "caf\xc3\xa9", "(not UTF-8)"}));
}

TEST_P(StoreTest, ListFiltersAndPagesByCursor) {
  ASSERT_TRUE(store_
                  ->write([&](Connection& c) {
                    for (int i = 0; i < 7; ++i) {
                      Lead l =
                          lead("lead_0" + std::to_string(i), std::to_string(i) + "@example.it");
                      if (i % 2) l.status = LeadStatus::kWorking;
                      if (i == 3) l.first_touch.partner = "other";
                      insertLead(c, l);
                    }
                    return Status();
                  })
                  .ok());
  ASSERT_TRUE(store_
                  ->read([&](Connection& c) {
                    LeadFilter f;
                    f.limit = 3;
                    auto page = listLeads(c, f);
                    EXPECT_EQ(page.size(), 4u);  // limit + 1 says there is more
                    f.after_id = page[2].id;
                    page = listLeads(c, f);
                    EXPECT_EQ(page.size(), 4u);
                    EXPECT_EQ(page[0].id, "lead_03");
                    LeadFilter working;
                    working.status = "working";
                    EXPECT_EQ(listLeads(c, working).size(), 3u);
                    LeadFilter byPartner;
                    byPartner.partner = "other";
                    EXPECT_EQ(listLeads(c, byPartner).size(), 1u);
                    LeadFilter byEmail;
                    byEmail.email = "4@example.it";
                    EXPECT_EQ(listLeads(c, byEmail).at(0).id, "lead_04");
                    LeadFilter injection;
                    injection.email = "x' OR '1'='1";
                    EXPECT_TRUE(listLeads(c, injection).empty());
                    return Status();
                  })
                  .ok());
}

TEST_P(StoreTest, TimelineAndOutboxKeepOrder) {
  ASSERT_TRUE(
      store_
          ->write([&](Connection& c) {
            appendTimeline(c, {0, "lead_01", kT0, "lead.captured", "api", "captured", "{}"});
            appendTimeline(c, {0, "lead_01", kT0, "note", "anna", "called", "{\"n\":1}"});
            appendEvent(c, {0, "evt_1", "lead.captured", "lead_01", "acme", kT0, "{}"});
            appendEvent(c, {0, "evt_2", "lead.scored", "lead_01", "", kT0, "{}"});
            return Status();
          })
          .ok());
  ASSERT_TRUE(store_
                  ->read([&](Connection& c) {
                    auto entries = listTimeline(c, "lead_01", 0, 10);
                    EXPECT_EQ(entries.size(), 2u);
                    EXPECT_EQ(entries[1].summary, "called");
                    auto events = readEvents(c, 0, 10);
                    EXPECT_EQ(events.size(), 2u);
                    EXPECT_EQ(events[0].partner, "acme");
                    EXPECT_LT(events[0].seq, events[1].seq);
                    EXPECT_EQ(readEvents(c, events[0].seq, 10).size(), 1u);
                    return Status();
                  })
                  .ok());
}

TEST_P(StoreTest, DuplicateKeysBecomeConflicts) {
  auto insert = [&] {
    return store_->write([&](Connection& c) {
      insertApiKey(c, {"key_same", "crm", {"leads:read"}, "hash", kT0, std::nullopt});
      return Status();
    });
  };
  ASSERT_TRUE(insert().ok());
  auto second = insert();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, ErrorKind::kConflict);
  EXPECT_FALSE(insert().ok()) << "and again: still refused, nothing written";
}

TEST_P(StoreTest, ApiKeysAndIdempotencyRecords) {
  ASSERT_TRUE(store_
                  ->write([&](Connection& c) {
                    insertApiKey(
                        c,
                        {"key_1", "crm", {"leads:read", "leads:write"}, "abc", kT0, std::nullopt});
                    insertIdempotency(c, "POST /v1/leads|key_1", "k1", {"h", 201, "{}", kT0});
                    return Status();
                  })
                  .ok());
  ASSERT_TRUE(store_
                  ->write([&](Connection& c) {
                    EXPECT_TRUE(revokeApiKey(c, "key_1", kT0));
                    EXPECT_FALSE(revokeApiKey(c, "key_1", kT0));
                    EXPECT_EQ(purgeIdempotency(c, kT0 + std::chrono::hours(25)), 1u);
                    return Status();
                  })
                  .ok());
  ASSERT_TRUE(store_
                  ->read([&](Connection& c) {
                    auto k = findApiKey(c, "key_1");
                    EXPECT_TRUE(k && k->revoked_at);
                    EXPECT_EQ(k->scopes.size(), 2u);
                    EXPECT_FALSE(findIdempotency(c, "POST /v1/leads|key_1", "k1"));
                    return Status();
                  })
                  .ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres),
                         [](const auto& p) { return ciclo::testing::backendName(p.param); });

TEST(SqliteStore, SynchronousIsFullByDefaultAndConfigurable) {
  const std::string url = ciclo::testing::freshDatabaseUrl(TestBackend::kSqlite);
  StoreConfig config;
  config.url = url;
  EXPECT_EQ(Store::open(config).value()->effectiveSqliteSynchronousForTest(), 2);  // FULL
  config.sqlite_synchronous = "normal";
  EXPECT_EQ(Store::open(config).value()->effectiveSqliteSynchronousForTest(), 1);
  config.sqlite_synchronous = "sometimes";
  EXPECT_FALSE(Store::open(config).ok());
}

TEST(SqliteStore, TheWalStaysBoundedUnderSteadyWrites) {
  const std::string url = ciclo::testing::freshDatabaseUrl(TestBackend::kSqlite);
  StoreConfig config;
  config.url = url;
  config.sqlite_synchronous = "off";  // fast commits: faster than the checkpointer's pace
  config.sqlite_wal_restart_pages = 64;
  auto store = Store::open(config).value();
  ASSERT_TRUE(store
                  ->write([](Connection& c) {
                    c.exec("CREATE TABLE scratch (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
                    return Status();
                  })
                  .ok());
  const std::string body(2000, 'x');
  for (int i = 0; i < 2000; ++i) {  // about 4 MB in 2000 commits
    ASSERT_TRUE(store
                    ->write([&](Connection& c) {
                      c.exec("INSERT INTO scratch (body) VALUES ($1)", {body});
                      return Status();
                    })
                    .ok());
  }
  const std::string wal = url.substr(std::string("sqlite:").size()) + "-wal";
  // The WAL's high-water mark is the 64 pages plus what commits while the background
  // checkpointer holds the checkpoint lock (the writer's own pass then waits for a later
  // batch, or for the lock once the WAL is twice the size): a few hundred KiB, more on a slow
  // (sanitized) build. Growing with every write would leave about 4 MB.
  EXPECT_LT(std::filesystem::file_size(wal), 1024u * 1024)
      << "the WAL restarts after 64 pages instead of growing with every write";
}

TEST(StoreOpen, RefusesUnknownUrls) {
  StoreConfig config;
  config.url = "mysql://localhost/x";
  auto opened = Store::open(config);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().kind, ErrorKind::kInvalid);
  config.url = "postgresql://ciclo@127.0.0.1:1/none";
  auto unreachable = Store::open(config);
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.error().message.find("127.0.0.1"), std::string::npos)
      << "no connection details in errors";
}

}  // namespace
}  // namespace ciclo::store

namespace ciclo::store {
namespace {

TEST(PgConnectionString, TranslatesUrlsIntoKeywordForm) {
  EXPECT_EQ(pgConnectionString("postgresql://ciclo@127.0.0.1:5433/ciclo_test"),
            "user='ciclo' host='127.0.0.1' port='5433' dbname='ciclo_test'");
  EXPECT_EQ(pgConnectionString("postgres://u:p%40ss'x@db.example/app?sslmode=require"),
            "user='u' password='p@ss\\'x' host='db.example' dbname='app' sslmode='require'");
  EXPECT_EQ(pgConnectionString("postgresql://[::1]:5432/x"), "host='::1' port='5432' dbname='x'");
  EXPECT_EQ(pgConnectionString("postgresql://h/x?bad key=1"), "");
  EXPECT_EQ(pgConnectionString("postgresql://h/x?%zz=1"), "");
  EXPECT_EQ(pgConnectionString("mysql://h/x"), "");
}

}  // namespace
}  // namespace ciclo::store

namespace ciclo::store {
namespace {

// Two writers on one PostgreSQL database (two daemons): an event whose sequence number was
// taken first must also commit first, or a consumer reading in between would skip it.
TEST(PostgresOutbox, EventsCommitInSequenceOrderAcrossWriters) {
  if (!std::getenv("CICLO_TEST_PG_URL_FILE"))
    GTEST_SKIP() << "no PostgreSQL test cluster (run through ctest)";
  StoreConfig config;
  config.url = ciclo::testing::freshDatabaseUrl(TestBackend::kPostgres);
  auto first = Store::open(config);
  auto second = Store::open(config);
  ASSERT_TRUE(first.ok() && second.ok());
  std::atomic<bool> firstAppended{false}, releaseFirst{false}, secondCommitted{false};
  std::thread one([&] {
    (void)first.value()->write([&](Connection& c) {
      appendEvent(c, {0, "evt_first", "lead.captured", "lead_1", "", kT0, "{}"});
      firstAppended = true;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!releaseFirst && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
      return Status();
    });
  });
  while (!firstAppended) std::this_thread::yield();
  std::thread two([&] {
    (void)second.value()->write([&](Connection& c) {
      appendEvent(c, {0, "evt_second", "lead.captured", "lead_2", "", kT0, "{}"});
      return Status();
    });
    secondCommitted = true;
  });
  // While the first transaction is open, the second cannot commit its event ahead of it.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (!secondCommitted && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  EXPECT_FALSE(secondCommitted) << "an event committed ahead of an earlier, uncommitted one";
  std::vector<Event> seen;
  ASSERT_TRUE(first.value()
                  ->read([&](Connection& c) {
                    seen = readEvents(c, 0, 10);
                    return Status();
                  })
                  .ok());
  EXPECT_TRUE(seen.empty());
  releaseFirst = true;
  one.join();
  two.join();
  ASSERT_TRUE(first.value()
                  ->read([&](Connection& c) {
                    seen = readEvents(c, 0, 10);
                    return Status();
                  })
                  .ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].id, "evt_first");
  EXPECT_EQ(seen[1].id, "evt_second");
}

}  // namespace
}  // namespace ciclo::store

#include "store/lead_json.h"

namespace ciclo::store {
namespace {

// The fast writer and the JSON tree give the same bytes, for a bare lead and a full one.
TEST(LeadJson, TextWriterMatchesTheJsonTree) {
  Lead bare;
  bare.id = "lead_01";
  EXPECT_EQ(leadToJsonText(bare), toJsonText(leadToJson(bare)));

  Lead full;
  full.id = "lead_02";
  full.status = LeadStatus::kDisqualified;
  full.profile = {"Anna",
                  "Rossi \"la rossa\"",
                  "anna@rossi.it",
                  "+390212345678",
                  "CFO",
                  "Rossi & C. Srl",
                  "https://rossi.it/chi-siamo",
                  "Logistica",
                  "IT",
                  "Bergamo",
                  std::optional<std::int64_t>(120),
                  Money(250000000, "EUR"),
                  "Two forklifts\nby March\t(urgent)\r\n\\ \x01 end",
                  "51-200"};
  full.company_domain = "rossi.it";
  full.account_id = "acct_1";
  full.first_touch = {LeadSource::kWebForm,
                      "acme",
                      "demo",
                      "https://rossi.it/lp?x=1&y=è",
                      {"google", "cpc", "autunno", "carrelli", "ad-1"},
                      kT0};
  full.latest_touch = {LeadSource::kReferral, "", "", "", {}, kT0 + std::chrono::hours(1)};
  full.consent = Consent{true,          "Sì, inviatemi notizie",          kT0, "web_form:demo",
                         "203.0.113.9", "https://www.example.it/demo?x=1"};
  full.persona = "plant_manager";
  full.persona_match = PersonaMatch{"plant_manager", 67, {"industry", "job_title"}, {"country"}};
  full.score = 73;
  full.fit_score = 40;
  full.engagement_score = 33;
  full.scored_at = kT0 + std::chrono::minutes(2);
  full.owner = "marco";
  full.disqualify_reason = DisqualifyReason::kNoBudget;
  full.history = {{LeadStatus::kNew, LeadStatus::kWorking, LeadCommand::kStartWork, Actor::kPerson,
                   "marco", std::nullopt, "", kT0},
                  {LeadStatus::kWorking, LeadStatus::kDisqualified, LeadCommand::kDisqualify,
                   Actor::kPerson, "marco", DisqualifyReason::kNoBudget, "next year", kT0}};
  full.merged_from = {"lead_x", "lead_y"};
  full.custom = {{"budget", "50k €"}, {"fleet", "12"}};
  full.provenance = {{"employees_range", {"linkedin", "urn:li:organization:42", kT0}},
                     {"industry", {"linkedin", "", kT0 + std::chrono::seconds(1)}}};
  full.created_at = kT0;
  full.updated_at = kT0 + std::chrono::minutes(3);
  full.version = 7;
  EXPECT_EQ(leadToJsonText(full), toJsonText(leadToJson(full)));
  EXPECT_EQ(leadFromJson(leadToJsonText(full)), full);
}

}  // namespace
}  // namespace ciclo::store
