#pragma once
// How fast one client may submit one form: a token bucket per (client IP, form). The
// buckets live in this daemon's memory; the interface lets a shared store back them when
// several daemons serve the same forms.

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "form.h"

namespace ciclo::plugins::webform {

using TimePoint = std::chrono::sys_time<std::chrono::milliseconds>;

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Takes one token for `key`; when none is left, how long until one is.
  virtual std::optional<std::chrono::seconds> take(const std::string& key, const RateLimit& limit,
                                                   TimePoint now) = 0;
};

class TokenBuckets : public RateLimiter {
 public:
  explicit TokenBuckets(std::size_t maxBuckets = 100'000) : maxBuckets_(maxBuckets) {}
  std::optional<std::chrono::seconds> take(const std::string& key, const RateLimit& limit,
                                           TimePoint now) override;
  std::size_t size() const;

 private:
  // The bucket as the time at which it would be full again (the generic cell rate
  // algorithm's "theoretical arrival time"): exact in whole milliseconds.
  struct Bucket {
    TimePoint full_at;
  };
  // Forgets buckets that have filled up again: they hold nothing a new one would not.
  void prune(TimePoint now);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::size_t maxBuckets_;
};

}  // namespace ciclo::plugins::webform
