#pragma once
// Money: an integer count of minor units with its ISO 4217 currency. Never floating point;
// arithmetic across currencies is an error value, never a silent sum.

#include <cstdint>
#include <string>
#include <string_view>

#include "domain/result.h"

namespace ciclo {

// The number of decimals of an ISO 4217 currency, or -1 when the code is not one we accept.
int currencyDecimals(std::string_view code);

class Money {
 public:
  Money(std::int64_t minor, std::string currency) : minor_(minor), currency_(std::move(currency)) {}

  // "1234.50" with at most the currency's decimals; an optional leading '-'.
  static Result<Money> parse(std::string_view decimal, std::string_view currency);

  std::int64_t minor() const { return minor_; }
  const std::string& currency() const { return currency_; }
  // The decimal string with exactly the currency's decimals, "1234.50".
  std::string toDecimal() const;

  Result<Money> plus(const Money& other) const;
  Result<Money> minus(const Money& other) const;

  bool operator==(const Money&) const = default;

 private:
  std::int64_t minor_;
  std::string currency_;
};

}  // namespace ciclo
