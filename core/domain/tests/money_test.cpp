#include "domain/money.h"

#include <gtest/gtest.h>

#include <limits>

namespace ciclo {
namespace {

TEST(Money, ParsesDecimalStringsIntoMinorUnits) {
  EXPECT_EQ(Money::parse("1234.50", "EUR").value(), Money(123450, "EUR"));
  EXPECT_EQ(Money::parse("1234.5", "EUR").value(), Money(123450, "EUR"));
  EXPECT_EQ(Money::parse("1234", "EUR").value(), Money(123400, "EUR"));
  EXPECT_EQ(Money::parse("-0.01", "EUR").value(), Money(-1, "EUR"));
  EXPECT_EQ(Money::parse("1500", "JPY").value(), Money(1500, "JPY"));
  EXPECT_EQ(Money::parse("1.234", "KWD").value(), Money(1234, "KWD"));
}

TEST(Money, RefusesWhatIsNotADecimalAmount) {
  for (const char* bad :
       {"", "-", "1.", ".5", "1,50", "1e3", "1.234", " 1", "1 ", "--1", "0x10", "1.2.3", "١"}) {
    EXPECT_FALSE(Money::parse(bad, "EUR").ok()) << bad;
  }
  EXPECT_FALSE(Money::parse("1.5", "JPY").ok());
  EXPECT_FALSE(Money::parse("1", "XXX").ok());
  EXPECT_FALSE(Money::parse("1", "eur").ok());
  EXPECT_FALSE(Money::parse("99999999999999999999", "EUR").ok());
  EXPECT_FALSE(Money::parse("92233720368547758.08", "EUR").ok());
  EXPECT_TRUE(Money::parse("92233720368547758.07", "EUR").ok());
}

TEST(Money, FormatsWithTheCurrencysDecimals) {
  EXPECT_EQ(Money(123450, "EUR").toDecimal(), "1234.50");
  EXPECT_EQ(Money(5, "EUR").toDecimal(), "0.05");
  EXPECT_EQ(Money(-5, "EUR").toDecimal(), "-0.05");
  EXPECT_EQ(Money(0, "EUR").toDecimal(), "0.00");
  EXPECT_EQ(Money(1500, "JPY").toDecimal(), "1500");
  EXPECT_EQ(Money(std::numeric_limits<std::int64_t>::min(), "EUR").toDecimal(),
            "-92233720368547758.08");
}

TEST(Money, ArithmeticAcrossCurrenciesIsAnError) {
  EXPECT_EQ(Money(100, "EUR").plus(Money(50, "EUR")).value(), Money(150, "EUR"));
  EXPECT_EQ(Money(100, "EUR").minus(Money(150, "EUR")).value(), Money(-50, "EUR"));
  EXPECT_FALSE(Money(100, "EUR").plus(Money(50, "USD")).ok());
  EXPECT_FALSE(Money(std::numeric_limits<std::int64_t>::max(), "EUR").plus(Money(1, "EUR")).ok());
}

}  // namespace
}  // namespace ciclo
