#include "rate_limiter.h"

#include <algorithm>
#include <vector>

namespace ciclo::plugins {

std::optional<std::chrono::seconds> TokenBuckets::take(const std::string& key, const Rate& rate,
                                                       TimePoint now) {
  const std::chrono::milliseconds interval = rate.interval;  // one token comes back
  const std::chrono::milliseconds tolerance = interval * (rate.burst - 1);
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= maxBuckets_) prune(now);
    it = buckets_.emplace(key, Bucket{now}).first;
  }
  Bucket& b = it->second;
  const TimePoint start = std::max(b.full_at, now);
  if (start - now > tolerance) {
    const auto wait = start - now - tolerance;
    return std::chrono::ceil<std::chrono::seconds>(wait);
  }
  b.full_at = start + interval;
  return std::nullopt;
}

void TokenBuckets::prune(TimePoint now) {
  std::erase_if(buckets_, [&](const auto& kv) { return kv.second.full_at <= now; });
  // Under a flood of distinct clients, forget the older half rather than grow.
  if (buckets_.size() >= maxBuckets_) {
    std::vector<TimePoint> ages;
    ages.reserve(buckets_.size());
    for (const auto& kv : buckets_) ages.push_back(kv.second.full_at);
    std::nth_element(ages.begin(), ages.begin() + static_cast<long>(ages.size() / 2), ages.end());
    const TimePoint median = ages[ages.size() / 2];
    std::erase_if(buckets_, [&](const auto& kv) { return kv.second.full_at <= median; });
  }
}

std::size_t TokenBuckets::size() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

}  // namespace ciclo::plugins
