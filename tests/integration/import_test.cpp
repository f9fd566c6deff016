// `ciclod import leads`: a purchased list imported from CSV next to a running daemon, on both
// backends - outcomes, the error report, bad invocations that change nothing, and resuming
// after an interruption (SIGINT, and SIGKILL) without capturing a row twice.

#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>
#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "fixture.h"
#include "store/database.h"

namespace ciclo::testing {
namespace {

class Import : public DaemonTest {
 protected:
  std::string write(const std::string& name, const std::string& content) {
    const std::string path = daemon_->dir() + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // One number from the store.
  std::int64_t count(const std::string& sql) {
    if (!store_) {
      auto opened = store::Store::open({daemon_->storeUrl()});
      EXPECT_TRUE(opened.ok());
      store_ = std::move(opened).value();
    }
    std::int64_t n = -1;
    EXPECT_TRUE(store_
                    ->read([&](store::Connection& c) {
                      n = store::integer(c.query(sql).at(0).at(0));
                      return Status();
                    })
                    .ok());
    return n;
  }
  // A list of `rows` people, all distinct.
  static std::string list(int rows) {
    std::string csv = "email,first_name,company\n";
    for (int i = 0; i < rows; ++i)
      csv += "p" + std::to_string(i) + "@list.example.com,Person " + std::to_string(i) + ",Co\n";
    return csv;
  }
  std::vector<std::string> importArgs(const std::string& file, const std::string& batch) {
    return {"--config", daemon_->dir() + "ciclo.yaml",
            "import",   "leads",
            file,       "--source",
            "big",      "--batch",
            batch};
  }
  void TearDown() override {
    if (store_) store_->close();
    DaemonTest::TearDown();
  }

  std::unique_ptr<store::Store> store_;
};

TEST_P(Import, APurchasedListBecomesLeadsAndItsBadRowsAReport) {
  // Semicolons and a BOM, as a spreadsheet writes them; an unknown column; a row that repeats
  // an earlier person; bad rows of several kinds, one of them a formula.
  const std::string file =
      write("list.csv",
            "\xEF\xBB\xBF"
            "Email;First_Name;Job_Title;Phone;Employees;custom.budget;Fax\r\n"
            "ada@analytical.example.com;Ada;CTO;;42;50k;+39 02 555\r\n"
            "not-an-email;=1+1;;;;;\r\n"
            "carla@example.it;Carla;;+39 02 8088 1234;many;;\r\n"
            "dario@example.it;\"=HYPERLINK(\"\"http://x.example\"\")\";;;;;\r\n"
            "only;three;fields\r\n"
            "ada@analytical.example.com;Ada;CTO;;42;50k;\r\n"
            "erin@example.org;Erin;Buyer;;7;;\r\n");
  std::string out, err;
  ASSERT_EQ(daemon_->runCli({"import", "leads", file, "--source", "fair-2026", "--partner", "acme"},
                            &out, &err),
            0)
      << out << err;
  EXPECT_NE(err.find("column \"Fax\" is not a field of a lead; ignored"), std::string::npos) << err;
  EXPECT_NE(out.find("imported 7 rows"), std::string::npos) << out;
  EXPECT_NE(out.find("3 created, 0 merged, 1 unchanged, 3 rejected"), std::string::npos) << out;

  auto leads = json(get("/v1/leads?limit=50").body)->getArray("data");
  ASSERT_EQ(leads->size(), 3u);
  std::string ada;
  for (std::size_t i = 0; i < leads->size(); ++i) {
    auto lead = leads->getObject(static_cast<unsigned>(i));
    if (lead->getValue<std::string>("email") == "ada@analytical.example.com")
      ada = lead->getValue<std::string>("id");
  }
  ASSERT_FALSE(ada.empty());
  auto lead = json(get("/v1/leads/" + ada).body);
  auto touch = lead->getObject("first_touch");
  EXPECT_EQ(touch->getValue<std::string>("source"), "import");
  EXPECT_EQ(touch->getValue<std::string>("partner"), "acme");
  EXPECT_EQ(touch->getValue<std::string>("channel"), "import:fair-2026");
  EXPECT_EQ(lead->getValue<int>("employees"), 42);
  EXPECT_EQ(lead->getObject("custom")->getValue<std::string>("budget"), "50k");

  // The report: the rejected rows as read, each with its record and line, what is wrong named
  // by the file's own column names, and no cell a spreadsheet would run as a formula.
  const std::string report = read(file + ".errors.csv");
  EXPECT_EQ(report,
            "row,line,errors,Email,First_Name,Job_Title,Phone,Employees,custom.budget,Fax\r\n"
            "3,3,Email: is not an email address,not-an-email,'=1+1,,,,,\r\n"
            "4,4,Employees: must be a whole number,carla@example.it,Carla,,+39 02 8088 1234,many,,"
            "\r\n"
            "6,6,has 3 fields; the header has 7,only,three,fields\r\n")
      << report;
  // A formula is a valid first name: the lead keeps it as it came, as text.
  EXPECT_EQ(count("SELECT COUNT(*) FROM leads WHERE email = 'dario@example.it' AND doc LIKE "
                  "'%=HYPERLINK(%'"),
            1);
  // Each row the import carried out is one capture on the timeline, by the import.
  EXPECT_EQ(count("SELECT COUNT(*) FROM timeline WHERE kind = 'lead.captured' AND actor = "
                  "'import:fair-2026'"),
            4);
}

TEST_P(Import, TheSameFileAgainIsNotImportedTwice) {
  const std::string file = write("list.csv", list(30));
  std::string out, err;
  ASSERT_EQ(daemon_->runCli({"import", "leads", file, "--source", "list"}, &out, &err), 0) << err;
  const std::string before = recordsDump();
  ASSERT_EQ(daemon_->runCli({"import", "leads", file, "--source", "list"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("was imported already as imp_"), std::string::npos) << out;
  EXPECT_NE(out.find("30 rows, 30 created"), std::string::npos) << out;
  EXPECT_EQ(recordsDump(), before);
  ASSERT_EQ(daemon_->runCli({"import", "list"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("list.csv\tlist\t-\tfinished\t30 rows\t30 created"), std::string::npos) << out;
}

TEST_P(Import, BadInvocationsAndFilesChangeNothing) {
  const std::string good = write("good.csv", list(3));
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string says;
  };
  const std::vector<Case> cases{
      {{"import", "leads", good}, 64, "needs --source NAME"},
      {{"import", "leads", good, "--source", "Bad Name"}, 65, "--source must be"},
      {{"import", "leads", good, "--source", "ok", "--partner", "a/b"}, 65, "--partner must be"},
      {{"import", "leads", daemon_->dir() + "/missing.csv", "--source", "ok"}, 65, "cannot read"},
      {{"import", "leads", write("empty.csv", ""), "--source", "ok"}, 65, "needs a header row"},
      {{"import", "leads", write("noid.csv", "first_name,company\nAda,Co\n"), "--source", "ok"},
       65,
       "needs an email or a phone column"},
      {{"import", "leads", write("twice.csv", "email,EMAIL\na@b.example.com,c@d.example.com\n"),
        "--source", "ok"},
       65,
       "column 2 (EMAIL) repeats column 1"},
      {{"import", "leads", write("quote.csv", "\"email,name\na@b.example.com\n"), "--source", "ok"},
       65,
       "the header row is malformed"},
      {{"import", "leads", write("binary.csv", std::string("email\xff\x00,x\n", 9)), "--source",
        "ok"},
       65,
       "has a name that is not text"},
      {{"import", "leads", good, "--source", "ok", "--report", "/nonexistent/dir/r.csv"},
       65,
       "cannot write the error report"},
      {{"import", "nothing"}, 64, "unknown command"},
  };
  const std::string before = recordsDump();
  for (const auto& c : cases) {
    std::string out, err;
    EXPECT_EQ(daemon_->runCli(c.args, &out, &err), c.code) << c.args.back() << ": " << err;
    EXPECT_NE(err.find(c.says), std::string::npos) << err;
  }
  EXPECT_EQ(recordsDump(), before);
}

TEST_P(Import, AnInterruptedImportResumesWithoutCapturingARowTwice) {
  // Every thousandth row is bad: rejected before the interruptions and after them.
  const int rows = 12000;
  std::string csv = list(rows);
  for (std::size_t at = 0, n = 0; (at = csv.find("\np", at)) != std::string::npos; ++n) {
    at += 1;
    if (n % 1000 == 5) {  // "=5#list.example.com": a formula, and not an email
      csv[at] = '=';
      csv[csv.find('@', at)] = '#';
    }
  }
  const std::string file = write("big.csv", csv);
  // SIGINT stops the import after the batch in progress.
  Poco::Pipe outPipe;
  auto handle =
      Poco::Process::launch(Daemon::binary(), importArgs(file, "10"), nullptr, &outPipe, nullptr);
  while (count("SELECT COUNT(*) FROM leads") < 100)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::kill(handle.id(), SIGINT);
  Poco::PipeInputStream outStream(outPipe);
  std::string out;
  Poco::StreamCopier::copyToString(outStream, out);
  EXPECT_EQ(handle.wait(), 75) << out;
  EXPECT_NE(out.find("run the same command again to resume"), std::string::npos) << out;
  const auto done = count("SELECT COUNT(*) FROM leads");
  EXPECT_LT(done, rows);
  // Whole batches only: every record carried out is a lead or a rejected row.
  const auto records = count("SELECT records_done FROM lead_imports") - 1;
  EXPECT_EQ(records % 10, 0);
  EXPECT_EQ(done + count("SELECT COUNT(*) FROM lead_import_rejections"), records);

  // SIGKILL in the middle of the resumed run: what was committed stays, nothing half-done.
  handle =
      Poco::Process::launch(Daemon::binary(), importArgs(file, "10"), nullptr, nullptr, nullptr);
  while (count("SELECT COUNT(*) FROM leads") < done + 100)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::kill(handle.id(), SIGKILL);
  handle.wait();
  EXPECT_LT(count("SELECT COUNT(*) FROM leads"), rows);

  std::string err;
  ASSERT_EQ(daemon_->runCli({"import", "leads", file, "--source", "big"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("resumed and finished 12000 rows"), std::string::npos) << out;
  EXPECT_NE(out.find("11988 created, 0 merged, 0 unchanged, 12 rejected"), std::string::npos)
      << out;
  EXPECT_EQ(count("SELECT COUNT(*) FROM leads"), rows - 12);
  EXPECT_EQ(count("SELECT COUNT(*) FROM timeline WHERE kind = 'lead.captured'"), rows - 12);
  EXPECT_EQ(count("SELECT COUNT(*) FROM outbox WHERE type = 'lead.captured'"), rows - 12);
  // The report holds each rejected row once, in order, however many runs it took.
  std::istringstream report(read(file + ".errors.csv"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(report, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 13u);
  for (int k = 0; k < 12; ++k) {
    const std::string row = std::to_string(k * 1000 + 7);
    EXPECT_TRUE(lines[k + 1].starts_with(row + "," + row + ",email: is not an email address,'=" +
                                         std::to_string(k * 1000 + 5) + "#list"))
        << lines[k + 1];
  }
}

CICLO_ON_BOTH_BACKENDS(Import);

}  // namespace
}  // namespace ciclo::testing
