// The CSV reader (core/include/ciclo/csv.h) on what partners and spreadsheets write.

#include "ciclo/csv.h"

#include <gtest/gtest.h>

#include <sstream>

namespace ciclo::sdk {
namespace {

std::vector<CsvRecord> readAll(const std::string& text, char delimiter = 0, CsvLimits limits = {}) {
  std::istringstream in(text);
  CsvReader reader(in, delimiter, limits);
  std::vector<CsvRecord> out;
  CsvRecord r;
  while (reader.next(r)) out.push_back(r);
  return out;
}

using Fields = std::vector<std::string>;

TEST(Csv, ReadsRfc4180WithQuotesDelimitersAndLineBreaksInFields) {
  const auto rows = readAll(
      "external_id,email,note\r\n"
      "1,a@b.it,\"says \"\"hi\"\", twice\"\r\n"
      "2,c@d.it,\"two\r\nlines\"\r\n"
      "3,,\r\n");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].fields, (Fields{"external_id", "email", "note"}));
  EXPECT_EQ(rows[1].fields, (Fields{"1", "a@b.it", "says \"hi\", twice"}));
  EXPECT_EQ(rows[2].fields, (Fields{"2", "c@d.it", "two\r\nlines"}));
  EXPECT_EQ(rows[3].fields, (Fields{"3", "", ""}));
  EXPECT_EQ(rows[3].number, 4u);
  EXPECT_EQ(rows[3].line, 5u) << "the quoted line break counts";
  for (const auto& r : rows) EXPECT_TRUE(r.error.empty()) << r.error;
}

TEST(Csv, TakesSemicolonsLfABomAndNoFinalLineEnd) {
  std::istringstream in(
      "\xEF\xBB\xBF"
      "external_id;email;company\n7;x@y.it;\"Rossi, Bianchi\"");
  CsvReader reader(in);
  EXPECT_EQ(reader.delimiter(), ';');
  CsvRecord r;
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.fields.at(0), "external_id") << "the BOM is not part of the first name";
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.fields, (Fields{"7", "x@y.it", "Rossi, Bianchi"}));
  EXPECT_FALSE(reader.next(r));
}

TEST(Csv, SkipsBlankLinesAndKeepsEmptyFields) {
  const auto rows = readAll("a,b\n\n\r\n1,2\n,\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].fields, (Fields{"1", "2"}));
  EXPECT_EQ(rows[2].fields, (Fields{"", ""}));
}

TEST(Csv, AMalformedRecordIsReportedAndReadingGoesOn) {
  const auto rows = readAll("a,b\n\"x\"y,1\n2,3\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_FALSE(rows[1].error.empty());
  EXPECT_TRUE(rows[2].error.empty());
  EXPECT_EQ(rows[2].fields, (Fields{"2", "3"}));

  const auto open = readAll("a,b\n1,\"never closed\n2,3\n");
  ASSERT_EQ(open.size(), 2u);
  EXPECT_NE(open[1].error.find("not closed"), std::string::npos);
}

TEST(Csv, BoundsFieldSizeAndCount) {
  const CsvLimits limits{8, 3};
  const auto rows = readAll("a,b\n123456789,x\n1,2,3,4\nok,fine\n", ',', limits);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_NE(rows[1].error.find("longer than 8"), std::string::npos);
  EXPECT_LE(rows[1].fields[0].size(), 8u);
  EXPECT_NE(rows[2].error.find("more than 3"), std::string::npos);
  EXPECT_EQ(rows[2].fields.size(), 3u);
  EXPECT_TRUE(rows[3].error.empty());
}

TEST(Csv, AQuoteInsideAnUnquotedFieldIsText) {
  const auto rows = readAll("a\nsay \"x\"\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].fields.at(0), "say \"x\"");
}

TEST(Csv, NulAndBinaryBytesDoNotConfuseTheReader) {
  std::string text = "a,b\n";
  text += std::string("x\0y", 3) + ",\xff\xfe\n";
  const auto rows = readAll(text);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].fields.at(0).size(), 3u);
}

TEST(Csv, WrittenRecordsReadBackAsTheyWere) {
  const std::vector<std::vector<std::string>> records{
      {"plain", "with,comma", "with \"quotes\"", "two\r\nlines", " padded ", ""},
      {"", "", "", "", "", "x"}};
  std::ostringstream out;
  for (const auto& r : records) writeCsvRecord(out, r);
  EXPECT_TRUE(
      out.str().starts_with("plain,\"with,comma\",\"with \"\"quotes\"\"\",\"two\r\nlines\","
                            "\" padded \",\r\n"))
      << out.str();
  const auto rows = readAll(out.str(), ',');
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields, records[0]);
  EXPECT_EQ(rows[1].fields, records[1]);

  std::ostringstream semi;
  writeCsvRecord(semi, {"a;b", "c,d"}, ';');
  EXPECT_EQ(semi.str(), "\"a;b\";c,d\r\n");
}

TEST(Csv, CellsAreMadeSafeForSpreadsheets) {
  EXPECT_EQ(spreadsheetSafe("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
  EXPECT_EQ(spreadsheetSafe("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(spreadsheetSafe("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
  EXPECT_EQ(spreadsheetSafe("-2+3+cmd|' /C calc'!A0"), "'-2+3+cmd|' /C calc'!A0");
  EXPECT_EQ(spreadsheetSafe("\t=1"), "'\t=1");
  EXPECT_EQ(spreadsheetSafe("\r=1"), "'\r=1");
  EXPECT_EQ(spreadsheetSafe("+"), "'+");
  // Numbers stay numbers: phones and amounts.
  EXPECT_EQ(spreadsheetSafe("+39 02 8088 1234"), "+39 02 8088 1234");
  EXPECT_EQ(spreadsheetSafe("-12.50"), "-12.50");
  EXPECT_EQ(spreadsheetSafe("+1 (555) 010-0000"), "+1 (555) 010-0000");
  EXPECT_EQ(spreadsheetSafe("Ada"), "Ada");
  EXPECT_EQ(spreadsheetSafe(""), "");
}

}  // namespace
}  // namespace ciclo::sdk
