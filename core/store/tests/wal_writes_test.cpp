// The WAL-gathering VFS: a commit reaches the WAL in a few write system calls, is in the file
// when COMMIT returns, a commit the file system refuses fails, and nothing SQLite relies on
// changes - readers, rollbacks, recovery.
#include "store/wal_writes.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/test_db.h"

namespace ciclo::store {
namespace {

// This thread's write system calls so far (Linux).
long writeCalls() {
  std::ifstream io("/proc/thread-self/io");
  std::string key;
  long value = 0;
  while (io >> key >> value) {
    if (key == "syscw:") return value;
  }
  ADD_FAILURE() << "no syscw in /proc/thread-self/io";
  return 0;
}

class Db {
 public:
  explicit Db(const std::string& uri) {
    EXPECT_EQ(
        sqlite3_open_v2(uri.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, nullptr),
        SQLITE_OK);
  }
  ~Db() { sqlite3_close(db_); }
  void exec(const std::string& sql) { EXPECT_EQ(run(sql), SQLITE_OK) << sql; }
  // SQLite's result code for `sql`, its message, if any, added to the test's output.
  int run(const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    if (error) ::testing::Test::RecordProperty("sqlite", error);
    sqlite3_free(error);
    return rc;
  }
  std::string one(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW)
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

class WalWritesTest : public ::testing::Test {
 protected:
  std::string dir_ = testing::makeTempDir("ciclo-wal");
  std::string path_ = dir_ + "/w.db";

  static void setUp(Db& db) {
    db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    db.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB)");
  }
  // One transaction of `rows` rows of 3000 bytes: a page or so each.
  static void insert(Db& db, int rows, const std::string& end = "COMMIT") {
    EXPECT_EQ(insertEnding(db, rows, end), SQLITE_OK) << end;
  }
  // As insert(), with the result code of its `end`.
  static int insertEnding(Db& db, int rows, const std::string& end) {
    db.exec("BEGIN IMMEDIATE");
    db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
            std::to_string(rows) + ") INSERT INTO t (body) SELECT randomblob(3000) FROM n");
    return db.run(end);
  }
};

TEST_F(WalWritesTest, ACommitReachesTheWalInAFewWriteSystemCalls) {
  Db gathering(walGatheringUri(path_));
  setUp(gathering);
  long before = writeCalls();
  insert(gathering, 100);
  const long gathered = writeCalls() - before;

  Db plain(path_);  // the same file through SQLite's default VFS, for comparison
  before = writeCalls();
  insert(plain, 100);
  const long unwrapped = writeCalls() - before;

  // 100 pages and more: two write calls a frame unwrapped, a few per 120 KiB gathered.
  EXPECT_GE(unwrapped, 200);
  EXPECT_LE(gathered, 10);
  EXPECT_EQ(plain.one("SELECT count(*) FROM t"), "200");
}

TEST_F(WalWritesTest, ACommitIsInTheWalFileWhenCommitReturns) {
  Db db(walGatheringUri(path_));
  setUp(db);
  insert(db, 150);
  insert(db, 7);
  // What a crash of this process would leave: the files as they are, the connection open.
  const std::string copy = testing::makeTempDir("ciclo-wal-copy") + "/w.db";
  std::filesystem::copy_file(path_, copy);
  std::filesystem::copy_file(path_ + "-wal", copy + "-wal");
  Db recovered(copy);
  EXPECT_EQ(recovered.one("SELECT count(*) FROM t"), "157");
  EXPECT_EQ(recovered.one("PRAGMA integrity_check"), "ok");
}

TEST_F(WalWritesTest, ReadersSeeCommitsOnlyAndARolledBackSpillLeavesNothing) {
  Db db(walGatheringUri(path_));
  setUp(db);
  db.exec("PRAGMA cache_size=10");  // a large transaction spills frames to the WAL before COMMIT
  Db reader(path_);
  insert(db, 20);
  EXPECT_EQ(reader.one("SELECT count(*) FROM t"), "20");

  insert(db, 300, "ROLLBACK");
  EXPECT_EQ(reader.one("SELECT count(*) FROM t"), "20");
  EXPECT_EQ(db.one("SELECT count(*) FROM t"), "20");

  insert(db, 300);
  EXPECT_EQ(reader.one("SELECT count(*) FROM t"), "320");
  EXPECT_EQ(reader.one("PRAGMA integrity_check"), "ok");
  // A checkpoint copies the WAL into the database; the next commit starts the WAL again.
  EXPECT_EQ(db.one("PRAGMA wal_checkpoint(TRUNCATE)"), "0");
  insert(db, 5);
  EXPECT_EQ(reader.one("SELECT count(*) FROM t"), "325");
  EXPECT_EQ(reader.one("PRAGMA integrity_check"), "ok");
}

// A commit's frames are handed to the file only at its sync: when the file refuses them (here
// a file size limit, as a full disk would), COMMIT fails, and the database is as it was.
TEST_F(WalWritesTest, ACommitTheFileRefusesFailsAndLeavesTheDatabaseAsItWas) {
  Db db(walGatheringUri(path_));
  setUp(db);
  insert(db, 10);
  const auto walSize = std::filesystem::file_size(path_ + "-wal");
  const auto dbSize = std::filesystem::file_size(path_);

  // Past the limit a write fails with EFBIG instead of raising SIGXFSZ.
  const auto signalBefore = std::signal(SIGXFSZ, SIG_IGN);
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &limit), 0);
  const rlimit unlimited = limit;
  limit.rlim_cur = static_cast<rlim_t>(std::max(walSize, dbSize) + 64 * 1024);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  const int refused = insertEnding(db, 100, "COMMIT");  // about 400 KiB of frames
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &unlimited), 0);
  std::signal(SIGXFSZ, signalBefore);

  EXPECT_NE(refused, SQLITE_OK);
  if (refused != SQLITE_OK) db.run("ROLLBACK");  // should the transaction still be open
  Db reader(path_);
  EXPECT_EQ(reader.one("SELECT count(*) FROM t"), "10");
  EXPECT_EQ(db.one("SELECT count(*) FROM t"), "10");
  insert(db, 5);  // the connection goes on
  EXPECT_EQ(reader.one("SELECT count(*) FROM t"), "15");
  EXPECT_EQ(reader.one("PRAGMA integrity_check"), "ok");
}

// The URI names the file whatever characters its path holds.
TEST_F(WalWritesTest, APathWithCharactersSpecialToUrisOpensThatFile) {
  std::filesystem::create_directory(dir_ + "/a b%20#?");
  const std::string path = dir_ + "/a b%20#?/w&x=1.db";
  {
    Db db(walGatheringUri(path));
    setUp(db);
    insert(db, 3);
  }
  ASSERT_TRUE(std::filesystem::exists(path));
  Db plain(path);
  EXPECT_EQ(plain.one("SELECT count(*) FROM t"), "3");
}

}  // namespace
}  // namespace ciclo::store
