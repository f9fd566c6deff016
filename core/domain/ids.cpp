#include "domain/ids.h"

#include <array>
#include <cstdint>

namespace ciclo {

namespace {
constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::size_t kBodyLength = 26;
}  // namespace

std::string IdGenerator::next(std::string_view prefix) {
  std::array<std::uint8_t, 16> bytes{};
  {
    const auto now = static_cast<std::uint64_t>(clock_.now().time_since_epoch().count());
    std::lock_guard lock(mutex_);
    if (now > last_ms_) {
      random_.fill(std::span(bytes).subspan(6));
      last_ms_ = now;
      last_high_ = static_cast<std::uint16_t>(bytes[6] << 8 | bytes[7]);
      last_low_ = 0;
      for (std::size_t i = 8; i < 16; ++i) last_low_ = last_low_ << 8 | bytes[i];
    } else if (++last_low_ == 0 && ++last_high_ == 0) {
      ++last_ms_;  // 2^80 ids in one millisecond: borrow the next one
    }
    for (int i = 0; i < 6; ++i)
      bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(last_ms_ >> (40 - 8 * i));
    bytes[6] = static_cast<std::uint8_t>(last_high_ >> 8);
    bytes[7] = static_cast<std::uint8_t>(last_high_);
    for (int i = 0; i < 8; ++i)
      bytes[static_cast<std::size_t>(8 + i)] = static_cast<std::uint8_t>(last_low_ >> (56 - 8 * i));
  }

  std::string id(prefix);
  id += '_';
  // 128 bits as 26 base32 digits, most significant first; the first digit carries 3 bits.
  std::array<char, kBodyLength> body{};
  for (std::size_t i = 0; i < kBodyLength; ++i) {
    const int top = 129 - 5 * static_cast<int>(i);  // bits 129 and 128 are padding
    unsigned digit = 0;
    for (int bit = top; bit > top - 5; --bit) {
      const unsigned value =
          bit > 127 ? 0u : (bytes[static_cast<std::size_t>(15 - bit / 8)] >> (bit % 8)) & 1u;
      digit = (digit << 1) | value;
    }
    body[i] = kAlphabet[digit];
  }
  id.append(body.data(), body.size());
  return id;
}

bool isValidId(std::string_view prefix, std::string_view id) {
  if (id.size() != prefix.size() + 1 + kBodyLength || id.substr(0, prefix.size()) != prefix ||
      id[prefix.size()] != '_') {
    return false;
  }
  const auto body = id.substr(prefix.size() + 1);
  if (body[0] > '7') return false;  // only 3 bits in the first digit
  for (char c : body) {
    if (kAlphabet.find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace ciclo
