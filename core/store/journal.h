#pragma once
// The record of what happened: timeline entries on records and domain events in the outbox.
// Both are written in the same transaction as the change they describe.

#include <cstdint>
#include <string>
#include <vector>

#include "domain/clock.h"
#include "store/database.h"

namespace ciclo::store {

struct TimelineEntry {
  std::int64_t seq = 0;
  std::string record_id;
  Timestamp at{};
  std::string kind;     // lead.captured, lead.merged, status_changed, note, call, ...
  std::string actor;    // who: an API key name, a plugin, "system"
  std::string summary;  // one human line
  std::string data;     // JSON object text
};

void appendTimeline(Connection& c, const TimelineEntry& entry);
std::vector<TimelineEntry> listTimeline(Connection& c, const std::string& recordId,
                                        std::int64_t afterSeq, int limit);

struct Event {
  std::int64_t seq = 0;
  std::string id;  // evt_...
  std::string type;
  std::string subject_id;
  std::string partner;  // the partner the subject belongs to, for narrowed subscriptions
  Timestamp created_at{};
  std::string data;  // JSON object text
};

void appendEvent(Connection& c, const Event& event);
std::vector<Event> readEvents(Connection& c, std::int64_t afterSeq, int limit);

}  // namespace ciclo::store
