#include "host/openapi.h"

#include <Poco/JSON/Array.h>

#include <regex>
#include <sstream>

namespace ciclo::host {

extern const char* const kOpenApiYaml;  // generated from docs/openapi.yaml

const std::string& openApiYaml() {
  static const std::string text(kOpenApiYaml);
  return text;
}

Poco::Dynamic::Var yamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
      for (const auto& kv : node) o->set(kv.first.as<std::string>(), yamlToJson(kv.second));
      return o;
    }
    case YAML::NodeType::Sequence: {
      Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
      for (const auto& item : node) a->add(yamlToJson(item));
      return a;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") return s;  // quoted
      if (s == "true") return true;
      if (s == "false") return false;
      if (s == "null" || s == "~") return Poco::Dynamic::Var();
      static const std::regex integer(R"(-?(0|[1-9][0-9]{0,17}))");
      static const std::regex decimal(R"(-?(0|[1-9][0-9]*)\.[0-9]+)");
      if (std::regex_match(s, integer)) return static_cast<Poco::Int64>(std::stoll(s));
      if (std::regex_match(s, decimal)) return std::stod(s);
      return s;
    }
    default:
      return Poco::Dynamic::Var();
  }
}

const std::string& openApiJson() {
  static const std::string json = [] {
    std::ostringstream out;
    const auto doc = yamlToJson(YAML::Load(openApiYaml()));
    doc.extract<Poco::JSON::Object::Ptr>()->stringify(out);
    return out.str();
  }();
  return json;
}

}  // namespace ciclo::host
