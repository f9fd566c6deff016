// The HTTP/1.1 request framing (host/http_wire) on hostile bytes. Properties: a head ends
// within the bytes and is read the same from exactly its own bytes; its fields have token
// names; a chunked body decoded takes no more bytes than there are and stays within the
// limit; nothing is refused with a 5xx.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz.h"
#include "host/http_wire.h"

using namespace ciclo::host::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = parseHead(input);
  if (auto* refusal = std::get_if<Refusal>(&parsed)) {
    FUZZ_CHECK(refusal->status >= 400 && refusal->status < 500);
    FUZZ_CHECK(!refusal->detail.empty());
    return 0;
  }
  if (std::holds_alternative<NeedMore>(parsed)) {
    FUZZ_CHECK(input.size() < kMaxHeadBytes);
    return 0;
  }
  const Head& head = std::get<Head>(parsed);
  FUZZ_CHECK(head.size <= input.size() && head.size <= kMaxHeadBytes);
  FUZZ_CHECK(head.fields.size() <= kMaxFields);
  FUZZ_CHECK(!(head.chunked && head.content_length));
  for (const auto& [name, value] : head.fields) {
    FUZZ_CHECK(!name.empty());
    FUZZ_CHECK(value.find_first_of("\r\n") == std::string::npos);
  }
  auto again = parseHead(input.substr(0, head.size));
  FUZZ_CHECK(std::holds_alternative<Head>(again));
  FUZZ_CHECK(std::get<Head>(again).fields == head.fields);
  if (head.chunked) {
    constexpr std::size_t kLimit = 4096;
    std::string body;
    const std::string_view rest = input.substr(head.size);
    auto decoded = decodeChunked(rest, body, kLimit);
    if (auto* d = std::get_if<Decoded>(&decoded)) FUZZ_CHECK(d->consumed <= rest.size());
    if (auto* r = std::get_if<Refusal>(&decoded)) FUZZ_CHECK(r->status == 400);
    FUZZ_CHECK(body.size() <= kLimit);
  }
  return 0;
}
