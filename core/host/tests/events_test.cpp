#include "host/events.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "host/adapters.h"
#include "store/journal.h"
#include "support/test_db.h"

namespace ciclo::host {
namespace {

class Dispatcher : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreConfig config;
    config.url = ciclo::testing::freshDatabaseUrl(ciclo::testing::TestBackend::kSqlite);
    auto opened = store::Store::open(config);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }

  void append(const std::vector<std::pair<std::string, std::string>>& typeAndSubject) {
    ASSERT_TRUE(store_
                    ->write([&](store::Connection& c) {
                      for (const auto& [type, subject] : typeAndSubject) {
                        store::appendEvent(c, {0, "evt_" + std::to_string(++n_), type, subject, "",
                                               clock_.now(), "{}"});
                      }
                      return Status();
                    })
                    .ok());
  }

  // Waits (briefly, in real time: the dispatcher is a thread) until `done` holds.
  static bool eventually(const std::function<bool()>& done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  std::int64_t savedPosition(const std::string& consumer) {
    std::int64_t position = -1;
    (void)store_->read([&](store::Connection& c) {
      auto rows =
          c.query("SELECT position FROM consumer_positions WHERE consumer = $1", {consumer});
      if (!rows.empty()) position = store::integer(rows[0][0]);
      return Status();
    });
    return position;
  }

  SystemClock clock_;
  std::unique_ptr<store::Store> store_;
  int n_ = 0;
};

TEST_F(Dispatcher, ABatchConsumerGetsTheEventsItWantsInOrderAChunkAtATime) {
  std::mutex mutex;
  std::vector<std::vector<std::string>> chunks;
  EventDispatcher events(*store_, clock_);
  events.subscribeBatch("batch", {"lead.captured", "lead.updated"},
                        [&](const std::vector<const store::Event*>& chunk) {
                          std::lock_guard lock(mutex);
                          chunks.emplace_back();
                          for (const auto* e : chunk) chunks.back().push_back(e->subject_id);
                          return Status();
                        });
  events.start();  // a new consumer starts at the head: what came before is not its business
  append({{"lead.captured", "a"}, {"lead.scored", "b"}, {"lead.updated", "c"}});
  events.wake();
  ASSERT_TRUE(eventually([&] { return savedPosition("batch") == 3; }));
  std::lock_guard lock(mutex);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0], (std::vector<std::string>{"a", "c"}));
}

TEST_F(Dispatcher, AFailedChunkIsHandledWholeAgainAndThePositionWaitsForIt) {
  std::atomic<int> calls{0};
  std::atomic<std::size_t> lastSize{0};
  EventDispatcher events(*store_, clock_);
  events.subscribeBatch("flaky", {}, [&](const std::vector<const store::Event*>& chunk) {
    lastSize = chunk.size();
    return ++calls == 1 ? Status(Error::retryable("not now")) : Status();
  });
  events.start();
  append({{"lead.captured", "a"}, {"lead.captured", "b"}});
  events.wake();
  ASSERT_TRUE(eventually([&] { return calls >= 1; }));
  EXPECT_EQ(savedPosition("flaky"), 0);
  // After the backoff (half a second), the same two events again, and then the position.
  ASSERT_TRUE(eventually([&] { return savedPosition("flaky") == 2; }));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(lastSize, 2u);
}

TEST_F(Dispatcher, AChunkWithNothingWantedMovesThePositionWithoutACall) {
  std::atomic<int> calls{0};
  EventDispatcher events(*store_, clock_);
  events.subscribeBatch("picky", {"lead.merged"}, [&](const std::vector<const store::Event*>&) {
    ++calls;
    return Status();
  });
  events.start();
  append({{"lead.captured", "a"}, {"lead.updated", "a"}});
  events.wake();
  ASSERT_TRUE(eventually([&] { return savedPosition("picky") == 2; }));
  EXPECT_EQ(calls, 0);
}

TEST_F(Dispatcher, WhileOneConsumerBacksOffTheOthersGoOnAndItCatchesUpFromItsOwnPosition) {
  std::mutex mutex;
  std::vector<std::string> steadySeen;
  std::vector<std::vector<std::string>> flakyChunks;
  std::atomic<bool> flakyWorks{false};
  EventDispatcher events(*store_, clock_);
  events.subscribe("steady", {}, [&](const store::Event& e) {
    std::lock_guard lock(mutex);
    steadySeen.push_back(e.subject_id);
    return Status();
  });
  events.subscribeBatch("flaky", {}, [&](const std::vector<const store::Event*>& chunk) {
    std::lock_guard lock(mutex);
    flakyChunks.emplace_back();
    for (const auto* e : chunk) flakyChunks.back().push_back(e->subject_id);
    return flakyWorks ? Status() : Status(Error::retryable("not now"));
  });
  events.start();
  append({{"lead.captured", "a"}, {"lead.captured", "b"}});
  events.wake();
  ASSERT_TRUE(eventually([&] { return savedPosition("steady") == 2; }));
  // While the flaky consumer backs off, the steady one goes on alone.
  append({{"lead.captured", "c"}, {"lead.captured", "d"}});
  events.wake();
  ASSERT_TRUE(eventually([&] { return savedPosition("steady") == 4; }));
  EXPECT_EQ(savedPosition("flaky"), 0);
  flakyWorks = true;
  ASSERT_TRUE(eventually([&] { return savedPosition("flaky") == 4; }));
  std::lock_guard lock(mutex);
  EXPECT_EQ(steadySeen, (std::vector<std::string>{"a", "b", "c", "d"})) << "each event once";
  ASSERT_GE(flakyChunks.size(), 2u);
  EXPECT_EQ(flakyChunks.front(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(flakyChunks.back(), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST_F(Dispatcher, AConsumerFarBehindReadsAloneAndDoesNotHoldTheOthersBack) {
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 1; i <= 451; ++i) many.emplace_back("lead.captured", "e" + std::to_string(i));
  append(many);
  // Where an earlier run left them: one consumer at the start, one just before the newest event.
  ASSERT_TRUE(store_
                  ->write([&](store::Connection& c) {
                    c.exec(
                        "INSERT INTO consumer_positions (consumer, position, updated_at) "
                        "VALUES ('behind', 0, 'x'), ('ahead', 450, 'x')");
                    return Status();
                  })
                  .ok());
  std::mutex mutex;
  std::vector<std::string> calls;  // "consumer:first-last" per chunk, in the order handled
  auto record = [&](const std::string& name) {
    return [&, name](const std::vector<const store::Event*>& chunk) {
      std::lock_guard lock(mutex);
      calls.push_back(name + ":" + chunk.front()->subject_id + "-" + chunk.back()->subject_id);
      return Status();
    };
  };
  EventDispatcher events(*store_, clock_);
  events.subscribeBatch("behind", {}, record("behind"));
  events.subscribeBatch("ahead", {}, record("ahead"));
  events.start();
  events.wake();
  ASSERT_TRUE(eventually([&] { return savedPosition("behind") == 451; }));
  EXPECT_EQ(savedPosition("ahead"), 451);
  std::lock_guard lock(mutex);
  EXPECT_EQ(calls, (std::vector<std::string>{"behind:e1-e200", "ahead:e451-e451",
                                             "behind:e201-e400", "behind:e401-e451"}));
}

}  // namespace
}  // namespace ciclo::host
