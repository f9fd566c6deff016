#pragma once
// Reading a JSON request body field by field, collecting every field error with its JSON
// Pointer, and refusing fields the route does not know.

#include <Poco/JSON/Object.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "domain/result.h"

namespace ciclo::host {

class JsonInput {
 public:
  JsonInput(const Poco::JSON::Object& object, std::string pointer, std::vector<FieldError>& errors);

  bool has(const std::string& key);
  // A string of at most maxLength characters (bytes of valid UTF-8), without control
  // characters (multiline allows \n and \t). Absent or null: nullopt.
  std::optional<std::string> text(const std::string& key, std::size_t maxLength,
                                  bool multiline = false);
  std::optional<long long> integer(const std::string& key, long long min, long long max);
  std::optional<bool> boolean(const std::string& key);
  Poco::JSON::Object::Ptr object(const std::string& key);
  // Reports every key not asked for as unknown.
  void rejectUnknown();

  void fail(const std::string& key, const std::string& message);
  std::string pointer(const std::string& key) const { return pointer_ + "/" + key; }
  bool ok() const { return errors_.empty(); }

 private:
  const Poco::JSON::Object& object_;
  std::string pointer_;
  std::vector<FieldError>& errors_;
  std::set<std::string> known_;
};

}  // namespace ciclo::host
