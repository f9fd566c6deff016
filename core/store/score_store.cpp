#include "store/score_store.h"

namespace ciclo::store {

namespace {

Timestamp timeOf(const SqlValue& v) {
  Timestamp t{};
  parseTimestamp(text(v), t);
  return t;
}

}  // namespace

void insertInteraction(Connection& c, const std::string& leadId, const Interaction& i,
                       const std::string& doc, Timestamp createdAt) {
  c.exec(
      "INSERT INTO interactions (id, lead_id, type, occurred_at, doc, created_at) VALUES ($1, $2, "
      "$3, $4, $5, $6)",
      {i.id, leadId, std::string(toString(i.type)), formatTimestamp(i.at), doc,
       formatTimestamp(createdAt)});
}

std::vector<Interaction> leadInteractions(Connection& c, const std::string& leadId) {
  std::vector<Interaction> out;
  for (const auto& row :
       c.query("SELECT id, type, occurred_at FROM interactions WHERE lead_id = $1 ORDER BY "
               "occurred_at, id",
               {leadId})) {
    out.push_back({text(row[0]),
                   interactionTypeFrom(text(row[1])).value_or(InteractionType::kPageVisited),
                   timeOf(row[2])});
  }
  return out;
}

std::vector<std::string> interactionDocs(Connection& c, const std::string& leadId,
                                         const std::string& afterId, int limit) {
  std::vector<std::string> out;
  for (const auto& row :
       c.query("SELECT doc FROM interactions WHERE lead_id = $1 AND id > $2 ORDER BY id LIMIT $3",
               {leadId, afterId, std::int64_t{limit + 1}})) {
    out.push_back(text(row[0]));
  }
  return out;
}

std::vector<std::string> leadsWithInteractions(Connection& c, const std::string& afterId,
                                               int limit) {
  std::vector<std::string> out;
  for (const auto& row :
       c.query("SELECT DISTINCT lead_id FROM interactions WHERE lead_id > $1 ORDER BY lead_id "
               "LIMIT $2",
               {afterId, std::int64_t{limit}})) {
    out.push_back(text(row[0]));
  }
  return out;
}

void appendLedger(Connection& c, const std::string& leadId, const std::vector<ScoreEntry>& changes,
                  const std::string& reason, Timestamp recordedAt) {
  const std::string recorded = formatTimestamp(recordedAt);
  for (const auto& e : changes) {
    c.exec(
        "INSERT INTO score_ledger (lead_id, recorded_at, reason, rule, fit, cause, points, "
        "awarded_at, half_life_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        {leadId, recorded, reason, e.rule, std::int64_t{e.fit ? 1 : 0}, e.cause,
         std::int64_t{e.points}, e.fit ? SqlValue{} : SqlValue{formatTimestamp(e.at)},
         std::int64_t{e.half_life.count()}});
  }
}

std::vector<ScoreEntry> leadLedger(Connection& c, const std::string& leadId) {
  std::vector<ScoreEntry> out;
  for (const auto& row :
       c.query("SELECT rule, fit, cause, points, awarded_at, half_life_seconds FROM score_ledger "
               "WHERE lead_id = $1 ORDER BY seq",
               {leadId})) {
    out.push_back({text(row[0]), integer(row[1]) != 0, text(row[2]),
                   static_cast<int>(integer(row[3])), isNull(row[4]) ? Timestamp{} : timeOf(row[4]),
                   std::chrono::seconds(integer(row[5]))});
  }
  return out;
}

}  // namespace ciclo::store
