#pragma once
// Mail that comes back, read from the raw RFC 5322 message an MTA's pipe or a provider's
// inbound webhook hands over: a reply to a nurturing email, an automatic answer (RFC 3834),
// a delivery status notification (RFC 3464), a complaint (an RFC 5965 feedback report), or
// a request sent to the List-Unsubscribe mailto address.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ciclo::plugins::nurture {

// One recipient of a delivery status notification.
struct DeliveryStatus {
  std::string recipient;   // Final-Recipient's address, lower case
  std::string action;      // failed, delayed, delivered, relayed or expanded
  std::string status;      // RFC 3463, "5.1.1"
  int code = 0;            // the SMTP reply code of Diagnostic-Code, 0 without one
  std::string diagnostic;  // Diagnostic-Code's text: one line of UTF-8, at most 500 bytes
};

struct InboundMail {
  enum class Kind { kMessage, kDeliveryReport, kComplaint };
  Kind kind = Kind::kMessage;
  std::string message_id;                // its own "<...>", or ""
  std::string from;                      // the From address, lower case
  std::vector<std::string> recipients;   // To, Cc, Delivered-To, X-Original-To, lower case
  std::string subject;                   // decoded: one line of UTF-8, at most 500 bytes
  std::vector<std::string> references;   // In-Reply-To, then References newest first
  bool automatic = false;                // an autoresponder's answer (out of office)
  std::vector<DeliveryStatus> statuses;  // a delivery report's recipients
  // What a report or a complaint is about, from the headers it returns.
  std::string original_message_id;
  std::string original_email_id;  // its X-Ciclo-Email
};

// The message in `raw`; nullopt, with `error` saying why, when it has no header block.
std::optional<InboundMail> readInbound(const std::string& raw, std::string& error);

// The message identifiers "<...>" in a header field, in order (at most 100).
std::vector<std::string> messageIds(std::string_view field);

// The addresses of an address-list header field ("Anna <a@x>, b@y"), lower case.
std::vector<std::string> addresses(std::string_view field);

}  // namespace ciclo::plugins::nurture
