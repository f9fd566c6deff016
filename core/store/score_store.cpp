#include "store/score_store.h"

#include "store/lead_json.h"

namespace ciclo::store {

namespace {

Timestamp timeOf(const SqlValue& v) {
  Timestamp t{};
  parseTimestamp(text(v), t);
  return t;
}

// id, type, occurred_at from `row[at]` on.
Interaction interactionOf(const Row& row, std::size_t at) {
  return {text(row[at]),
          interactionTypeFrom(text(row[at + 1])).value_or(InteractionType::kPageVisited),
          timeOf(row[at + 2])};
}

// rule, fit, cause, points, awarded_at, half_life_seconds from `row[at]` on.
ScoreEntry ledgerEntryOf(const Row& row, std::size_t at) {
  return {text(row[at]),
          integer(row[at + 1]) != 0,
          text(row[at + 2]),
          static_cast<int>(integer(row[at + 3])),
          isNull(row[at + 4]) ? Timestamp{} : timeOf(row[at + 4]),
          std::chrono::seconds(integer(row[at + 5]))};
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
    out.push_back(interactionOf(row, 0));
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
    out.push_back(ledgerEntryOf(row, 0));
  }
  return out;
}

bool hasLedger(Connection& c, const std::string& leadId) {
  return !c.query("SELECT 1 FROM score_ledger WHERE lead_id = $1 LIMIT 1", {leadId}).empty();
}

std::vector<Lead> liveLeadsAfter(Connection& c, const std::string& afterId, int limit,
                                 bool engagedOnly) {
  std::vector<Lead> out;
  const std::string engaged =
      engagedOnly ? " AND EXISTS (SELECT 1 FROM interactions i WHERE i.lead_id = leads.id)" : "";
  for (const auto& row : c.query("SELECT doc FROM leads WHERE id > $1 AND merged_into IS NULL" +
                                     engaged + " ORDER BY id LIMIT $2",
                                 {afterId, std::int64_t{limit}})) {
    out.push_back(leadFromJson(text(row[0])));
  }
  return out;
}

std::int64_t countLiveLeads(Connection& c) {
  return integer(c.query("SELECT COUNT(*) FROM leads WHERE merged_into IS NULL").at(0)[0]);
}

std::unordered_map<std::string, std::vector<Interaction>> interactionsBetween(
    Connection& c, const std::string& first, const std::string& last) {
  std::unordered_map<std::string, std::vector<Interaction>> out;
  for (const auto& row :
       c.query("SELECT lead_id, id, type, occurred_at FROM interactions WHERE lead_id >= $1 AND "
               "lead_id <= $2 ORDER BY lead_id, occurred_at, id",
               {first, last})) {
    out[text(row[0])].push_back(interactionOf(row, 1));
  }
  return out;
}

std::unordered_map<std::string, std::vector<ScoreEntry>> ledgersBetween(Connection& c,
                                                                        const std::string& first,
                                                                        const std::string& last) {
  std::unordered_map<std::string, std::vector<ScoreEntry>> out;
  for (const auto& row :
       c.query("SELECT lead_id, rule, fit, cause, points, awarded_at, half_life_seconds FROM "
               "score_ledger WHERE lead_id >= $1 AND lead_id <= $2 ORDER BY lead_id, seq",
               {first, last})) {
    out[text(row[0])].push_back(ledgerEntryOf(row, 1));
  }
  return out;
}

std::string setting(Connection& c, const std::string& name) {
  auto rows = c.query("SELECT value FROM settings WHERE name = $1", {name});
  return rows.empty() ? std::string() : text(rows[0][0]);
}

void setSetting(Connection& c, const std::string& name, const std::string& value) {
  c.exec(
      "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value "
      "= excluded.value",
      {name, value});
}

}  // namespace ciclo::store
