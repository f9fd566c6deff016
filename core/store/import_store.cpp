#include "store/import_store.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

#include "ciclo/text.h"

namespace ciclo::store {

namespace {

// A record's fields as a JSON array; bytes that are not UTF-8 cannot be kept as JSON text.
std::string fieldsToJson(const std::vector<std::string>& fields) {
  Poco::JSON::Array a;
  for (const auto& f : fields) a.add(sdk::isValidUtf8(f) ? f : std::string("(not UTF-8)"));
  std::ostringstream out;
  a.stringify(out);
  return out.str();
}

std::vector<std::string> fieldsFromJson(const std::string& json) {
  std::vector<std::string> out;
  const auto a = Poco::JSON::Parser().parse(json).extract<Poco::JSON::Array::Ptr>();
  for (const auto& f : *a) out.push_back(f.extract<std::string>());
  return out;
}

constexpr const char* kColumns =
    "id, file_sha256, file_name, source, partner, status, records_done, created, merged, "
    "unchanged, rejected, started_at, updated_at";

LeadImport fromRow(const Row& r) {
  LeadImport i;
  i.id = text(r[0]);
  i.file_sha256 = text(r[1]);
  i.file_name = text(r[2]);
  i.source = text(r[3]);
  i.partner = text(r[4]);
  i.status = text(r[5]);
  i.records_done = integer(r[6]);
  i.created = integer(r[7]);
  i.merged = integer(r[8]);
  i.unchanged = integer(r[9]);
  i.rejected = integer(r[10]);
  parseTimestamp(text(r[11]), i.started_at);
  parseTimestamp(text(r[12]), i.updated_at);
  return i;
}

}  // namespace

std::optional<LeadImport> findLeadImport(Connection& c, const std::string& fileSha256,
                                         const std::string& source, const std::string& partner) {
  const auto rows = c.query(std::string("SELECT ") + kColumns +
                                " FROM lead_imports WHERE file_sha256 = $1 AND source = $2 AND "
                                "partner = $3",
                            {fileSha256, source, partner});
  if (rows.empty()) return std::nullopt;
  return fromRow(rows[0]);
}

std::vector<LeadImport> listLeadImports(Connection& c) {
  std::vector<LeadImport> out;
  for (const auto& r :
       c.query(std::string("SELECT ") + kColumns + " FROM lead_imports ORDER BY started_at, id"))
    out.push_back(fromRow(r));
  return out;
}

void insertLeadImport(Connection& c, const LeadImport& i) {
  c.exec(std::string("INSERT INTO lead_imports (") + kColumns +
             ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
         {i.id, i.file_sha256, i.file_name, i.source, i.partner, i.status, i.records_done,
          i.created, i.merged, i.unchanged, i.rejected, formatTimestamp(i.started_at),
          formatTimestamp(i.updated_at)});
}

bool updateLeadImport(Connection& c, const LeadImport& i, std::int64_t recordsDone) {
  return c.exec(
             "UPDATE lead_imports SET status = $2, records_done = $3, created = $4, "
             "merged = $5, unchanged = $6, rejected = $7, updated_at = $8 WHERE id = $1 AND "
             "records_done = $9",
             {i.id, i.status, i.records_done, i.created, i.merged, i.unchanged, i.rejected,
              formatTimestamp(i.updated_at), recordsDone}) == 1;
}

void insertImportRejection(Connection& c, const std::string& importId, const ImportRejection& r) {
  c.exec(
      "INSERT INTO lead_import_rejections (import_id, record, line, errors, fields) VALUES ($1, "
      "$2, $3, $4, $5)",
      {importId, r.record, r.line, r.errors, fieldsToJson(r.fields)});
}

void forEachImportRejection(Connection& c, const std::string& importId,
                            const std::function<void(const ImportRejection&)>& fn) {
  // In pages, so that memory stays flat however many rows were rejected.
  std::int64_t after = 0;
  for (;;) {
    const auto rows = c.query(
        "SELECT record, line, errors, fields FROM lead_import_rejections WHERE import_id = $1 AND "
        "record > $2 ORDER BY record LIMIT 1000",
        {importId, after});
    for (const auto& r : rows) {
      fn({integer(r[0]), integer(r[1]), text(r[2]), fieldsFromJson(text(r[3]))});
      after = integer(r[0]);
    }
    if (rows.size() < 1000) return;
  }
}

}  // namespace ciclo::store
