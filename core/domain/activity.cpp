#include "domain/activity.h"

namespace ciclo {

std::string_view toString(ActivityType t) {
  switch (t) {
    case ActivityType::kNote:
      return "note";
    case ActivityType::kCall:
      return "call";
    case ActivityType::kAppointment:
      return "appointment";
    case ActivityType::kPost:
      return "post";
    case ActivityType::kReply:
      return "reply";
  }
  return "?";
}

std::optional<ActivityType> activityTypeFrom(std::string_view s) {
  for (const auto t : {ActivityType::kNote, ActivityType::kCall, ActivityType::kAppointment,
                       ActivityType::kPost, ActivityType::kReply}) {
    if (toString(t) == s) return t;
  }
  return std::nullopt;
}

std::string_view toString(CallDirection d) {
  return d == CallDirection::kInbound ? "inbound" : "outbound";
}

std::optional<CallDirection> callDirectionFrom(std::string_view s) {
  if (s == "inbound") return CallDirection::kInbound;
  if (s == "outbound") return CallDirection::kOutbound;
  return std::nullopt;
}

Status validateActivity(const Activity& a) {
  std::vector<FieldError> errors;
  switch (a.type) {
    case ActivityType::kNote:
    case ActivityType::kPost:
    case ActivityType::kReply:
      if (a.body.empty()) errors.push_back({"/body", "is required"});
      break;
    case ActivityType::kCall:
      if (!a.direction)
        errors.push_back({"/direction", "is required for a call: inbound or outbound"});
      break;
    case ActivityType::kAppointment:
      if (!a.starts_at) errors.push_back({"/starts_at", "is required for an appointment"});
      if (!a.ends_at) errors.push_back({"/ends_at", "is required for an appointment"});
      if (a.starts_at && a.ends_at && *a.ends_at <= *a.starts_at)
        errors.push_back({"/ends_at", "must be after starts_at"});
      if (a.subject.empty()) errors.push_back({"/subject", "is required for an appointment"});
      break;
  }
  if (a.type == ActivityType::kReply && a.parent_id.empty())
    errors.push_back({"/parent_id", "a reply answers a post"});
  if (a.type != ActivityType::kReply && !a.parent_id.empty())
    errors.push_back({"/parent_id", "only replies have a parent"});
  if (a.type != ActivityType::kCall && (a.direction || !a.outcome.empty())) {
    errors.push_back({a.direction ? "/direction" : "/outcome", "is only for calls"});
  }
  if (a.type != ActivityType::kAppointment && (a.starts_at || a.ends_at || !a.location.empty())) {
    errors.push_back({a.starts_at ? "/starts_at"
                      : a.ends_at ? "/ends_at"
                                  : "/location",
                      "is only for appointments"});
  }
  if (!errors.empty()) return Error::invalid("The activity has invalid fields.", std::move(errors));
  return Status();
}

}  // namespace ciclo
