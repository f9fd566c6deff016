#include "host/http_wire.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace ciclo::host::wire {

namespace {

bool isTokenChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Field values: visible characters, spaces, tabs and obs-text; no control characters.
bool isFieldValueChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// Reads lines ending in CRLF (or a bare LF, RFC 9112 section 2.2) from the bytes received.
class Lines {
 public:
  explicit Lines(std::string_view bytes, std::size_t at = 0) : bytes_(bytes), at_(at) {}

  enum class Got { kLine, kMore, kBareCr };
  Got next(std::string_view& line) {
    const auto lf = bytes_.find('\n', at_);
    if (lf == std::string_view::npos) return Got::kMore;
    const std::size_t end = lf > at_ && bytes_[lf - 1] == '\r' ? lf - 1 : lf;
    line = bytes_.substr(at_, end - at_);
    if (line.find('\r') != std::string_view::npos) return Got::kBareCr;
    at_ = lf + 1;
    return Got::kLine;
  }
  std::size_t at() const { return at_; }
  std::size_t pending() const { return bytes_.size() - at_; }

 private:
  std::string_view bytes_;
  std::size_t at_;
};

Refusal malformed(std::string detail) {
  return Refusal{400, "the request is malformed: " + std::move(detail)};
}

bool parseRequestLine(std::string_view line, Head& head, std::optional<Refusal>& refusal) {
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    refusal = malformed("the request line is not METHOD TARGET VERSION");
    return false;
  }
  const auto method = line.substr(0, sp1);
  const auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const auto version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), isTokenChar)) {
    refusal = malformed("an invalid method");
    return false;
  }
  if (target.empty() || !std::all_of(target.begin(), target.end(), [](char c) {
        return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
      })) {
    refusal = malformed("an invalid request target");
    return false;
  }
  if (version.size() != 8 || !version.starts_with("HTTP/") || version[6] != '.' ||
      !std::isdigit(static_cast<unsigned char>(version[5])) ||
      !std::isdigit(static_cast<unsigned char>(version[7]))) {
    refusal = malformed("an invalid HTTP version");
    return false;
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    refusal = Refusal{400, "only HTTP/1.0 and HTTP/1.1 are spoken here"};
    return false;
  }
  head.method = method;
  head.target = target;
  head.minor = version[7] - '0';
  head.keep_alive = head.minor == 1;
  return true;
}

// What the head's fields say about framing and the connection; a refusal when they
// contradict each other.
std::optional<Refusal> interpretFields(Head& head) {
  int lengths = 0;
  int codings = 0;
  int hosts = 0;
  for (const auto& [name, value] : head.fields) {
    if (equalsIgnoringCase(name, "Content-Length")) {
      ++lengths;
      std::uint64_t n = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || value.size() > 18 || ec != std::errc() ||
          end != value.data() + value.size())
        return malformed("an invalid Content-Length");
      head.content_length = n;
    } else if (equalsIgnoringCase(name, "Transfer-Encoding")) {
      ++codings;
      if (!equalsIgnoringCase(value, "chunked"))
        return malformed("a transfer coding other than chunked");
      head.chunked = true;
    } else if (equalsIgnoringCase(name, "Host")) {
      ++hosts;
    } else if (equalsIgnoringCase(name, "Connection")) {
      std::string_view rest = value;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        const auto option = trim(rest.substr(0, comma));
        if (equalsIgnoringCase(option, "close")) head.keep_alive = false;
        if (equalsIgnoringCase(option, "keep-alive") && head.minor == 0) head.keep_alive = true;
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
    } else if (equalsIgnoringCase(name, "Expect")) {
      head.expect_continue = equalsIgnoringCase(value, "100-continue");
    }
  }
  // Where a body ends must be read one way only (RFC 9112 section 6).
  if (lengths > 1) return malformed("Content-Length given twice");
  if (codings > 1) return malformed("Transfer-Encoding given twice");
  if (lengths && codings) return malformed("both Transfer-Encoding and Content-Length");
  if (head.minor == 1 && hosts != 1)
    return malformed(hosts ? "Host given twice" : "HTTP/1.1 requires a Host header");
  // A connection's later requests would be framed after a chunked HTTP/1.0 body only by
  // guessing: such a connection closes after its answer.
  if (head.minor == 0 && head.chunked) head.keep_alive = false;
  return std::nullopt;
}

}  // namespace

std::variant<NeedMore, Head, Refusal> parseHead(std::string_view bytes) {
  const auto tooLarge =
      Refusal{431, "the request head is larger than " + std::to_string(kMaxHeadBytes) + " bytes"};
  if (bytes.size() > kMaxHeadBytes) bytes = bytes.substr(0, kMaxHeadBytes);
  Lines lines(bytes);
  std::string_view line;
  // Empty lines before the request line are tolerated (RFC 9112 section 2.2).
  Lines::Got got;
  while ((got = lines.next(line)) == Lines::Got::kLine && line.empty()) {
  }
  const auto incomplete = [&](Lines::Got g) -> std::variant<NeedMore, Head, Refusal> {
    if (g == Lines::Got::kBareCr) return malformed("a CR without LF");
    if (bytes.size() >= kMaxHeadBytes) return tooLarge;
    return NeedMore{};
  };
  if (got != Lines::Got::kLine) return incomplete(got);
  Head head;
  std::optional<Refusal> refusal;
  if (!parseRequestLine(line, head, refusal)) return *refusal;
  for (;;) {
    got = lines.next(line);
    if (got != Lines::Got::kLine) return incomplete(got);
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') return malformed("a folded header line");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return malformed("a header line without a colon");
    const auto name = line.substr(0, colon);
    // A space before the colon is refused (RFC 9112 section 5.1): proxies read it differently.
    if (name.empty() || !std::all_of(name.begin(), name.end(), isTokenChar))
      return malformed("an invalid header field name");
    const auto value = trim(line.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), isFieldValueChar))
      return malformed("a control character in a header field");
    if (head.fields.size() == kMaxFields)
      return Refusal{431, "more than " + std::to_string(kMaxFields) + " header fields"};
    head.fields.emplace_back(name, value);
  }
  head.size = lines.at();
  if (auto r = interpretFields(head)) return *r;
  return head;
}

std::variant<NeedMore, Decoded, TooLarge, Refusal> decodeChunked(std::string_view bytes,
                                                                 std::string& body,
                                                                 std::size_t limit) {
  constexpr std::size_t kMaxSizeLine = 1024;
  body.clear();
  Lines lines(bytes);
  std::string_view line;
  for (;;) {
    const auto got = lines.next(line);
    if (got == Lines::Got::kBareCr) return malformed("a CR without LF");
    if (got == Lines::Got::kMore) {
      if (lines.pending() > kMaxSizeLine) return malformed("a chunk size line too long");
      return NeedMore{};
    }
    if (line.size() > kMaxSizeLine) return malformed("a chunk size line too long");
    // chunk-size [ chunk-ext ]: extensions are allowed and ignored.
    const auto digits = line.substr(0, std::min(line.find_first_of("; \t"), line.size()));
    std::uint64_t size = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size, 16);
    if (digits.empty() || digits.size() > 15 || ec != std::errc() ||
        end != digits.data() + digits.size())
      return malformed("an invalid chunk size");
    const auto ext = trim(line.substr(digits.size()));
    if (!ext.empty() &&
        (ext.front() != ';' || !std::all_of(ext.begin(), ext.end(), isFieldValueChar)))
      return malformed("an invalid chunk extension");
    if (size == 0) {
      // Trailer fields, up to an empty line; read and dropped.
      for (std::size_t trailers = 0;; ++trailers) {
        const auto t = lines.next(line);
        if (t == Lines::Got::kBareCr) return malformed("a CR without LF");
        if (t == Lines::Got::kMore) {
          if (lines.pending() > kMaxHeadBytes) return malformed("trailers too large");
          return NeedMore{};
        }
        if (line.empty()) return Decoded{lines.at()};
        if (trailers == kMaxFields || line.find(':') == std::string_view::npos)
          return malformed("an invalid trailer");
      }
    }
    if (size > limit || body.size() + size > limit) return TooLarge{};
    const std::size_t at = lines.at();
    if (bytes.size() - at < size + 1) return NeedMore{};
    body.append(bytes.substr(at, size));
    std::size_t next = at + size;
    if (bytes[next] == '\r') {
      if (bytes.size() - next < 2) return NeedMore{};
      ++next;
    }
    if (bytes[next] != '\n') return malformed("a chunk longer than its size");
    lines = Lines(bytes, next + 1);
  }
}

}  // namespace ciclo::host::wire
