#pragma once
// Small text helpers the whole code base shares.

#include <string>
#include <string_view>
#include <vector>

namespace ciclo {

// "a,b,,c" -> {"a", "b", "c"}: empty items are dropped.
inline std::vector<std::string> splitList(std::string_view text, char separator = ',') {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

inline std::string joinList(const std::vector<std::string>& items, char separator = ',') {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

}  // namespace ciclo
