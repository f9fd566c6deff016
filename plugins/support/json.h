#pragma once
// JSON for plugins, on Poco (a plugin's own dependency, never part of the SDK): reading a
// request body as an object, and writing answers.

#include <Poco/JSON/Object.h>

#include <string>

#include "ciclo/plugin.h"

namespace ciclo::plugins {

using JsonObject = Poco::JSON::Object::Ptr;

// An empty object that keeps its keys in the order they are set.
JsonObject jsonObject();
std::string toJson(const JsonObject& o);
sdk::HttpResponse jsonAnswer(int status, const JsonObject& body);

// `body` as a JSON object nested at most `depth` deep; kUnparseable (400) otherwise.
sdk::Result<JsonObject> parseJsonObject(const std::string& body, int depth);

}  // namespace ciclo::plugins
