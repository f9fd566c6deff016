#pragma once
// A form submission's body as (name, value) pairs, from any of the three media types a
// landing page may post (CONTRACT.md section 1). Every byte comes from the internet: the
// parsers take no shortcuts on malformed input and never read past the body.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ciclo/plugin.h"
#include "ciclo/text.h"
#include "support/html.h"

namespace ciclo::plugins::webform {

using Fields = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::size_t kMaxFields = 200;

// The media type without parameters, in lower case ("multipart/form-data").
std::string mediaType(std::string_view contentType);

// By the request's Content-Type: application/x-www-form-urlencoded, multipart/form-data
// (text parts only; the boundary from the Content-Type) or application/json (a flat object
// of strings, numbers, booleans and nulls). kUnparseable when the body cannot be read;
// kInvalid with the field named when it is readable but a part is not acceptable (a file).
sdk::Result<Fields> parseSubmission(std::string_view contentType, std::string_view body);

sdk::Result<Fields> parseUrlEncoded(std::string_view body);
sdk::Result<Fields> parseMultipart(std::string_view body, std::string_view boundary);
sdk::Result<Fields> parseJsonFields(std::string_view body);

// The query parameters of a URL; none when it has no query or the query is malformed.
Fields queryParameters(std::string_view url);

// The parameters of a header value such as `form-data; name="email"`, names in lower case.
std::vector<std::pair<std::string, std::string>> parameters(std::string_view headerValue);
// The value of one of them, or "".
std::string headerParameter(std::string_view headerValue, std::string_view name);

using sdk::isValidUtf8;

}  // namespace ciclo::plugins::webform
