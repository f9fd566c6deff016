#include "host/progress.h"

#include <gtest/gtest.h>

#include <sstream>

namespace ciclo::host {
namespace {

TEST(ProgressMeter, DrawsABarInPlaceOnATerminal) {
  std::ostringstream out;
  ProgressMeter meter(out, true, "import", "rows");
  meter.update(500, 0.5);
  meter.update(600, 0.6);  // within 100 ms of the last drawing: not drawn
  meter.finish(1000, 1.0);
  const std::string text = out.str();
  EXPECT_TRUE(text.starts_with("\r[###############...............] 50%  500 rows  ")) << text;
  EXPECT_NE(text.find(" rows/s  ETA 0:00\x1b[K"), std::string::npos) << text;
  EXPECT_EQ(text.find("600 rows"), std::string::npos) << text;
  EXPECT_NE(text.find("\r[##############################] 100%  1,000 rows  "), std::string::npos)
      << text;
  EXPECT_TRUE(text.ends_with("\x1b[K\n")) << text;
}

TEST(ProgressMeter, WritesPlainLinesElsewhere) {
  std::ostringstream out;
  ProgressMeter meter(out, false, "import", "rows");
  meter.update(10, 0.1);  // the first line comes after a few seconds, not at once
  EXPECT_EQ(out.str(), "");
  meter.finish(123456, 1.0);
  EXPECT_TRUE(out.str().starts_with("import: 100%  123,456 rows  ")) << out.str();
  EXPECT_EQ(out.str().find('\r'), std::string::npos);
  EXPECT_TRUE(out.str().ends_with("ETA 0:00\n")) << out.str();
}

TEST(ProgressMeter, FormatsDurations) {
  EXPECT_EQ(ProgressMeter::duration(0), "0:00");
  EXPECT_EQ(ProgressMeter::duration(65.4), "1:05");
  EXPECT_EQ(ProgressMeter::duration(7390), "2:03:10");
  EXPECT_EQ(ProgressMeter::duration(-3), "0:00");
}

}  // namespace
}  // namespace ciclo::host
