#include "host/events.h"

#include <Poco/Logger.h>
#include <pthread.h>

#include <algorithm>
#include <iterator>

namespace ciclo::host {

namespace {
Poco::Logger& log() {
  return Poco::Logger::get("ciclo.events");
}
constexpr int kChunk = 200;
}  // namespace

EventDispatcher::EventDispatcher(store::Store& store, const Clock& clock)
    : store_(store), clock_(clock) {}

EventDispatcher::~EventDispatcher() {
  stop();
}

void EventDispatcher::subscribe(std::string consumer, std::vector<std::string> types,
                                Handler handler) {
  consumers_.push_back({std::move(consumer), std::move(types), std::move(handler), {}, 0, {}, {}});
}

void EventDispatcher::subscribeBatch(std::string consumer, std::vector<std::string> types,
                                     BatchHandler handler) {
  consumers_.push_back({std::move(consumer), std::move(types), {}, std::move(handler), 0, {}, {}});
}

void EventDispatcher::start() {
  Status loaded = store_.write([&](store::Connection& c) {
    for (auto& consumer : consumers_) {
      auto rows =
          c.query("SELECT position FROM consumer_positions WHERE consumer = $1", {consumer.name});
      if (rows.empty()) {
        // A new consumer starts at the head: it is told about what happens from now on.
        consumer.position =
            store::integer(c.query("SELECT COALESCE(MAX(seq), 0) FROM outbox").at(0).at(0));
        c.exec(
            "INSERT INTO consumer_positions (consumer, position, updated_at) VALUES ($1, $2, $3)",
            {consumer.name, consumer.position, formatTimestamp(clock_.now())});
      } else {
        consumer.position = store::integer(rows[0][0]);
      }
    }
    return Status();
  });
  if (!loaded.ok()) log().error("cannot read consumer positions: %s", loaded.error().message);
  thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "ciclo-events");
    run();
  });
}

void EventDispatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventDispatcher::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_one();
}

std::int64_t EventDispatcher::lag() const {
  std::lock_guard lock(mutex_);
  std::int64_t slowest = head_;
  for (const auto& c : consumers_) slowest = std::min(slowest, c.position);
  return head_ - slowest;
}

void EventDispatcher::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(500), [&] { return woken_ || stopping_; });
      if (stopping_) return;
      woken_ = false;
    }
    (void)store_.read([&](store::Connection& c) {
      const auto head =
          store::integer(c.query("SELECT COALESCE(MAX(seq), 0) FROM outbox").at(0).at(0));
      std::lock_guard lock(mutex_);
      head_ = head;
      return Status();
    });
    while (drainRound()) {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
  }
}

// A chunk for every consumer that is not backing off, each from its own position. Consumers
// whose positions fall within one chunk share its read - under load they are all at the
// head, and one read serves them all - and one far behind reads alone, so that it does not
// hold the others back. The positions that moved are saved in one write. True when there may
// be more.
bool EventDispatcher::drainRound() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<Consumer*> waiting;
  for (auto& consumer : consumers_) {
    if (now >= consumer.retryAt) waiting.push_back(&consumer);
  }
  // Stable: consumers at one position are handed a chunk in the order they subscribed.
  std::stable_sort(waiting.begin(), waiting.end(),
                   [](const Consumer* a, const Consumer* b) { return a->position < b->position; });
  std::vector<std::pair<Consumer*, std::int64_t>> moved;
  bool more = false;
  for (auto next = waiting.begin(); next != waiting.end();) {
    Events events;
    Status read = store_.read([&](store::Connection& c) {
      events = store::readEvents(c, (*next)->position, kChunk);
      return Status();
    });
    if (!read.ok() || events.empty()) break;  // nothing after the lowest position waiting
    const bool full = events.size() == static_cast<std::size_t>(kChunk);
    for (; next != waiting.end() && (*next)->position < events.back().seq; ++next) {
      Consumer& consumer = **next;
      const auto first = std::upper_bound(
          events.begin(), events.end(), consumer.position,
          [](std::int64_t position, const store::Event& e) { return position < e.seq; });
      const std::int64_t reached = handle(consumer, first, events.end());
      if (reached != consumer.position) moved.emplace_back(&consumer, reached);
      if (reached == events.back().seq && full) more = true;
    }
  }
  if (moved.empty()) return more;
  Status saved = store_.write(
      [&](store::Connection& c) {
        const std::string at = formatTimestamp(clock_.now());
        for (const auto& [consumer, reached] : moved) {
          c.exec("UPDATE consumer_positions SET position = $1, updated_at = $2 WHERE consumer = $3",
                 {reached, at, consumer->name});
        }
        return Status();
      },
      store::Repeat::kRepeatable);
  if (!saved.ok()) return false;  // the next wake or poll goes on from the saved positions
  std::lock_guard lock(mutex_);
  for (const auto& [consumer, reached] : moved) consumer->position = reached;
  return more;
}

// Hands `consumer` the events it wants of [first, last); returns the position it reached:
// the last event's on success, else where it stopped (it then backs off).
std::int64_t EventDispatcher::handle(Consumer& consumer, Events::const_iterator first,
                                     Events::const_iterator last) {
  auto wanted = [&](const store::Event& e) {
    return consumer.types.empty() ||
           std::find(consumer.types.begin(), consumer.types.end(), e.type) != consumer.types.end();
  };
  auto fail = [&](const store::Event& at, const Error& error) {
    consumer.backoff = std::min(std::chrono::milliseconds(60000),
                                std::max(std::chrono::milliseconds(500), consumer.backoff * 2));
    consumer.retryAt = std::chrono::steady_clock::now() + consumer.backoff;
    log().warning("consumer %s stopped at event %s: %s", consumer.name, at.id, error.message);
  };
  std::int64_t reached = consumer.position;
  if (consumer.batch) {
    std::vector<const store::Event*> chunk;
    for (auto e = first; e != last; ++e) {
      if (wanted(*e)) chunk.push_back(&*e);
    }
    Status handled = chunk.empty() ? Status() : consumer.batch(chunk);
    if (!handled.ok()) {
      fail(*chunk.front(), handled.error());
      return reached;
    }
    reached = std::prev(last)->seq;
  } else {
    for (auto e = first; e != last; ++e) {
      if (wanted(*e)) {
        Status handled = consumer.handler(*e);
        if (!handled.ok()) {
          fail(*e, handled.error());
          return reached;
        }
      }
      reached = e->seq;
    }
  }
  consumer.backoff = std::chrono::milliseconds(0);
  return reached;
}

}  // namespace ciclo::host
