#pragma once
// Identifiers: opaque, sortable strings with a type prefix, "lead_01JD3Q8X2M4V6N8R0T2W4Y6A8C".
// After the prefix come 26 Crockford base32 characters: 48 bits of milliseconds since the
// epoch, then 80 random bits, so ids sort by creation time as text. Ids from one generator
// sort in the order they were made, also within one millisecond and when the clock steps
// back: the next id then repeats the last one's time and adds one to its random bits (the
// monotonic mode of ULID).

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "domain/clock.h"

namespace ciclo {

class IdGenerator {
 public:
  IdGenerator(const Clock& clock, RandomSource& random) : clock_(clock), random_(random) {}
  std::string next(std::string_view prefix);

 private:
  const Clock& clock_;
  RandomSource& random_;
  std::mutex mutex_;
  std::uint64_t last_ms_ = 0;
  std::uint16_t last_high_ = 0;  // the random bits: 16 here, 64 below
  std::uint64_t last_low_ = 0;
};

// True when `id` is `prefix` + '_' + 26 Crockford base32 characters (upper case).
bool isValidId(std::string_view prefix, std::string_view id);

}  // namespace ciclo
