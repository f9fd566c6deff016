#pragma once
// Ciclo plugin SDK: expected failures as values. Nothing throws across the plugin boundary.

#include <string>
#include <utility>
#include <vector>

namespace ciclo::sdk {

enum class ErrorKind {
  kUnparseable,
  kInvalid,
  kUnauthorized,
  kForbidden,
  kNotFound,
  kConflict,
  kRetryable,
  kInternal
};

struct FieldError {
  std::string field;
  std::string message;
};

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;  // safe to show to a caller
  std::vector<FieldError> fields;
  std::string slug;  // problem type slug; empty: derived from kind
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : error_(std::move(e)), ok_(false) {}  // NOLINT: implicit by design
  bool ok() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)), ok_(true) {}  // NOLINT
  Result(Error e) : error_(std::move(e)) {}                 // NOLINT
  bool ok() const { return ok_; }
  const T& value() const { return value_; }
  T& value() { return value_; }
  const Error& error() const { return error_; }

 private:
  T value_{};
  Error error_;
  bool ok_ = false;
};

}  // namespace ciclo::sdk
