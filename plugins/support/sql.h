#pragma once
// Reading rows of a plugin's own tables (sdk::Tx::query) and writing optional values.

#include <string>
#include <variant>

#include "ciclo/plugin.h"

namespace ciclo::plugins {

// The text in column `i`, or "" when it is NULL or not text.
inline std::string columnText(const sdk::SqlRow& row, std::size_t i) {
  const auto* s = std::get_if<std::string>(&row.at(i));
  return s ? *s : std::string();
}

// The integer in column `i`, or 0 when it is NULL or not an integer.
inline long long columnInt(const sdk::SqlRow& row, std::size_t i) {
  const auto* n = std::get_if<long long>(&row.at(i));
  return n ? *n : 0;
}

// NULL for "", else the text.
inline sdk::SqlValue textOrNull(const std::string& s) {
  return s.empty() ? sdk::SqlValue() : sdk::SqlValue(s);
}

}  // namespace ciclo::plugins
