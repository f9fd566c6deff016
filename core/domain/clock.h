#pragma once
// What the domain asks of the world: the time and randomness. Implemented outside the domain,
// so every rule that depends on them can be driven by tests.

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

namespace ciclo {

using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // Fills with cryptographically strong random bytes.
  virtual void fill(std::span<std::uint8_t> out) = 0;
};

// RFC 3339 UTC with millisecond precision, "2026-11-23T10:15:30.123Z": sorts as text.
std::string formatTimestamp(Timestamp t);
// Accepts RFC 3339 with 'Z' or a numeric offset, with or without fractional seconds.
bool parseTimestamp(std::string_view text, Timestamp& out);

}  // namespace ciclo
