#pragma once
// One nurturing email: its body rendered from a step's templates for a lead (mustache, HTML
// escaped in the HTML part), its links rewritten to click-tracking links, an open pixel,
// and the signed tokens those links and the unsubscribe link carry (CONTRACT.md section 6).

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sequence.h"

namespace ciclo::plugins::nurture {

struct Rendered {
  std::string subject;  // one line: control characters become spaces
  std::string text;
  std::string html;                // with tracked links and the open pixel, or empty
  std::vector<std::string> links;  // the links the HTML part carried, in order
};

// `links.clickUrl(i)` is the tracking URL for the HTML part's i-th link.
struct TrackingUrls {
  std::string open;
  std::string unsubscribe;
  std::function<std::string(std::size_t)> click;
};

// Renders `step` for `lead`. Variables: first_name, last_name, name, company, job_title,
// email, persona, unsubscribe_url.
Rendered render(const Step& step, const LeadFacts& lead, const TrackingUrls& urls);

// Tokens: "<email id>.<link or ->.<signature>", the signature an HMAC-SHA256 (first 16
// bytes, hex) over the kind, the email id and the link, under the plugin's own key.
enum class TokenKind : char { kOpen = 'o', kClick = 'c', kUnsubscribe = 'u' };
using Hmac = std::function<std::string(const std::string& data)>;            // raw HMAC-SHA256
using Equals = std::function<bool(const std::string&, const std::string&)>;  // constant time

// Bytes as lower-case hexadecimal.
std::string hex(std::string_view raw);

std::string makeToken(const Hmac& hmac, TokenKind kind, const std::string& emailId, int link = -1);

struct TokenClaims {
  std::string email_id;
  int link = -1;
};
std::optional<TokenClaims> readToken(const Hmac& hmac, const Equals& equals, TokenKind kind,
                                     std::string_view token);

// A visitor's token, for the website's tracking calls (/t/i, /t/p): "<lead id>.<expiry, Unix
// seconds>.<signature>", signed as the email tokens are, under their kind 'v'.
std::string makeVisitorToken(const Hmac& hmac, const std::string& leadId, long long expires);
// The lead of a well-signed token that has not expired at `now` (Unix seconds).
std::optional<std::string> readVisitorToken(const Hmac& hmac, const Equals& equals,
                                            std::string_view token, long long now);

// `url` with `name=value` added to its query, before any fragment.
std::string withQueryParam(const std::string& url, const std::string& name,
                           const std::string& value);

}  // namespace ciclo::plugins::nurture
