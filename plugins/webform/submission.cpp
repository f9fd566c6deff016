#include "submission.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cctype>

#include "json.h"

namespace ciclo::plugins::webform {

namespace {

sdk::Error unparseable(std::string message) {
  return sdk::Error{sdk::ErrorKind::kUnparseable, std::move(message), {}, {}};
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string mediaType(std::string_view contentType) {
  return lower(trim(contentType.substr(0, contentType.find(';'))));
}

std::vector<std::pair<std::string, std::string>> parameters(std::string_view value) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t pos = value.find(';');
  while (pos != std::string_view::npos) {
    const std::size_t next = value.find(';', pos + 1);
    std::string_view item =
        trim(value.substr(pos + 1, next == std::string_view::npos ? value.npos : next - pos - 1));
    const auto eq = item.find('=');
    if (eq != std::string_view::npos) {
      std::string_view v = trim(item.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      out.emplace_back(lower(trim(item.substr(0, eq))), std::string(v));
    }
    pos = next;
  }
  return out;
}

std::string headerParameter(std::string_view value, std::string_view name) {
  for (auto& [param, v] : parameters(value)) {
    if (param == name) return v;
  }
  return {};
}

sdk::Result<Fields> parseUrlEncoded(std::string_view body) {
  Fields out;
  std::size_t start = 0;
  while (start <= body.size()) {
    const std::size_t amp = body.find('&', start);
    const std::string_view item =
        body.substr(start, amp == std::string_view::npos ? body.npos : amp - start);
    start = amp == std::string_view::npos ? body.size() + 1 : amp + 1;
    if (item.empty()) continue;
    if (out.size() == kMaxFields)
      return unparseable("the form has more than " + std::to_string(kMaxFields) + " fields");
    const auto eq = item.find('=');
    auto name = sdk::percentDecode(item.substr(0, eq), true);
    auto value = eq == std::string_view::npos ? std::optional<std::string>(std::string())
                                              : sdk::percentDecode(item.substr(eq + 1), true);
    if (!name || !value) return unparseable("the form body has a malformed percent-encoding");
    if (!isValidUtf8(*name) || !isValidUtf8(*value))
      return unparseable("the form body is not valid UTF-8");
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

Fields queryParameters(std::string_view url) {
  const auto q = url.find('?');
  if (q == std::string_view::npos) return {};
  auto query = url.substr(q + 1);
  query = query.substr(0, query.find('#'));
  auto parsed = parseUrlEncoded(query);
  return parsed.ok() ? std::move(parsed).value() : Fields();
}

sdk::Result<Fields> parseMultipart(std::string_view body, std::string_view boundary) {
  // RFC 7578 / RFC 2046: --boundary CRLF headers CRLF CRLF content CRLF --boundary ... --
  if (boundary.empty() || boundary.size() > 70)
    return unparseable("multipart/form-data needs a boundary of 1 to 70 characters");
  const std::string delimiter = "--" + std::string(boundary);
  std::size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos)
    return unparseable("the multipart body does not contain its boundary");
  Fields out;
  for (;;) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return out;  // the closing delimiter
    if (body.substr(pos, 2) != "\r\n") return unparseable("a multipart boundary line is malformed");
    pos += 2;
    const std::size_t headersEnd = body.find("\r\n\r\n", pos);
    if (headersEnd == std::string_view::npos)
      return unparseable("a multipart part has no end of headers");
    const std::size_t end = body.find("\r\n" + delimiter, headersEnd + 4);
    if (end == std::string_view::npos) return unparseable("the multipart body is truncated");
    if (out.size() == kMaxFields)
      return unparseable("the form has more than " + std::to_string(kMaxFields) + " fields");
    std::string name;
    bool named = false, file = false;
    std::string_view headers = body.substr(pos, headersEnd - pos);
    while (!headers.empty()) {
      const std::size_t eol = headers.find("\r\n");
      const std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) return unparseable("a multipart header is malformed");
      const std::string header = lower(trim(line.substr(0, colon)));
      const std::string_view value = trim(line.substr(colon + 1));
      if (header == "content-disposition") {
        if (mediaType(value) != "form-data")
          return unparseable("a multipart part is not form-data");
        for (const auto& [param, v] : parameters(value)) {
          if (param == "name") {
            named = true;
            name = v;
          } else if (param == "filename" || param == "filename*") {
            file = true;
          }
        }
      } else if (header == "content-type") {
        const std::string type = mediaType(value);
        if (type != "text/plain") file = true;
      }
    }
    if (!named || name.empty()) return unparseable("a multipart part has no field name");
    if (!isValidUtf8(name)) return unparseable("the form body is not valid UTF-8");
    if (file) {
      return sdk::Error{sdk::ErrorKind::kInvalid,
                        "The form carries a file; only text fields are accepted.",
                        {{name, "files are not accepted"}},
                        {}};
    }
    std::string value(body.substr(headersEnd + 4, end - headersEnd - 4));
    if (!isValidUtf8(value)) return unparseable("the form body is not valid UTF-8");
    out.emplace_back(std::move(name), std::move(value));
    pos = end + 2;
  }
}

sdk::Result<Fields> parseJsonFields(std::string_view body) {
  if (!isValidUtf8(body)) return unparseable("the body is not valid UTF-8");
  Poco::JSON::Object::Ptr object;
  try {
    Poco::JSON::Parser parser(new UniqueNamesHandler(true));  // keeps the order sent
    parser.setDepth(8);
    auto value = parser.parse(std::string(body));
    if (value.type() != typeid(Poco::JSON::Object::Ptr))
      return unparseable("the body must be a JSON object");
    object = value.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return unparseable(
        "the body is not valid JSON, holds a number out of range or names a field twice");
  }
  if (object->size() > kMaxFields)
    return unparseable("the form has more than " + std::to_string(kMaxFields) + " fields");
  Fields out;
  std::vector<sdk::FieldError> errors;
  for (const auto& name : object->getNames()) {
    const auto value = object->get(name);
    if (value.isEmpty()) continue;
    if (value.isString()) {
      out.emplace_back(name, value.extract<std::string>());
    } else if (value.isBoolean()) {
      out.emplace_back(name, value.extract<bool>() ? "true" : "false");
    } else if (value.isNumeric()) {
      out.emplace_back(name, value.convert<std::string>());
    } else {
      errors.push_back({name, "must be text, a number or true/false"});
    }
  }
  if (!errors.empty())
    return sdk::Error{sdk::ErrorKind::kInvalid, "The form has invalid fields.", errors, {}};
  return out;
}

sdk::Result<Fields> parseSubmission(std::string_view contentType, std::string_view body) {
  const std::string type = mediaType(contentType);
  if (type == "application/x-www-form-urlencoded") return parseUrlEncoded(body);
  if (type == "multipart/form-data")
    return parseMultipart(body, headerParameter(contentType, "boundary"));
  if (type == "application/json") return parseJsonFields(body);
  return sdk::Error{sdk::ErrorKind::kUnparseable, "unsupported media type " + type, {}, {}};
}

}  // namespace ciclo::plugins::webform
