// The WAL-gathering VFS: a commit reaches the WAL in a few write system calls, is in the file
// when COMMIT returns, and nothing SQLite relies on changes - readers, rollbacks, recovery.
#include "store/wal_writes.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

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
  void exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << sql << ": " << (error ? error : "");
    sqlite3_free(error);
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
    db.exec("BEGIN IMMEDIATE");
    db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
            std::to_string(rows) + ") INSERT INTO t (body) SELECT randomblob(3000) FROM n");
    db.exec(end);
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

}  // namespace
}  // namespace ciclo::store
