#include "json.h"

#include <Poco/JSON/Parser.h>

#include <sstream>

#include "ciclo/text.h"

namespace ciclo::plugins {

JsonObject jsonObject() {
  return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
}

std::string jsonText(const Poco::JSON::Object& o, const std::string& key) {
  if (!o.has(key) || o.isNull(key)) return {};
  const auto v = o.get(key);
  return v.isString() ? v.extract<std::string>() : std::string();
}

std::string toJson(const JsonObject& o) {
  std::ostringstream out;
  o->stringify(out);
  return out.str();
}

sdk::HttpResponse jsonAnswer(int status, const JsonObject& body) {
  return sdk::HttpResponse{status, "application/json", toJson(body), {}};
}

sdk::Result<JsonObject> parseJsonObject(const std::string& body, int depth) {
  auto unparseable = [](const char* why) {
    return sdk::Error{sdk::ErrorKind::kUnparseable, why, {}, {}};
  };
  if (!sdk::isValidUtf8(body)) return unparseable("the body is not valid UTF-8");
  try {
    Poco::JSON::Parser parser(new UniqueNamesHandler);
    parser.setDepth(depth);
    auto v = parser.parse(body);
    if (v.type() != typeid(JsonObject)) return unparseable("the body must be a JSON object");
    return v.extract<JsonObject>();
  } catch (const Poco::Exception&) {
    return unparseable("the body is not valid JSON, or an object in it names a member twice");
  }
}

void UniqueNamesHandler::reset() {
  names_.clear();
  ParseHandler::reset();
}

void UniqueNamesHandler::startObject() {
  names_.emplace_back();
  ParseHandler::startObject();
}

void UniqueNamesHandler::endObject() {
  names_.pop_back();
  ParseHandler::endObject();
}

void UniqueNamesHandler::key(const std::string& k) {
  if (!names_.empty() && !names_.back().insert(k).second)
    throw Poco::JSON::JSONException("an object names a member twice");
  ParseHandler::key(k);
}

}  // namespace ciclo::plugins
