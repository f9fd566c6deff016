// The CSV reader on hostile bytes, with small limits so that they are reached. Properties:
// records are numbered 1, 2, 3...; no record holds more fields, and no field more bytes,
// than the limits allow; the fields never hold more bytes than the input; and when every
// record was read without error, writing them out again and reading that gives the same
// records.

#include <Poco/MemoryStream.h>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "ciclo/csv.h"
#include "fuzz.h"

using ciclo::sdk::CsvLimits;
using ciclo::sdk::CsvReader;
using ciclo::sdk::CsvRecord;

namespace {

struct Read {
  std::vector<std::vector<std::string>> records;
  bool clean = true;
};

Read readAll(std::string_view text, char delimiter, CsvLimits limits) {
  Poco::MemoryInputStream in(text.data(), text.size());
  CsvReader reader(in, delimiter, limits);
  Read out;
  CsvRecord record;
  std::size_t expected = 1, bytes = 0;
  while (reader.next(record)) {
    FUZZ_CHECK(record.number == expected++);
    FUZZ_CHECK(record.fields.size() <= limits.max_fields);
    for (const auto& field : record.fields) {
      FUZZ_CHECK(field.size() <= limits.max_field_bytes);
      bytes += field.size();
    }
    FUZZ_CHECK(bytes <= text.size());
    if (!record.error.empty()) out.clean = false;
    out.records.push_back(record.fields);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the delimiter setting: detected, "," or ";".
  const char delimiter = data[0] % 3 == 0 ? '\0' : data[0] % 3 == 1 ? ',' : ';';
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const CsvLimits limits{64, 8};
  const Read first = readAll(text, delimiter, limits);
  if (!first.clean || first.records.empty()) return 0;

  // Written back with every field quoted, under a known delimiter.
  std::string written;
  for (const auto& fields : first.records) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) written += ',';
      written += '"';
      for (char c : fields[i]) {
        if (c == '"') written += '"';
        written += c;
      }
      written += '"';
    }
    written += "\r\n";
  }
  const Read second = readAll(written, ',', CsvLimits{1024, 8});
  FUZZ_CHECK(second.clean);
  FUZZ_CHECK(second.records == first.records);
  return 0;
}
