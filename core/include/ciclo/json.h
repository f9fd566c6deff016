#pragma once
// Ciclo plugin SDK: writing JSON strings without a library.

#include <cstdio>
#include <string>
#include <string_view>

namespace ciclo::sdk {

// Appends `s` (UTF-8) to `out` as a quoted JSON string, with control characters escaped.
inline void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  std::size_t plain = 0;  // the start of the run of characters that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s, plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
        out += buf;
      }
    }
  }
  out.append(s, plain);
  out += '"';
}

// `s` (UTF-8) as a quoted JSON string, with control characters escaped.
inline std::string jsonString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  appendJsonString(out, s);
  return out;
}

}  // namespace ciclo::sdk
