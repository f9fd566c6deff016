#pragma once
// How fast one key may act - a client submitting a form, a visitor being tracked, emails to
// one recipient domain: a token bucket per key. The buckets live in this daemon's memory;
// the interface lets a shared store back them when several daemons share the load.

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace ciclo::plugins {

using TimePoint = std::chrono::sys_time<std::chrono::milliseconds>;

// One token comes back every `interval`; the bucket holds `burst`.
struct Rate {
  std::chrono::milliseconds interval;
  int burst;
  // n a minute (n from 1 to 60,000), `burst` at once.
  static Rate perMinute(int n, int burst) { return {std::chrono::milliseconds(60'000 / n), burst}; }
  // n an hour (n from 1 to 3,600,000), all of them at once if need be.
  static Rate perHour(int n) { return {std::chrono::milliseconds(3'600'000 / n), n}; }
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Takes one token for `key`; when none is left, how long until one is.
  virtual std::optional<std::chrono::seconds> take(const std::string& key, const Rate& rate,
                                                   TimePoint now) = 0;
};

class TokenBuckets : public RateLimiter {
 public:
  explicit TokenBuckets(std::size_t maxBuckets = 100'000) : maxBuckets_(maxBuckets) {}
  std::optional<std::chrono::seconds> take(const std::string& key, const Rate& rate,
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

}  // namespace ciclo::plugins
