#include "store/activity_store.h"

#include <Poco/JSON/Parser.h>

#include "store/lead_json.h"

namespace ciclo::store {

namespace {

Activity fromDoc(const std::string& doc);

std::string field(const Poco::JSON::Object& o, const char* key) {
  return o.has(key) && !o.isNull(key) ? o.getValue<std::string>(key) : std::string();
}

std::optional<Timestamp> time(const Poco::JSON::Object& o, const char* key) {
  Timestamp t;
  if (!parseTimestamp(field(o, key), t)) return std::nullopt;
  return t;
}

// The record id comes from its column: a merge moves activities by updating that alone.
Activity fromRow(const Row& row) {
  Activity a = fromDoc(text(row[0]));
  a.record_id = text(row[1]);
  return a;
}

Activity fromDoc(const std::string& doc) {
  Poco::JSON::Parser parser;
  auto o = parser.parse(doc).extract<Poco::JSON::Object::Ptr>();
  Activity a;
  a.id = field(*o, "id");
  a.record_id = field(*o, "record_id");
  a.parent_id = field(*o, "parent_id");
  a.type = activityTypeFrom(field(*o, "type")).value_or(ActivityType::kNote);
  a.subject = field(*o, "subject");
  a.body = field(*o, "body");
  a.by = field(*o, "by");
  a.occurred_at = time(*o, "occurred_at").value_or(Timestamp{});
  a.direction = callDirectionFrom(field(*o, "direction"));
  a.outcome = field(*o, "outcome");
  a.starts_at = time(*o, "starts_at");
  a.ends_at = time(*o, "ends_at");
  a.location = field(*o, "location");
  a.created_at = time(*o, "created_at").value_or(Timestamp{});
  return a;
}

}  // namespace

Poco::JSON::Object::Ptr activityToJson(const Activity& a) {
  Poco::JSON::Object::Ptr o = jsonObject();
  o->set("id", a.id);
  o->set("record_id", a.record_id);
  o->set("parent_id", textOrNull(a.parent_id));
  o->set("type", std::string(toString(a.type)));
  o->set("subject", textOrNull(a.subject));
  o->set("body", textOrNull(a.body));
  o->set("by", a.by);
  o->set("occurred_at", formatTimestamp(a.occurred_at));
  o->set("direction", a.direction ? Poco::Dynamic::Var(std::string(toString(*a.direction)))
                                  : Poco::Dynamic::Var());
  o->set("outcome", textOrNull(a.outcome));
  o->set("starts_at",
         a.starts_at ? Poco::Dynamic::Var(formatTimestamp(*a.starts_at)) : Poco::Dynamic::Var());
  o->set("ends_at",
         a.ends_at ? Poco::Dynamic::Var(formatTimestamp(*a.ends_at)) : Poco::Dynamic::Var());
  o->set("location", textOrNull(a.location));
  o->set("created_at", formatTimestamp(a.created_at));
  return o;
}

void insertActivity(Connection& c, const Activity& a) {
  c.exec(
      "INSERT INTO activities (id, record_id, parent_id, type, doc, created_at) VALUES ($1, $2, "
      "$3, $4, $5, $6)",
      {a.id, a.record_id, a.parent_id.empty() ? SqlValue{} : SqlValue{a.parent_id},
       std::string(toString(a.type)), toJsonText(activityToJson(a)),
       formatTimestamp(a.created_at)});
}

std::optional<Activity> findActivity(Connection& c, const std::string& id) {
  auto rows = c.query("SELECT doc, record_id FROM activities WHERE id = $1", {id});
  if (rows.empty()) return std::nullopt;
  return fromRow(rows[0]);
}

std::vector<Activity> listActivities(Connection& c, const std::string& recordId,
                                     const std::string& afterId, int limit) {
  std::vector<Activity> out;
  for (const auto& row :
       c.query("SELECT doc, record_id FROM activities WHERE record_id = $1 AND id > $2 ORDER BY id "
               "LIMIT $3",
               {recordId, afterId, std::int64_t{limit + 1}})) {
    out.push_back(fromRow(row));
  }
  return out;
}

}  // namespace ciclo::store
