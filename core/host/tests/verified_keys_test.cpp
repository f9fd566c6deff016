#include <gtest/gtest.h>

#include "host/api.h"

namespace ciclo::host {
namespace {

const Timestamp kT0{std::chrono::milliseconds{1'700'000'000'000}};

Principal crm() {
  return Principal{"key_01JD3Q8X2M4V6N8R0T2W4Y6A8C", "crm", {"leads:write"}};
}

TEST(VerifiedKeys, KeepAKeyForASecondAndOnlyWithItsSecret) {
  VerifiedKeys keys;
  EXPECT_FALSE(keys.find("key_a", "hash", kT0));
  keys.keep("key_a", "hash", crm(), kT0);
  ASSERT_TRUE(keys.find("key_a", "hash", kT0 + std::chrono::milliseconds(999)));
  EXPECT_EQ(keys.find("key_a", "hash", kT0)->name, "crm");
  EXPECT_FALSE(keys.find("key_a", "other", kT0)) << "another secret under the same id";
  EXPECT_FALSE(keys.find("key_a", "hash", kT0 + VerifiedKeys::kTtl)) << "a second later";
  EXPECT_FALSE(keys.find("key_a", "hash", kT0 - std::chrono::hours(1)))
      << "the clock set back an hour does not make the second last longer";
  keys.keep("key_a", "hash", crm(), kT0 + VerifiedKeys::kTtl);
  EXPECT_TRUE(keys.find("key_a", "hash", kT0 + VerifiedKeys::kTtl));
}

TEST(VerifiedKeys, HoldABoundedNumber) {
  VerifiedKeys keys;
  for (std::size_t i = 0; i < VerifiedKeys::kMaxKeys; ++i)
    keys.keep("key_" + std::to_string(i), "h", crm(), kT0);
  // Full of live keys: a new one empties it rather than growing past the bound.
  keys.keep("key_new", "h", crm(), kT0);
  EXPECT_TRUE(keys.find("key_new", "h", kT0));
  EXPECT_FALSE(keys.find("key_0", "h", kT0));
  // Expired ones go first, and the live ones stay.
  VerifiedKeys aging;
  for (std::size_t i = 0; i < VerifiedKeys::kMaxKeys - 1; ++i)
    aging.keep("key_" + std::to_string(i), "h", crm(), kT0);
  const Timestamp later = kT0 + VerifiedKeys::kTtl;
  aging.keep("key_live", "h", crm(), later);
  aging.keep("key_new", "h", crm(), later);
  EXPECT_TRUE(aging.find("key_live", "h", later));
  EXPECT_TRUE(aging.find("key_new", "h", later));
}

}  // namespace
}  // namespace ciclo::host
