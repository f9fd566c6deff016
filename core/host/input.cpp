#include "host/input.h"

#include <cmath>

#include "host/http.h"

namespace ciclo::host {

JsonInput::JsonInput(const Poco::JSON::Object& object, std::string pointer,
                     std::vector<FieldError>& errors)
    : object_(object), pointer_(std::move(pointer)), errors_(errors) {}

bool JsonInput::has(const std::string& key) {
  known_.insert(key);
  return object_.has(key) && !object_.isNull(key);
}

void JsonInput::fail(const std::string& key, const std::string& message) {
  errors_.push_back({pointer(key), message});
}

std::optional<std::string> JsonInput::text(const std::string& key, std::size_t maxLength,
                                           bool multiline) {
  if (!has(key)) return std::nullopt;
  const auto& v = object_.get(key);
  if (!v.isString()) {
    fail(key, "must be a string");
    return std::nullopt;
  }
  std::string s = v.extract<std::string>();
  if (s.size() > maxLength) {
    fail(key, "must be at most " + std::to_string(maxLength) + " bytes");
    return std::nullopt;
  }
  if (!isValidUtf8(s)) {
    fail(key, "must be valid UTF-8 text");
    return std::nullopt;
  }
  for (unsigned char c : s) {
    if ((c < 0x20 && !(multiline && (c == '\n' || c == '\t' || c == '\r'))) || c == 0x7f) {
      fail(key, multiline ? "must not contain control characters"
                          : "must be one line without control characters");
      return std::nullopt;
    }
  }
  return s;
}

std::optional<long long> JsonInput::integer(const std::string& key, long long min, long long max) {
  if (!has(key)) return std::nullopt;
  const auto& v = object_.get(key);
  long long value = 0;
  if (v.isInteger() && !v.isBoolean()) {
    try {
      value = v.convert<long long>();
    } catch (const Poco::Exception&) {
      fail(key, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
      return std::nullopt;
    }
  } else if (v.isNumeric() && !v.isBoolean()) {
    const double d = v.convert<double>();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15) {
      fail(key, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
      return std::nullopt;
    }
    value = static_cast<long long>(d);
  } else {
    fail(key, "must be an integer");
    return std::nullopt;
  }
  if (value < min || value > max) {
    fail(key, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> JsonInput::boolean(const std::string& key) {
  if (!has(key)) return std::nullopt;
  const auto& v = object_.get(key);
  if (!v.isBoolean()) {
    fail(key, "must be true or false");
    return std::nullopt;
  }
  return v.extract<bool>();
}

Poco::JSON::Object::Ptr JsonInput::object(const std::string& key) {
  if (!has(key)) return nullptr;
  const auto& v = object_.get(key);
  if (v.type() != typeid(Poco::JSON::Object::Ptr)) {
    fail(key, "must be an object");
    return nullptr;
  }
  return v.extract<Poco::JSON::Object::Ptr>();
}

void JsonInput::rejectUnknown() {
  for (const auto& [key, value] : object_) {
    if (!known_.contains(key)) {
      errors_.push_back({pointer_ + "/" + (isValidUtf8(key) ? key.substr(0, 64) : std::string("?")),
                         "is not a known field"});
    }
  }
}

}  // namespace ciclo::host
