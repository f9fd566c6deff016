#pragma once
// JSON for plugins, on Poco (a plugin's own dependency, never part of the SDK): reading a
// request body as an object, and writing answers.

#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>

#include <set>
#include <string>
#include <vector>

#include "ciclo/plugin.h"

namespace ciclo::plugins {

using JsonObject = Poco::JSON::Object::Ptr;

// An empty object that keeps its keys in the order they are set.
JsonObject jsonObject();
std::string toJson(const JsonObject& o);
// The string member `key` of `o`, or "" when it is absent, null or not a string.
std::string jsonText(const Poco::JSON::Object& o, const std::string& key);
sdk::HttpResponse jsonAnswer(int status, const JsonObject& body);

// `body` as a JSON object nested at most `depth` deep; kUnparseable (400) otherwise, and for
// an object that names a member twice.
sdk::Result<JsonObject> parseJsonObject(const std::string& body, int depth);

// Builds what Poco's parser reads, refusing (JSONException) an object that names a member
// twice: RFC 8259 leaves its meaning to each reader, and two readers taking different copies
// of a value is how checks are slipped past. The host reads its own request bodies with it
// too, so that every JSON body Ciclo takes follows the same rule.
class UniqueNamesHandler : public Poco::JSON::ParseHandler {
 public:
  explicit UniqueNamesHandler(bool preserveOrder = false) : ParseHandler(preserveOrder) {}
  void reset() override;
  void startObject() override;
  void endObject() override;
  void key(const std::string& k) override;

 private:
  std::vector<std::set<std::string>> names_;
};

}  // namespace ciclo::plugins
