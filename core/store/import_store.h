#pragma once
// Bulk imports of lead lists: each import's progress, committed with the leads it carried
// out so that an interrupted import resumes after its last committed record, and the rows
// it rejected, from which its error report is written.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "domain/clock.h"
#include "store/database.h"

namespace ciclo::store {

struct LeadImport {
  std::string id;
  std::string file_sha256;
  std::string file_name;
  std::string source;   // the list's name
  std::string partner;  // "" for none
  std::string status;   // running, finished
  std::int64_t records_done = 0;
  std::int64_t created = 0, merged = 0, unchanged = 0, rejected = 0;
  Timestamp started_at{};
  Timestamp updated_at{};
};

struct ImportRejection {
  std::int64_t record = 0;
  std::int64_t line = 0;
  std::string errors;               // what is wrong, as the report says it
  std::vector<std::string> fields;  // the record's fields as read
};

std::optional<LeadImport> findLeadImport(Connection& c, const std::string& fileSha256,
                                         const std::string& source, const std::string& partner);
std::vector<LeadImport> listLeadImports(Connection& c);
void insertLeadImport(Connection& c, const LeadImport& i);
// Progress and totals, status included, when the stored progress is still `recordsDone`;
// false when another process moved it on.
bool updateLeadImport(Connection& c, const LeadImport& i, std::int64_t recordsDone);
void insertImportRejection(Connection& c, const std::string& importId, const ImportRejection& r);
// In record order.
void forEachImportRejection(Connection& c, const std::string& importId,
                            const std::function<void(const ImportRejection&)>& fn);

}  // namespace ciclo::store
