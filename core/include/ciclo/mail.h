#pragma once
// Ciclo plugin SDK: what a mail server's status says - from an SMTP reply to the relay, or
// from a delivery status notification (RFC 3464) that comes back later. One reading for
// both, so that a bounce is hard or soft the same way however it arrives.

#include <string>
#include <string_view>

namespace ciclo::sdk {

// The RFC 3463 enhanced status code at the start of `text` ("5.1.1 No such user" ->
// "5.1.1"): class 2, 4 or 5, subject and detail of one to three digits; "" without one.
inline std::string enhancedStatus(std::string_view text) {
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.')
    return "";
  std::size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    const std::size_t start = i;
    while (i < text.size() && i - start < 3 && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start) return "";
    if (part == 0) {
      if (i >= text.size() || text[i] != '.') return "";
      ++i;
    }
  }
  if (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\r' && text[i] != '\n')
    return "";
  return std::string(text.substr(0, i));
}

// A permanent failure is hard when the address itself is wrong (X.1.x, and 550/551/553
// without an enhanced code); mailbox full, policy and content refusals are soft.
inline bool isHardBounce(int code, std::string_view enhanced) {
  if (!enhanced.empty()) return enhanced.starts_with("5.1.");
  return code == 550 || code == 551 || code == 553;
}

}  // namespace ciclo::sdk
