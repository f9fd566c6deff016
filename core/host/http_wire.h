#pragma once
// HTTP/1.1 requests on the wire (RFC 9112): where a request's head ends, what it says, and
// where its body ends, read strictly from the bytes received so far. Whatever two readers
// could frame differently (a folded line, a space before a colon, two lengths, a transfer
// coding other than chunked, both a length and chunked) is refused, so that no proxy in
// front of ciclod can be made to see another request than ciclod does.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ciclo::host::wire {

inline constexpr std::size_t kMaxHeadBytes = 16 * 1024;
inline constexpr std::size_t kMaxFields = 100;

// A request the server refuses before any handler sees it.
struct Refusal {
  int status;  // 400, 431, 505
  std::string detail;
};

struct Head {
  std::string method;
  std::string target;
  int minor = 1;  // HTTP/1.<minor>
  std::vector<std::pair<std::string, std::string>> fields;
  std::size_t size = 0;  // bytes of the head, its empty line included
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool keep_alive = true;
  bool expect_continue = false;

  bool hasBody() const { return chunked || content_length.value_or(0) > 0; }
};

struct NeedMore {};

// The head at the start of `bytes` (empty lines before it are skipped and counted in its
// size); NeedMore while its empty line has not arrived and kMaxHeadBytes are not reached.
std::variant<NeedMore, Head, Refusal> parseHead(std::string_view bytes);

// A chunked body decoded from the start of `bytes` into `body`: the bytes it took, trailers
// included, once the last chunk has arrived.
struct Decoded {
  std::size_t consumed = 0;
};
struct TooLarge {};
std::variant<NeedMore, Decoded, TooLarge, Refusal> decodeChunked(std::string_view bytes,
                                                                 std::string& body,
                                                                 std::size_t limit);

}  // namespace ciclo::host::wire
