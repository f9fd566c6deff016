#pragma once
// Sellers' activities on a record (a lead now; opportunities and accounts later): notes,
// calls made or received, appointments, and internal posts with colleagues' replies. They
// are kept apart from the lead's own behaviour (pages visited, emails opened), and each one
// lands on the record's timeline.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/clock.h"
#include "domain/result.h"

namespace ciclo {

enum class ActivityType { kNote, kCall, kAppointment, kPost, kReply };
enum class CallDirection { kInbound, kOutbound };

std::string_view toString(ActivityType t);
std::optional<ActivityType> activityTypeFrom(std::string_view s);
std::string_view toString(CallDirection d);
std::optional<CallDirection> callDirectionFrom(std::string_view s);

struct Activity {
  std::string id;
  std::string record_id;
  std::string parent_id;  // for a reply: the post it answers
  ActivityType type = ActivityType::kNote;
  std::string subject;
  std::string body;
  std::string by;  // who recorded it
  Timestamp occurred_at{};
  std::optional<CallDirection> direction;  // calls
  std::string outcome;                     // calls: e.g. "reached", "voicemail"
  std::optional<Timestamp> starts_at;      // appointments
  std::optional<Timestamp> ends_at;
  std::string location;
  Timestamp created_at{};
  bool operator==(const Activity&) const = default;
};

// The rules each type keeps: a call has a direction, an appointment a start before its end,
// a note or post some text, a reply a post to answer (the caller checks that it exists and
// is a post on the same record). Field names are JSON Pointers.
Status validateActivity(const Activity& a);

}  // namespace ciclo
