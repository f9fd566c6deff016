#pragma once
// Expected failures as values. Every domain, store and connector operation answers with a
// Status or a Result<T>; the HTTP layer maps an ErrorKind to a problem+json answer in one place.

#include <cassert>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace ciclo {

enum class ErrorKind {
  kUnparseable,   // the input cannot be read at all (HTTP 400)
  kInvalid,       // it was read, but a value is invalid (422)
  kUnauthorized,  // no valid credentials (401)
  kForbidden,     // valid credentials, not allowed (403)
  kNotFound,      // (404)
  kConflict,      // the state of the record does not allow it (409)
  kRetryable,     // try again later: busy, unavailable (503)
  kInternal,      // a defect or a failed dependency; the message is safe to show (500)
};

struct FieldError {
  std::string field;  // as sent: a form field name or a JSON Pointer
  std::string message;
  bool operator==(const FieldError&) const = default;
};

struct Error {
  ErrorKind kind;
  std::string message;             // safe to show to the caller: no SQL, no secrets
  std::vector<FieldError> fields;  // for kInvalid
  std::string slug;                // problem type slug; empty means derived from kind

  static Error invalid(std::string message, std::vector<FieldError> fields = {}) {
    return {ErrorKind::kInvalid, std::move(message), std::move(fields), {}};
  }
  static Error invalidField(std::string field, std::string message) {
    return invalid("The request has invalid fields.", {{std::move(field), std::move(message)}});
  }
  static Error notFound(std::string message) {
    return {ErrorKind::kNotFound, std::move(message), {}, {}};
  }
  static Error conflict(std::string message, std::string slug = {}) {
    return {ErrorKind::kConflict, std::move(message), {}, std::move(slug)};
  }
  static Error internal(std::string message) {
    return {ErrorKind::kInternal, std::move(message), {}, {}};
  }
  static Error retryable(std::string message) {
    return {ErrorKind::kRetryable, std::move(message), {}, {}};
  }
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_{};
  bool ok_ = true;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  Status status() const { return ok() ? Status() : Status(error()); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace ciclo
