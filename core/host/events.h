#pragma once
// Consumers of the outbox. Each consumer gets the events after its own durable position,
// handles them in order and advances the position (consumers near one another share each
// read): delivery is at least once, so handlers are idempotent. The dispatcher wakes after
// every commit and polls as a safety net.

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "domain/clock.h"
#include "domain/result.h"
#include "store/database.h"
#include "store/journal.h"

namespace ciclo::host {

class EventDispatcher {
 public:
  using Handler = std::function<Status(const store::Event&)>;
  // Takes the wanted events of a chunk at once (in order), for a consumer that reads the
  // store once for many events. The chunk is handled whole or, on an error, again later.
  using BatchHandler = std::function<Status(const std::vector<const store::Event*>&)>;

  EventDispatcher(store::Store& store, const Clock& clock);
  ~EventDispatcher();

  // Before start(): `types` empty means every type.
  void subscribe(std::string consumer, std::vector<std::string> types, Handler handler);
  void subscribeBatch(std::string consumer, std::vector<std::string> types, BatchHandler handler);
  void start();
  void stop();
  void wake();

  // How far behind the newest event the slowest consumer is.
  std::int64_t lag() const;

 private:
  struct Consumer {
    std::string name;
    std::vector<std::string> types;
    Handler handler;  // one of the two
    BatchHandler batch;
    std::int64_t position = 0;
    std::chrono::steady_clock::time_point retryAt{};
    std::chrono::milliseconds backoff{0};
  };
  using Events = std::vector<store::Event>;
  void run();
  bool drainRound();
  std::int64_t handle(Consumer& consumer, Events::const_iterator first,
                      Events::const_iterator last);

  store::Store& store_;
  const Clock& clock_;
  std::vector<Consumer> consumers_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool woken_ = false;
  bool stopping_ = false;
  std::int64_t head_ = 0;
  std::thread thread_;
};

}  // namespace ciclo::host
