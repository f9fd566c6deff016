// The web form's body parsers (urlencoded, multipart, JSON) on hostile bytes. The input is a
// Content-Type line, a line break, then the body. Properties: a parsed form has at most
// kMaxFields fields of valid UTF-8; a urlencoded form encoded again parses to the same
// fields; a refusal is "unparseable" or, for a field that is not acceptable, "invalid"
// naming that field.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz.h"
#include "submission.h"

using namespace ciclo::plugins::webform;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto eol = input.find('\n');
  if (eol == std::string_view::npos) return 0;
  const std::string_view contentType = input.substr(0, eol);
  const std::string_view body = input.substr(eol + 1);

  auto parsed = parseSubmission(contentType, body);
  if (!parsed.ok()) {
    const auto& error = parsed.error();
    FUZZ_CHECK(error.kind == ciclo::sdk::ErrorKind::kUnparseable ||
               error.kind == ciclo::sdk::ErrorKind::kInvalid);
    if (error.kind == ciclo::sdk::ErrorKind::kInvalid) FUZZ_CHECK(!error.fields.empty());
    return 0;
  }
  const Fields& fields = parsed.value();
  FUZZ_CHECK(fields.size() <= kMaxFields);
  for (const auto& [name, value] : fields) {
    FUZZ_CHECK(isValidUtf8(name));
    FUZZ_CHECK(isValidUtf8(value));
  }
  if (mediaType(contentType) == "application/x-www-form-urlencoded") {
    std::string again;
    for (const auto& [name, value] : fields) {
      if (!again.empty()) again += '&';
      again += ciclo::sdk::percentEncode(name) + "=" + ciclo::sdk::percentEncode(value);
    }
    auto reparsed = parseUrlEncoded(again);
    FUZZ_CHECK(reparsed.ok());
    FUZZ_CHECK(reparsed.value() == fields);
  }
  return 0;
}
