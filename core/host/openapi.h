#pragma once
// The OpenAPI document (docs/openapi.yaml), compiled in and served as JSON.

#include <Poco/JSON/Object.h>
#include <yaml-cpp/yaml.h>

#include <string>

namespace ciclo::host {

// docs/openapi.yaml as it was at build time.
const std::string& openApiYaml();
// That document as JSON text (converted once).
const std::string& openApiJson();

// YAML to JSON: plain scalars that read as booleans, null or numbers become those; quoted
// scalars stay strings; mappings keep their order.
Poco::Dynamic::Var yamlToJson(const YAML::Node& node);

}  // namespace ciclo::host
