#include "inbound.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Exception.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/MultipartReader.h>
#include <Poco/Net/QuotedPrintableDecoder.h>
#include <Poco/String.h>

#include <algorithm>
#include <sstream>

#include "ciclo/mail.h"
#include "ciclo/text.h"

namespace ciclo::plugins::nurture {

namespace {

constexpr std::size_t kMaxFields = 5000;        // in one header block
constexpr std::size_t kMaxValue = 64 * 1024;    // bytes of one field, unfolded
constexpr std::size_t kMaxPartBytes = 1 << 20;  // of one MIME part kept for reading
constexpr std::size_t kMaxParts = 50;           // read in a message
constexpr int kMaxDepth = 3;                    // of nested multiparts
constexpr std::size_t kMaxStatuses = 100;       // recipients of one report

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// A header block: field names in lower case, values unfolded (RFC 5322 2.2.3).
using Fields = std::vector<std::pair<std::string, std::string>>;

bool isFieldName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(),
                                      [](char c) { return c > 32 && c < 127 && c != ':'; });
}

// Reads the header block of `text` that starts at `pos`, and moves `pos` past the blank
// line that ends it. Lines that are not fields are skipped, as MTAs do; false when the
// block holds more than kMaxFields fields.
bool readFields(std::string_view text, std::size_t& pos, Fields& fields) {
  fields.clear();
  while (pos < text.size()) {
    const std::size_t eol = text.find('\n', pos);
    const std::size_t end = eol == std::string_view::npos ? text.size() : eol;
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') {
      if (!fields.empty() && fields.back().second.size() < kMaxValue) fields.back().second += line;
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = trim(line.substr(0, colon));
    if (!isFieldName(name)) continue;
    if (fields.size() == kMaxFields) return false;
    fields.emplace_back(lower(std::string(name)), std::string(trim(line.substr(colon + 1))));
  }
  for (auto& [name, value] : fields) {
    if (value.size() > kMaxValue) value.resize(kMaxValue);
    value = std::string(trim(value));
  }
  return true;
}

const std::string& field(const Fields& fields, std::string_view name) {
  static const std::string kNone;
  for (const auto& [n, v] : fields)
    if (n == name) return v;
  return kNone;
}

// A field's text for a person to read: RFC 2047 words decoded, one line of UTF-8.
std::string readable(const std::string& value, std::size_t maxBytes) {
  std::string text = value;
  try {
    text = Poco::Net::MessageHeader::decodeWord(value);
  } catch (const Poco::Exception&) {
    // an unknown charset: the words stay as they came
  }
  if (!sdk::isValidUtf8(text)) return "";
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return std::string(sdk::utf8Prefix(trim(text), maxBytes));
}

// "type/subtype; a=b" -> "type/subtype" (lower case) and its parameters.
std::string mediaType(const std::string& value, Poco::Net::NameValueCollection& params) {
  std::string type;
  Poco::Net::MessageHeader::splitParameters(value, type, params);
  return lower(std::string(trim(type)));
}

struct Part {
  std::string type;  // lower case
  std::string body;  // decoded from its transfer encoding, at most kMaxPartBytes
};

std::string readAtMost(std::istream& in) {
  std::string out;
  char buffer[8192];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    const auto n = static_cast<std::size_t>(in.gcount());
    if (out.size() < kMaxPartBytes) out.append(buffer, std::min(n, kMaxPartBytes - out.size()));
  }
  return out;
}

// The leaf parts of a multipart body, nested multiparts included, each decoded. A part that
// cannot be read ends the walk with the parts read before it.
void collectParts(const std::string& body, const std::string& boundary, int depth,
                  std::vector<Part>& parts) {
  try {
    std::istringstream in(body);
    Poco::Net::MultipartReader reader(in, boundary);
    while (parts.size() < kMaxParts && reader.hasNextPart()) {
      Poco::Net::MessageHeader header;
      reader.nextPart(header);
      Poco::Net::NameValueCollection params;
      const std::string type = mediaType(header.get("Content-Type", "text/plain"), params);
      const std::string encoding =
          lower(std::string(trim(header.get("Content-Transfer-Encoding", ""))));
      std::string decoded;
      if (encoding == "base64") {
        Poco::Base64Decoder decoder(reader.stream());
        decoded = readAtMost(decoder);
      } else if (encoding == "quoted-printable") {
        Poco::Net::QuotedPrintableDecoder decoder(reader.stream());
        decoded = readAtMost(decoder);
      } else {
        decoded = readAtMost(reader.stream());
      }
      if (type.starts_with("multipart/")) {
        if (depth < kMaxDepth && params.has("boundary"))
          collectParts(decoded, params.get("boundary"), depth + 1, parts);
        continue;
      }
      parts.push_back({type, std::move(decoded)});
    }
  } catch (const std::exception&) {
    // a malformed part (Poco's exceptions are std::exceptions): what was read before it stands
  }
}

std::string afterSemicolon(std::string_view value) {
  const auto semi = value.find(';');
  return std::string(trim(semi == std::string_view::npos ? value : value.substr(semi + 1)));
}

std::string bareAddress(std::string_view s) {
  s = trim(s);
  if (const auto open = s.rfind('<'); open != std::string_view::npos) {
    const auto close = s.find('>', open);
    s = s.substr(open + 1,
                 close == std::string_view::npos ? std::string_view::npos : close - open - 1);
  } else if (const auto paren = s.find('('); paren != std::string_view::npos) {
    s = s.substr(0, paren);  // a trailing comment
  }
  s = trim(s);
  const std::string address = lower(std::string(s));
  if (address.size() > 254 || address.find('@') == std::string::npos || !sdk::isOneLine(address))
    return "";
  return address;
}

// The per-recipient blocks of a message/delivery-status body (RFC 3464 2.1).
void readStatuses(std::string_view body, std::vector<DeliveryStatus>& out) {
  std::size_t pos = 0;
  Fields fields;
  if (!readFields(body, pos, fields)) return;  // the per-message fields
  while (pos < body.size() && out.size() < kMaxStatuses) {
    if (!readFields(body, pos, fields)) return;
    if (fields.empty()) continue;
    DeliveryStatus d;
    d.recipient = bareAddress(afterSemicolon(field(fields, "final-recipient")));
    if (d.recipient.empty())
      d.recipient = bareAddress(afterSemicolon(field(fields, "original-recipient")));
    const std::string& action = field(fields, "action");
    d.action = lower(std::string(trim(action.substr(0, action.find_first_of(" (;")))));
    d.status = sdk::enhancedStatus(field(fields, "status"));
    std::string diagnostic = afterSemicolon(field(fields, "diagnostic-code"));
    if (diagnostic.size() >= 3 && std::all_of(diagnostic.begin(), diagnostic.begin() + 3,
                                              [](char c) { return c >= '0' && c <= '9'; })) {
      d.code = std::stoi(diagnostic.substr(0, 3));
      const std::string rest(trim(std::string_view(diagnostic).substr(3)));
      if (d.status.empty())
        d.status = sdk::enhancedStatus(rest.size() > 0 && rest[0] == '-' ? rest.substr(1) : rest);
    }
    d.diagnostic = readable(diagnostic, 500);
    if (!d.action.empty() || !d.recipient.empty()) out.push_back(std::move(d));
  }
}

bool isEmailId(std::string_view s) {
  return s.size() > 4 && s.size() <= 64 && s.starts_with("eml_") &&
         std::all_of(s.begin() + 4, s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
         });
}

// The headers of the message a report returns (text/rfc822-headers or message/rfc822).
void readReturned(std::string_view body, InboundMail& m) {
  std::size_t pos = 0;
  Fields fields;
  if (!readFields(body, pos, fields)) return;
  const auto ids = messageIds(field(fields, "message-id"));
  if (!ids.empty()) m.original_message_id = ids.front();
  const std::string email(trim(field(fields, "x-ciclo-email")));
  if (isEmailId(email)) m.original_email_id = email;
}

// RFC 3834 Auto-Submitted, and the marks autoresponders have used before it.
bool isAutomatic(const Fields& fields) {
  const std::string submitted = lower(std::string(trim(field(fields, "auto-submitted"))));
  if (!submitted.empty() && !submitted.starts_with("no")) return true;
  for (const auto& [name, value] : fields) {
    if (name == "x-autoreply" || name == "x-autorespond" || name == "x-autoresponder") return true;
  }
  const std::string precedence = lower(std::string(trim(field(fields, "precedence"))));
  return precedence == "bulk" || precedence == "junk" || precedence == "list" ||
         precedence == "auto_reply";
}

}  // namespace

std::vector<std::string> messageIds(std::string_view s) {
  std::vector<std::string> ids;
  std::size_t pos = 0;
  while (ids.size() < 100) {
    const auto open = s.find('<', pos);
    if (open == std::string_view::npos) break;
    const auto close = s.find('>', open);
    if (close == std::string_view::npos) break;
    const std::string_view id = s.substr(open, close - open + 1);
    if (id.size() > 3 && id.size() <= 998 && id.find('@') != std::string_view::npos &&
        sdk::isOneLine(id) && id.find(' ') == std::string_view::npos) {
      ids.emplace_back(id);
    }
    pos = close + 1;
  }
  return ids;
}

std::vector<std::string> addresses(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  bool quoted = false;
  int angle = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    const char c = i < s.size() ? s[i] : ',';
    if (c == '"' && (i == 0 || s[i - 1] != '\\')) quoted = !quoted;
    if (quoted) continue;
    if (c == '<') ++angle;
    if (c == '>' && angle > 0) --angle;
    if (c == ',' && angle == 0) {
      if (auto a = bareAddress(s.substr(start, i - start)); !a.empty()) out.push_back(a);
      start = i + 1;
      if (out.size() == 100) break;
    }
  }
  return out;
}

std::optional<InboundMail> readInbound(const std::string& raw, std::string& error) {
  std::string_view text(raw);
  // An mbox "From " line, as some pipe transports put before the message.
  if (text.starts_with("From ")) {
    const auto eol = text.find('\n');
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
  }
  std::size_t pos = 0;
  Fields fields;
  if (!readFields(text, pos, fields)) {
    error = "the message has more than " + std::to_string(kMaxFields) + " header fields";
    return std::nullopt;
  }
  if (fields.empty()) {
    error = "there is no header block (name: value lines, then a blank line, then the body)";
    return std::nullopt;
  }
  InboundMail m;
  if (auto ids = messageIds(field(fields, "message-id")); !ids.empty()) m.message_id = ids.front();
  const auto from = addresses(field(fields, "from"));
  if (!from.empty()) m.from = from.front();
  for (const auto& [name, value] : fields) {
    if (name == "to" || name == "cc" || name == "delivered-to" || name == "x-original-to") {
      for (auto& a : addresses(value)) m.recipients.push_back(std::move(a));
    }
  }
  m.subject = readable(field(fields, "subject"), 500);
  m.references = messageIds(field(fields, "in-reply-to"));
  auto refs = messageIds(field(fields, "references"));
  m.references.insert(m.references.end(), refs.rbegin(), refs.rend());
  m.automatic = isAutomatic(fields);

  Poco::Net::NameValueCollection params;
  const std::string type = mediaType(field(fields, "content-type"), params);
  if (type != "multipart/report" || !params.has("boundary")) return m;
  const std::string reportType = lower(params.get("report-type", ""));
  if (reportType == "delivery-status") {
    m.kind = InboundMail::Kind::kDeliveryReport;
  } else if (reportType == "feedback-report") {
    m.kind = InboundMail::Kind::kComplaint;
  } else {
    return m;
  }
  std::vector<Part> parts;
  collectParts(std::string(text.substr(pos)), params.get("boundary"), 0, parts);
  for (const auto& part : parts) {
    if (part.type == "message/delivery-status" || part.type == "message/global-delivery-status") {
      readStatuses(part.body, m.statuses);
    } else if (part.type == "text/rfc822-headers" || part.type == "message/rfc822" ||
               part.type == "message/global" || part.type == "message/global-headers") {
      if (m.original_message_id.empty() && m.original_email_id.empty()) readReturned(part.body, m);
    }
  }
  return m;
}

}  // namespace ciclo::plugins::nurture
