#include "domain/activity.h"

#include <gtest/gtest.h>

#include <functional>

namespace ciclo {
namespace {

const Timestamp kT0{std::chrono::milliseconds{1'700'000'000'000}};

Activity make(ActivityType type, const std::function<void(Activity&)>& set = {}) {
  Activity a;
  a.type = type;
  if (set) set(a);
  return a;
}

std::vector<std::string> fieldsOf(const Status& s) {
  std::vector<std::string> out;
  if (!s.ok()) {
    for (const auto& f : s.error().fields) out.push_back(f.field);
  }
  return out;
}

TEST(Activities, EachTypeKeepsItsRules) {
  EXPECT_TRUE(validateActivity(make(ActivityType::kNote, [](Activity& a) {
                a.body = "Asked for a quote";
              })).ok());
  EXPECT_EQ(fieldsOf(validateActivity(make(ActivityType::kNote))),
            std::vector<std::string>{"/body"});

  EXPECT_TRUE(validateActivity(make(ActivityType::kCall, [](Activity& a) {
                a.direction = CallDirection::kOutbound;
                a.outcome = "reached";
              })).ok());
  EXPECT_EQ(fieldsOf(validateActivity(make(ActivityType::kCall))),
            std::vector<std::string>{"/direction"});

  auto meeting = make(ActivityType::kAppointment, [](Activity& a) {
    a.subject = "Demo";
    a.starts_at = kT0;
    a.ends_at = kT0 + std::chrono::hours(1);
    a.location = "Milano";
  });
  EXPECT_TRUE(validateActivity(meeting).ok());
  meeting.ends_at = kT0;
  EXPECT_EQ(fieldsOf(validateActivity(meeting)), std::vector<std::string>{"/ends_at"});

  auto reply = make(ActivityType::kReply, [](Activity& a) {
    a.parent_id = "act_1";
    a.body = "Agreed";
  });
  EXPECT_TRUE(validateActivity(reply).ok());
  reply.parent_id.clear();
  EXPECT_EQ(fieldsOf(validateActivity(reply)), std::vector<std::string>{"/parent_id"});
}

TEST(Activities, FieldsOfOtherTypesAreRefused) {
  EXPECT_EQ(fieldsOf(validateActivity(make(ActivityType::kNote,
                                           [](Activity& a) {
                                             a.body = "x";
                                             a.direction = CallDirection::kInbound;
                                           }))),
            std::vector<std::string>{"/direction"});
  EXPECT_EQ(fieldsOf(validateActivity(make(ActivityType::kPost,
                                           [](Activity& a) {
                                             a.body = "x";
                                             a.location = "Roma";
                                           }))),
            std::vector<std::string>{"/location"});
  EXPECT_EQ(fieldsOf(validateActivity(make(ActivityType::kPost,
                                           [](Activity& a) {
                                             a.body = "x";
                                             a.parent_id = "act_1";
                                           }))),
            std::vector<std::string>{"/parent_id"});
  for (const char* name : {"note", "call", "appointment", "post", "reply"}) {
    EXPECT_EQ(toString(*activityTypeFrom(name)), name);
  }
  EXPECT_FALSE(activityTypeFrom("email").has_value());
}

}  // namespace
}  // namespace ciclo
