#include "store/journal.h"

namespace ciclo::store {

void appendTimeline(Connection& c, const TimelineEntry& e) {
  c.exec(
      "INSERT INTO timeline (record_id, at, kind, actor, summary, data) VALUES ($1, $2, $3, $4, "
      "$5, $6)",
      {e.record_id, formatTimestamp(e.at), e.kind, e.actor, e.summary,
       e.data.empty() ? "{}" : e.data});
}

std::vector<TimelineEntry> listTimeline(Connection& c, const std::string& recordId,
                                        std::int64_t afterSeq, int limit) {
  std::vector<TimelineEntry> out;
  for (const auto& r :
       c.query("SELECT seq, record_id, at, kind, actor, summary, data FROM timeline "
               "WHERE record_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
               {recordId, afterSeq, std::int64_t{limit + 1}})) {
    TimelineEntry e;
    e.seq = integer(r[0]);
    e.record_id = text(r[1]);
    parseTimestamp(text(r[2]), e.at);
    e.kind = text(r[3]);
    e.actor = text(r[4]);
    e.summary = text(r[5]);
    e.data = text(r[6]);
    out.push_back(std::move(e));
  }
  return out;
}

void appendEvent(Connection& c, const Event& e) {
  if (c.backend() == Backend::kPostgres) {
    // Several daemons may write events at once, and a sequence number is taken before its
    // transaction commits: a reader could see 11 committed before 10 and skip 10 for good.
    // Holding this lock until commit makes sequence order commit order.
    c.query("SELECT pg_advisory_xact_lock(727349002)");
  }
  c.exec(
      "INSERT INTO outbox (id, type, subject_id, partner, created_at, data) VALUES ($1, $2, $3, "
      "$4, $5, $6)",
      {e.id, e.type, e.subject_id, e.partner.empty() ? SqlValue{} : SqlValue{e.partner},
       formatTimestamp(e.created_at), e.data});
}

std::vector<Event> readEvents(Connection& c, std::int64_t afterSeq, int limit) {
  std::vector<Event> out;
  for (const auto& r :
       c.query("SELECT seq, id, type, subject_id, partner, created_at, data FROM outbox "
               "WHERE seq > $1 ORDER BY seq LIMIT $2",
               {afterSeq, std::int64_t{limit}})) {
    Event e;
    e.seq = integer(r[0]);
    e.id = text(r[1]);
    e.type = text(r[2]);
    e.subject_id = text(r[3]);
    e.partner = text(r[4]);
    parseTimestamp(text(r[5]), e.created_at);
    e.data = text(r[6]);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace ciclo::store
