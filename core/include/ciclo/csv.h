#pragma once
// Ciclo plugin SDK: CSV (RFC 4180) as partners and spreadsheets write it - UTF-8 with or
// without a BOM, "," or ";" between fields, CRLF or LF line ends, quoted fields holding
// delimiters, doubled quotes and line breaks - read one record at a time, so that memory
// stays flat in the size of the input. A malformed record is reported and reading goes on
// with the next line.

#include <cstddef>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace ciclo::sdk {

struct CsvRecord {
  std::vector<std::string> fields;
  std::size_t number = 0;  // 1 for the first record (the header row, when there is one)
  std::size_t line = 0;    // the line the record starts on, from 1
  std::string error;       // why the record is malformed; its fields are then incomplete
};

struct CsvLimits {
  std::size_t max_field_bytes = 64 * 1024;
  std::size_t max_fields = 256;
};

class CsvReader {
 public:
  // `delimiter` 0: "," or ";", whichever the first line holds more of outside quotes.
  explicit CsvReader(std::istream& in, char delimiter = 0, CsvLimits limits = {})
      : in_(*in.rdbuf()), delimiter_(delimiter), limits_(limits) {}

  // The next record, skipping blank lines; false at the end of the input.
  bool next(CsvRecord& record) {
    if (!started_) begin();
    record.fields.clear();
    record.error.clear();
    int c = get();
    while (c == '\n' || c == '\r') {
      if (c == '\r' && peek() == '\n') get();
      ++line_;
      c = get();
    }
    if (c == kEof) return false;
    record.number = ++number_;
    record.line = line_;
    std::string field;
    bool tooLong = false, tooMany = false;
    auto append = [&](char ch) {
      if (field.size() < limits_.max_field_bytes)
        field += ch;
      else
        tooLong = true;
    };
    auto push = [&] {
      if (record.fields.size() < limits_.max_fields)
        record.fields.push_back(std::move(field));
      else
        tooMany = true;
      field.clear();
    };
    for (;;) {
      if (c == '"') {
        for (c = get();; c = get()) {
          if (c == kEof) {
            record.error = "a quoted field is not closed before the end of the input";
            push();
            return true;
          }
          if (c == '"') {
            if (peek() != '"') break;
            get();
          } else if (c == '\n') {
            ++line_;
          }
          append(static_cast<char>(c));
        }
        c = get();
        if (c != delimiter_ && c != '\n' && c != '\r' && c != kEof) {
          record.error = "a quoted field is followed by text before the next delimiter";
          while (c != '\n' && c != '\r' && c != kEof) c = get();
        }
      } else {
        while (c != delimiter_ && c != '\n' && c != '\r' && c != kEof) {
          append(static_cast<char>(c));
          c = get();
        }
      }
      push();
      if (c != delimiter_) break;
      c = get();
    }
    if (c == '\r' && peek() == '\n') get();
    if (c != kEof) ++line_;
    if (record.error.empty() && tooLong)
      record.error = "a field is longer than " + std::to_string(limits_.max_field_bytes) + " bytes";
    if (record.error.empty() && tooMany)
      record.error = "the record has more than " + std::to_string(limits_.max_fields) + " fields";
    return true;
  }

  // The delimiter in use (known once the first record was asked for).
  char delimiter() {
    if (!started_) begin();
    return delimiter_;
  }

 private:
  static constexpr int kEof = std::char_traits<char>::eof();

  int get() {
    if (pos_ < pending_.size()) return static_cast<unsigned char>(pending_[pos_++]);
    if (ahead_ != kNone) {
      const int c = ahead_;
      ahead_ = kNone;
      return c;
    }
    return in_.sbumpc();
  }
  int peek() {
    if (pos_ < pending_.size()) return static_cast<unsigned char>(pending_[pos_]);
    if (ahead_ == kNone) ahead_ = in_.sbumpc();
    return ahead_;
  }

  // Skips a BOM and, without a delimiter given, picks one from the first line.
  void begin() {
    started_ = true;
    for (int c = in_.sbumpc(); c != kEof; c = in_.sbumpc()) {
      pending_ += static_cast<char>(c);
      if (c == '\n' || pending_.size() >= limits_.max_field_bytes) break;
    }
    if (pending_.starts_with("\xEF\xBB\xBF")) pos_ = 3;
    if (delimiter_ != 0) return;
    std::size_t commas = 0, semicolons = 0;
    bool quoted = false;
    for (std::size_t i = pos_; i < pending_.size(); ++i) {
      const char c = pending_[i];
      if (c == '"') quoted = !quoted;
      if (quoted) continue;
      commas += c == ',';
      semicolons += c == ';';
    }
    delimiter_ = semicolons > commas ? ';' : ',';
  }

  static constexpr int kNone = -2;
  std::streambuf& in_;
  char delimiter_;
  CsvLimits limits_;
  bool started_ = false;
  std::string pending_;  // the first line, read ahead to find the delimiter
  std::size_t pos_ = 0;
  int ahead_ = kNone;
  std::size_t number_ = 0;
  std::size_t line_ = 1;
};

// One record, RFC 4180: a field is quoted when it holds the delimiter, a quote, a line end or
// space at either end; lines end in CRLF.
inline void writeCsvRecord(std::ostream& out, const std::vector<std::string>& fields,
                           char delimiter = ',') {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::string& f = fields[i];
    if (i > 0) out << delimiter;
    const bool quote = f.find_first_of(std::string{'"', '\r', '\n', delimiter}) != f.npos ||
                       (!f.empty() && (f.front() == ' ' || f.back() == ' '));
    if (!quote) {
      out << f;
      continue;
    }
    out << '"';
    for (char c : f) {
      if (c == '"') out << '"';
      out << c;
    }
    out << '"';
  }
  out << "\r\n";
}

// A cell a spreadsheet shows as text, never runs as a formula: one that begins with =, +, -,
// @, a tab or a carriage return gets a leading apostrophe (OWASP, CSV injection) - unless it
// is digits and punctuation alone, such as a phone "+39 02 1234" or an amount "-12.50":
// without letters or quotes a formula can name no function, cell or command.
inline std::string spreadsheetSafe(std::string_view cell) {
  if (cell.empty() || std::string_view("=+-@\t\r").find(cell.front()) == std::string_view::npos)
    return std::string(cell);
  const bool number =
      cell.size() > 1 && (cell.front() == '+' || cell.front() == '-') &&
      cell.substr(1).find_first_not_of("0123456789 ().,/+-") == std::string_view::npos;
  return number ? std::string(cell) : "'" + std::string(cell);
}

}  // namespace ciclo::sdk
