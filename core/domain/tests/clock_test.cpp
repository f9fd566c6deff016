#include "domain/clock.h"

#include <gtest/gtest.h>

namespace ciclo {
namespace {

TEST(Timestamps, FormatAsRfc3339UtcWithMilliseconds) {
  const Timestamp t{std::chrono::milliseconds{1'700'000'000'123}};
  EXPECT_EQ(formatTimestamp(t), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(formatTimestamp(Timestamp{}), "1970-01-01T00:00:00.000Z");
}

TEST(Timestamps, FormatEveryFieldAtItsWidthAndRoundTrip) {
  // Every field at its widest, at its narrowest, and a day before the epoch.
  for (const std::string text : {"9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00.000Z",
                                 "1969-12-31T23:59:59.001Z", "2026-02-28T09:05:07.040Z"}) {
    Timestamp t;
    ASSERT_TRUE(parseTimestamp(text, t)) << text;
    EXPECT_EQ(formatTimestamp(t), text);
  }
}

TEST(Timestamps, ParseZuluOffsetsAndFractions) {
  Timestamp t;
  ASSERT_TRUE(parseTimestamp("2023-11-14T22:13:20.123Z", t));
  EXPECT_EQ(t.time_since_epoch().count(), 1'700'000'000'123);
  ASSERT_TRUE(parseTimestamp("2023-11-14T23:13:20+01:00", t));
  EXPECT_EQ(t.time_since_epoch().count(), 1'700'000'000'000);
  ASSERT_TRUE(parseTimestamp("2023-11-14T22:13:20.5Z", t));
  EXPECT_EQ(t.time_since_epoch().count(), 1'700'000'000'500);
}

TEST(Timestamps, RefuseMalformedText) {
  Timestamp t;
  for (const char* bad :
       {"", "2023-11-14", "2023-11-14T22:13:20", "2023-13-14T22:13:20Z", "2023-02-30T00:00:00Z",
        "2023-11-14T24:00:00Z", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20Zjunk",
        "2023-11-14 22:13:20Z", "２０２３-11-14T22:13:20Z"}) {
    EXPECT_FALSE(parseTimestamp(bad, t)) << bad;
  }
}

}  // namespace
}  // namespace ciclo
