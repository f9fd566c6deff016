#pragma once
// Outbound webhooks (CONTRACT.md section 5): subscribers' endpoints, the fan-out of outbox
// events into deliveries, and the worker that sends them signed as Standard Webhooks, with
// growing delays between attempts for more than a day, then keeps failures for replay.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "host/api.h"
#include "host/crypto.h"
#include "host/events.h"
#include "http/http_client.h"

namespace ciclo::host {

// The delays before attempts 2, 3, ...: 8 attempts over about 27.6 hours.
extern const std::vector<std::chrono::seconds> kWebhookRetryDelays;
// The event types a subscriber may ask for.
extern const std::vector<std::string> kEventTypes;

class Webhooks {
 public:
  Webhooks(Services& services, Crypto& crypto);
  ~Webhooks();

  void addRoutes(Router& router);
  // The fan-out consumer: one pending delivery per matching active endpoint, idempotent;
  // wakes the sender when it queued one.
  Status fanOut(const store::Event& event);
  void start();
  void stop();

  struct Counts {
    std::uint64_t succeeded = 0, retried = 0, failed = 0;
  };
  Counts counts() const;

 private:
  void wake();  // the sender: a delivery is due now
  struct Due;
  struct Subscriber {
    std::string id, partner;
    std::vector<std::string> event_types;
  };
  // The active endpoints, read at most once a second, and at once after a change here.
  Result<std::shared_ptr<const std::vector<Subscriber>>> subscribers();
  void invalidateSubscribers();
  void run();
  bool deliverDue();
  void deliver(const Due& due);

  Services& s_;
  Crypto& crypto_;
  connectors::HttpClient http_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool woken_ = false;
  bool stopping_ = false;
  Counts counts_;
  std::shared_ptr<const std::vector<Subscriber>> subscribers_;
  std::chrono::steady_clock::time_point subscribersRead_{};
  std::thread thread_;
};

}  // namespace ciclo::host
