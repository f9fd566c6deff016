#include "host/lead_import.h"

#include <Poco/DigestEngine.h>
#include <Poco/Path.h>
#include <Poco/SHA2Engine.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>

#include "ciclo/csv.h"
#include "ciclo/text.h"
#include "host/adapters.h"
#include "host/leads_service.h"

namespace ciclo::host {

namespace {

enum class Kind {
  kProfile,
  kEmployees,
  kRevenue,
  kCurrency,
  kOwner,
  kConsent,
  kConsentText,
  kUtm,
  kCustom,
  kIgnored
};

struct Column {
  Kind kind = Kind::kIgnored;
  std::string name;    // the field it fills: "email", "utm_source", a custom field's name
  std::string header;  // as the file names it
};

const std::map<std::string, Kind>& namedColumns() {
  static const std::map<std::string, Kind> columns = [] {
    std::map<std::string, Kind> m{{"employees", Kind::kEmployees},
                                  {"annual_revenue", Kind::kRevenue},
                                  {"revenue_currency", Kind::kCurrency},
                                  {"owner", Kind::kOwner},
                                  {"consent_marketing", Kind::kConsent},
                                  {"consent_text", Kind::kConsentText},
                                  {"utm_source", Kind::kUtm},
                                  {"utm_medium", Kind::kUtm},
                                  {"utm_campaign", Kind::kUtm},
                                  {"utm_term", Kind::kUtm},
                                  {"utm_content", Kind::kUtm}};
    for (const auto name : sdk::kProfileTextFields) m.emplace(std::string(name), Kind::kProfile);
    return m;
  }();
  return columns;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The header row into columns; a repeated column or one without email and phone is an error.
Result<std::vector<Column>> readHeader(const sdk::CsvRecord& header,
                                       std::vector<std::string>& warnings) {
  if (!header.error.empty()) return Error::invalid("the header row is malformed: " + header.error);
  std::vector<Column> columns;
  std::map<std::string, std::size_t> seen;
  bool identifies = false;
  for (std::size_t i = 0; i < header.fields.size(); ++i) {
    Column col;
    col.header = header.fields[i];
    const std::string name = lower(sdk::trimmed(col.header));
    if (!sdk::isOneLine(col.header))
      return Error::invalid("column " + std::to_string(i + 1) + " has a name that is not text");
    if (auto it = namedColumns().find(name); it != namedColumns().end()) {
      col.kind = it->second;
      col.name = name;
    } else if (name.starts_with("custom.") && sdk::isCustomFieldName(name.substr(7))) {
      col.kind = Kind::kCustom;
      col.name = name.substr(7);
    } else if (!name.empty()) {
      warnings.push_back("column \"" + col.header + "\" is not a field of a lead; ignored");
    }
    if (col.kind != Kind::kIgnored) {
      const std::string key = (col.kind == Kind::kCustom ? "custom." : "") + col.name;
      if (auto [it, fresh] = seen.emplace(key, i); !fresh) {
        return Error::invalid("column " + std::to_string(i + 1) + " (" + col.header +
                              ") repeats column " + std::to_string(it->second + 1));
      }
      identifies |= col.name == "email" || col.name == "phone";
    }
    columns.push_back(std::move(col));
  }
  if (!identifies) return Error::invalid("the file needs an email or a phone column");
  return columns;
}

// What is wrong with a row, as the report says it: "Email: is not an email address; ...".
std::string describe(const std::vector<FieldError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += "; ";
    if (!e.field.empty()) out += e.field + ": ";
    out += e.message;
  }
  return out;
}

// The error report: the rejected rows as they were read, after their record and line numbers
// and what is wrong with them, so that they can be corrected and imported again (the three
// leading columns are then ignored).
class Report {
 public:
  Report(std::string path, const std::vector<Column>& columns) : path_(std::move(path)) {
    header_ = {"row", "line", "errors"};
    for (const auto& c : columns) header_.push_back(c.header);
  }

  Status open() {
    out_.open(path_, std::ios::binary | std::ios::trunc);
    if (!out_)
      return Error::invalid("cannot write the error report " + path_ + ": " + std::strerror(errno));
    ::chmod(path_.c_str(), 0600);  // it holds personal data
    write(header_);
    return flush();
  }

  void add(const store::ImportRejection& r) {
    std::vector<std::string> cells{std::to_string(r.record), std::to_string(r.line), r.errors};
    cells.insert(cells.end(), r.fields.begin(), r.fields.end());
    write(cells);
  }

  Status flush() {
    out_.flush();
    if (!out_) return Error::internal("cannot write the error report " + path_);
    return {};
  }

 private:
  void write(const std::vector<std::string>& cells) {
    std::vector<std::string> safe;
    safe.reserve(cells.size());
    for (const auto& c : cells) safe.push_back(sdk::spreadsheetSafe(c));
    sdk::writeCsvRecord(out_, safe);
  }

  std::string path_;
  std::vector<std::string> header_;
  std::ofstream out_;
};

Result<std::pair<std::string, std::uint64_t>> fileDigest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::invalid("cannot read " + path + ": " + std::strerror(errno));
  Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
  std::uint64_t size = 0;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    sha.update(buf, static_cast<unsigned>(in.gcount()));
    size += static_cast<std::uint64_t>(in.gcount());
  }
  if (in.bad()) return Error::invalid("cannot read " + path + ": " + std::strerror(errno));
  return std::pair{Poco::DigestEngine::digestToHex(sha.digest()), size};
}

class Importer {
 public:
  Importer(Services& s, const ImportRequest& request, std::vector<Column> columns,
           store::LeadImport& import)
      : s_(s), request_(request), columns_(std::move(columns)), import_(import) {}

  // A data row into a capture, or what is wrong with it.
  Result<PreparedCapture> prepare(const std::vector<std::string>& fields) const {
    std::vector<FieldError> errors;
    if (fields.size() != columns_.size()) {
      return Error::invalid(
          "", {{"", "has " + std::to_string(fields.size()) + " fields; the header has " +
                        std::to_string(columns_.size())}});
    }
    sdk::LeadInput in;
    in.source = "import";
    in.channel = "import:" + request_.source;
    in.partner = request_.partner;
    in.consent_source = in.channel;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      const Column& col = columns_[i];
      const std::string& value = fields[i];
      switch (col.kind) {
        case Kind::kProfile:
          *sdk::profileText(in, col.name) = value;
          break;
        case Kind::kEmployees: {
          const std::string v = sdk::trimmed(value);
          if (v.empty()) break;
          long long n = 0;
          const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
          if (ec != std::errc() || end != v.data() + v.size())
            errors.push_back({col.header, "must be a whole number"});
          else
            in.employees = n;
          break;
        }
        case Kind::kRevenue:
          in.annual_revenue = sdk::trimmed(value);
          break;
        case Kind::kCurrency:
          in.revenue_currency = sdk::trimmed(value);
          break;
        case Kind::kOwner:
          in.owner = sdk::trimmed(value);
          break;
        case Kind::kConsent:
          if (const auto yes = sdk::parseYesNo(value))
            in.consent_granted = *yes;
          else
            errors.push_back({col.header, "must be yes or no"});
          break;
        case Kind::kConsentText:
          in.consent_text = value;
          break;
        case Kind::kUtm:
          utm(in, col.name) = value;
          break;
        case Kind::kCustom:
          if (!sdk::trimmed(value).empty()) in.custom[col.name] = value;
          break;
        case Kind::kIgnored:
          break;
      }
    }
    auto capture =
        buildCapture(s_, in, "", [this](const std::string& field) { return headerOf(field); });
    if (!capture.ok()) {
      for (auto& e : capture.error().fields) errors.push_back(std::move(e));
    }
    if (!errors.empty()) return Error::invalid("", std::move(errors));
    return prepareCapture(s_, std::move(capture).value());
  }

  // Carries out one batch, with the import's progress, in one transaction. The progress is
  // only moved on from where this importer left it: a second importer of the same file
  // fails instead of capturing the same rows.
  Status commit(const std::vector<PreparedCapture>& captures,
                const std::vector<store::ImportRejection>& rejections, std::int64_t lastRecord) {
    store::LeadImport next = import_;
    const std::int64_t expected = import_.records_done;
    Status st = s_.store.write([&](store::Connection& c) -> Status {
      next = import_;
      for (const auto& p : captures) {
        switch (captureLead(s_, c, p, "import:" + request_.source).outcome) {
          case CaptureOutcome::kCreated:
            ++next.created;
            break;
          case CaptureOutcome::kMerged:
            ++next.merged;
            break;
          case CaptureOutcome::kUnchanged:
            ++next.unchanged;
            break;
        }
      }
      for (const auto& r : rejections) store::insertImportRejection(c, next.id, r);
      next.rejected += static_cast<std::int64_t>(rejections.size());
      next.records_done = lastRecord;
      next.updated_at = s_.clock.now();
      if (!store::updateLeadImport(c, next, expected))
        return Error::conflict("another import of this file is running");
      return {};
    });
    if (st.ok()) import_ = next;
    return st;
  }

 private:
  static std::string& utm(sdk::LeadInput& in, const std::string& name) {
    if (name == "utm_source") return in.utm_source;
    if (name == "utm_medium") return in.utm_medium;
    if (name == "utm_campaign") return in.utm_campaign;
    if (name == "utm_term") return in.utm_term;
    return in.utm_content;
  }

  // A capture's field as the file names its column.
  std::string headerOf(const std::string& field) const {
    const bool custom = field.starts_with("custom.");
    for (const auto& c : columns_) {
      if (c.kind == Kind::kIgnored) continue;
      if (custom ? (c.kind == Kind::kCustom && "custom." + c.name == field) : c.name == field)
        return c.header;
    }
    return field;
  }

  Services& s_;
  const ImportRequest& request_;
  std::vector<Column> columns_;
  store::LeadImport& import_;
};

}  // namespace

Result<ImportSummary> importLeads(Services& s, const ImportRequest& request,
                                  const ImportObserver& observer, const std::atomic<bool>& stop) {
  if (!sdk::isKey(request.source))
    return Error::invalid("--source must be 1 to 64 characters of a-z, 0-9, - and _");
  if (!request.partner.empty() && !sdk::isKey(request.partner))
    return Error::invalid("--partner must be 1 to 64 characters of a-z, 0-9, - and _");
  if (request.batch == 0 || request.batch > 10000)
    return Error::invalid("the batch size must be from 1 to 10000");
  auto digest = fileDigest(request.file);
  if (!digest.ok()) return digest.error();
  const auto [sha, totalBytes] = digest.value();

  ImportSummary summary;
  summary.report = request.report.empty() ? request.file + ".errors.csv" : request.report;
  std::optional<store::LeadImport> found;
  Status st = s.store.read([&](store::Connection& c) {
    found = store::findLeadImport(c, sha, request.source, request.partner);
    return Status();
  });
  if (!st.ok()) return st.error();
  if (found && found->status == "finished") {
    summary.import = *found;
    summary.already_done = true;
    return summary;
  }

  std::ifstream file(request.file, std::ios::binary);
  if (!file) return Error::invalid("cannot read " + request.file + ": " + std::strerror(errno));
  sdk::CsvReader reader(file);
  sdk::CsvRecord record;
  if (!reader.next(record))
    return Error::invalid(request.file + " is empty; it needs a header row naming its columns");
  std::vector<std::string> warnings;
  auto columns = readHeader(record, warnings);
  if (!columns.ok()) return Error::invalid(request.file + ": " + columns.error().message);
  for (const auto& w : warnings) observer.warning(w);

  // The report first: an import that cannot write it does not start.
  Report report(summary.report, columns.value());
  if (auto opened = report.open(); !opened.ok()) return opened.error();
  store::LeadImport& import = summary.import;
  if (found) {  // resumed: the report again, from the rows rejected so far
    import = *found;
    summary.resumed = true;
    st = s.store.read([&](store::Connection& c) {
      store::forEachImportRejection(c, import.id, [&](const auto& r) { report.add(r); });
      return Status();
    });
  } else {
    const Timestamp now = s.clock.now();
    import = {s.ids.next("imp"),
              sha,
              Poco::Path(request.file).getFileName(),
              request.source,
              request.partner,
              "running",
              1,
              0,
              0,
              0,
              0,
              now,
              now};
    st = s.store.write([&](store::Connection& c) {
      store::insertLeadImport(c, import);
      return Status();
    });
  }
  if (!st.ok()) return st.error();

  Importer importer(s, request, columns.value(), import);
  ImportProgress at{0, 0, totalBytes};
  auto position = [&file] {
    return static_cast<std::uint64_t>(file.rdbuf()->pubseekoff(0, std::ios::cur, std::ios::in));
  };
  // Records carried out before an interruption are read again, not captured again.
  while (static_cast<std::int64_t>(record.number) < import.records_done && reader.next(record)) {
  }
  at.records = import.records_done - 1;
  bool more = static_cast<std::int64_t>(record.number) >= import.records_done;
  std::vector<PreparedCapture> captures;
  std::vector<store::ImportRejection> rejections;
  while (more && !stop) {
    captures.clear();
    rejections.clear();
    std::int64_t last = import.records_done;
    while (captures.size() + rejections.size() < request.batch && (more = reader.next(record))) {
      last = static_cast<std::int64_t>(record.number);
      const auto line = static_cast<std::int64_t>(record.line);
      if (!record.error.empty()) {
        rejections.push_back({last, line, record.error, std::move(record.fields)});
        continue;
      }
      auto prepared = importer.prepare(record.fields);
      if (prepared.ok()) {
        captures.push_back(std::move(prepared).value());
      } else {
        rejections.push_back(
            {last, line, describe(prepared.error().fields), std::move(record.fields)});
      }
    }
    if (last == import.records_done) break;
    st = importer.commit(captures, rejections, last);
    if (!st.ok()) return st.error();
    for (const auto& r : rejections) report.add(r);
    if (auto flushed = report.flush(); !flushed.ok()) return flushed.error();
    at.records = import.records_done - 1;
    at.bytes = more ? std::min(position(), totalBytes) : totalBytes;
    observer.progress(at);
  }
  if (more && stop) {
    summary.interrupted = true;
    return summary;
  }
  import.status = "finished";
  st = s.store.write([&](store::Connection& c) -> Status {
    import.updated_at = s.clock.now();
    if (!store::updateLeadImport(c, import, import.records_done))
      return Error::conflict("another import of this file is running");
    return {};
  });
  if (!st.ok()) return st.error();
  return summary;
}

}  // namespace ciclo::host
