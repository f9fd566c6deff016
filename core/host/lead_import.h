#pragma once
// Bulk import of a purchased lead list: a CSV file read one record at a time (memory stays
// flat in the file's size), captured in batches of one transaction each, with the import's
// progress committed in the same transaction. An interrupted import resumes after its last
// committed record, so nothing is captured twice; rejected rows are kept in the store and
// written to an error report that can be corrected and imported again.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "domain/result.h"
#include "host/api.h"
#include "store/import_store.h"

namespace ciclo::host {

struct ImportRequest {
  std::string file;
  std::string source;   // the list's name: the leads' channel is import:<source>
  std::string partner;  // the partner the list came from, or ""
  std::string report;   // the error report; "" for <file>.errors.csv
  std::size_t batch = 1000;
};

struct ImportProgress {
  std::int64_t records = 0;  // data records carried out so far
  std::uint64_t bytes = 0;   // of the file read so far
  std::uint64_t total_bytes = 0;
};

struct ImportSummary {
  store::LeadImport import;
  std::string report;
  bool resumed = false;       // went on from an earlier, interrupted run
  bool already_done = false;  // this file was imported before; nothing was done
  bool interrupted = false;   // stopped on request; run again to resume
};

// Told of what the import finds, as it goes.
struct ImportObserver {
  std::function<void(const std::string&)> warning;      // a column ignored, before any row
  std::function<void(const ImportProgress&)> progress;  // after every committed batch
};

// kInvalid for a request or a file that cannot be imported (nothing is changed then);
// kConflict when another process is importing the same file; another kind when the store or
// the report fails (what was committed stays, and the import resumes from there).
Result<ImportSummary> importLeads(Services& s, const ImportRequest& request,
                                  const ImportObserver& observer, const std::atomic<bool>& stop);

}  // namespace ciclo::host
