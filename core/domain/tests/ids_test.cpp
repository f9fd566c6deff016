#include "domain/ids.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

namespace ciclo {
namespace {

class FixedClock : public Clock {
 public:
  Timestamp now() const override { return t; }
  Timestamp t{std::chrono::milliseconds{1'700'000'000'000}};
};

class CountingRandom : public RandomSource {
 public:
  void fill(std::span<std::uint8_t> out) override {
    // A counter in the last four bytes: distinct for every call.
    std::fill(out.begin(), out.end(), std::uint8_t{0});
    for (std::size_t i = 0; i < 4; ++i)
      out[out.size() - 1 - i] = static_cast<std::uint8_t>(n >> (8 * i));
    ++n;
  }
  unsigned n = 0;
};

TEST(Ids, HavePrefixAndSortByTime) {
  FixedClock clock;
  CountingRandom random;
  IdGenerator ids(clock, random);
  const auto a = ids.next("lead");
  clock.t += std::chrono::milliseconds(1);
  const auto b = ids.next("lead");
  EXPECT_TRUE(isValidId("lead", a)) << a;
  EXPECT_TRUE(isValidId("lead", b)) << b;
  EXPECT_LT(a, b);
  EXPECT_EQ(a.size(), 5u + 26u);
}

TEST(Ids, DistinctWithinOneMillisecond) {
  FixedClock clock;
  CountingRandom random;
  IdGenerator ids(clock, random);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(ids.next("acct")).second);
}

TEST(Ids, SortInTheOrderTheyWereMadeWithinOneMillisecondAndWhenTheClockStepsBack) {
  FixedClock clock;
  CountingRandom random;
  IdGenerator ids(clock, random);
  std::vector<std::string> made;
  for (int i = 0; i < 5; ++i) made.push_back(ids.next("intr"));
  clock.t -= std::chrono::seconds(3);
  made.push_back(ids.next("intr"));
  clock.t += std::chrono::seconds(4);
  made.push_back(ids.next("intr"));
  EXPECT_TRUE(std::is_sorted(made.begin(), made.end()));
  EXPECT_EQ(std::set<std::string>(made.begin(), made.end()).size(), made.size());
  for (const auto& id : made) EXPECT_TRUE(isValidId("intr", id)) << id;
  // Only a millisecond the generator has not used yet draws fresh random bits.
  EXPECT_EQ(random.n, 2u);
}

TEST(Ids, AFullMillisecondBorrowsTheNext) {
  class AllOnes : public RandomSource {
   public:
    void fill(std::span<std::uint8_t> out) override {
      std::fill(out.begin(), out.end(), std::uint8_t{0xFF});
    }
  };
  FixedClock clock;
  AllOnes random;
  IdGenerator ids(clock, random);
  const auto last = ids.next("lead");
  const auto next = ids.next("lead");
  EXPECT_LT(last, next);
  EXPECT_TRUE(isValidId("lead", next)) << next;
  clock.t += std::chrono::milliseconds(1);  // the borrowed millisecond: still after
  EXPECT_LT(next, ids.next("lead"));
}

TEST(Ids, ValidationRefusesOtherShapes) {
  EXPECT_FALSE(isValidId("lead", "acct_01JD3Q8X2M4V6N8R0T2W4Y6A8C"));
  EXPECT_FALSE(isValidId("lead", "lead_01JD3Q8X2M4V6N8R0T2W4Y6A8"));
  EXPECT_FALSE(isValidId("lead", "lead_01jd3q8x2m4v6n8r0t2w4y6a8c"));
  EXPECT_FALSE(isValidId("lead", "lead_01JD3Q8X2M4V6N8R0T2W4Y6A8U"));  // U is not Crockford
  EXPECT_FALSE(isValidId("lead", "lead_81JD3Q8X2M4V6N8R0T2W4Y6A8C"));  // overflows 128 bits
  EXPECT_FALSE(isValidId("lead", "lead_../../etc/passwd0000000000"));
  EXPECT_TRUE(isValidId("lead", "lead_01JD3Q8X2M4V6N8R0T2W4Y6A8C"));
}

}  // namespace
}  // namespace ciclo
