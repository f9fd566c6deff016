#pragma once
// Text put into HTML that plugins serve (pages, error lists, confirmation forms).

#include <string>
#include <string_view>

namespace ciclo::plugins {

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string htmlEscape(std::string_view s);

}  // namespace ciclo::plugins
