#include "domain/money.h"

#include <array>
#include <utility>

namespace ciclo {

namespace {

struct CurrencyInfo {
  std::string_view code;
  int decimals;
};

// The currencies in use by the company's customers and suppliers; add by need.
constexpr std::array kCurrencies{
    CurrencyInfo{"AED", 2}, CurrencyInfo{"AUD", 2}, CurrencyInfo{"BGN", 2}, CurrencyInfo{"BHD", 3},
    CurrencyInfo{"BRL", 2}, CurrencyInfo{"CAD", 2}, CurrencyInfo{"CHF", 2}, CurrencyInfo{"CLP", 0},
    CurrencyInfo{"CNY", 2}, CurrencyInfo{"CZK", 2}, CurrencyInfo{"DKK", 2}, CurrencyInfo{"EUR", 2},
    CurrencyInfo{"GBP", 2}, CurrencyInfo{"HKD", 2}, CurrencyInfo{"HUF", 2}, CurrencyInfo{"INR", 2},
    CurrencyInfo{"ISK", 0}, CurrencyInfo{"JPY", 0}, CurrencyInfo{"KRW", 0}, CurrencyInfo{"KWD", 3},
    CurrencyInfo{"MXN", 2}, CurrencyInfo{"NOK", 2}, CurrencyInfo{"NZD", 2}, CurrencyInfo{"OMR", 3},
    CurrencyInfo{"PLN", 2}, CurrencyInfo{"RON", 2}, CurrencyInfo{"RSD", 2}, CurrencyInfo{"SAR", 2},
    CurrencyInfo{"SEK", 2}, CurrencyInfo{"SGD", 2}, CurrencyInfo{"TND", 3}, CurrencyInfo{"TRY", 2},
    CurrencyInfo{"USD", 2}, CurrencyInfo{"ZAR", 2},
};

}  // namespace

int currencyDecimals(std::string_view code) {
  for (const auto& c : kCurrencies) {
    if (c.code == code) return c.decimals;
  }
  return -1;
}

Result<Money> Money::parse(std::string_view text, std::string_view currency) {
  const int decimals = currencyDecimals(currency);
  if (decimals < 0) return Error::invalidField("currency", "is not a supported ISO 4217 code");
  bool negative = false;
  std::size_t i = 0;
  if (!text.empty() && text[0] == '-') {
    negative = true;
    i = 1;
  }
  std::int64_t units = 0;
  int seenDecimals = -1;  // -1 while in the integer part
  bool anyDigit = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.' && seenDecimals < 0 && anyDigit) {
      seenDecimals = 0;
      continue;
    }
    if (c < '0' || c > '9')
      return Error::invalid("\"" + std::string(text.substr(0, 32)) + "\" is not a decimal amount");
    if (seenDecimals >= 0 && ++seenDecimals > decimals) {
      return Error::invalid("an amount in " + std::string(currency) + " has at most " +
                            std::to_string(decimals) + " decimals");
    }
    if (__builtin_mul_overflow(units, 10, &units) ||
        __builtin_add_overflow(units, c - '0', &units)) {
      return Error::invalid("the amount is too large");
    }
    anyDigit = true;
  }
  if (!anyDigit || seenDecimals == 0)
    return Error::invalid("\"" + std::string(text.substr(0, 32)) + "\" is not a decimal amount");
  for (int d = std::max(seenDecimals, 0); d < decimals; ++d) {
    if (__builtin_mul_overflow(units, 10, &units)) return Error::invalid("the amount is too large");
  }
  return Money(negative ? -units : units, std::string(currency));
}

std::string Money::toDecimal() const {
  const int decimals = std::max(currencyDecimals(currency_), 0);
  // Work on the unsigned magnitude so that INT64_MIN cannot overflow.
  const bool negative = minor_ < 0;
  std::uint64_t magnitude =
      negative ? 0 - static_cast<std::uint64_t>(minor_) : static_cast<std::uint64_t>(minor_);
  const std::string digits = std::to_string(magnitude);
  const auto d = static_cast<std::size_t>(decimals);
  std::string out;
  out.reserve(digits.size() + d + 3);
  if (negative) out += '-';
  if (d == 0) return out += digits;
  if (digits.size() <= d) {
    out += "0.";
    out.append(d - digits.size(), '0');
    return out += digits;
  }
  out.append(digits, 0, digits.size() - d);
  out += '.';
  out.append(digits, digits.size() - d, d);
  return out;
}

Result<Money> Money::plus(const Money& other) const {
  if (other.currency_ != currency_) {
    return Error::invalid("cannot add " + other.currency_ + " to " + currency_);
  }
  std::int64_t sum;
  if (__builtin_add_overflow(minor_, other.minor_, &sum))
    return Error::invalid("the amount is too large");
  return Money(sum, currency_);
}

Result<Money> Money::minus(const Money& other) const {
  if (other.currency_ != currency_) {
    return Error::invalid("cannot subtract " + other.currency_ + " from " + currency_);
  }
  std::int64_t diff;
  if (__builtin_sub_overflow(minor_, other.minor_, &diff))
    return Error::invalid("the amount is too large");
  return Money(diff, currency_);
}

}  // namespace ciclo
