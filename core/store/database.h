#pragma once
// The store: Poco::Data sessions over SQLite (the embedded default, WAL) or PostgreSQL,
// selected by a URL. Writes go through one writer that batches concurrent requests into
// group commits: each request's work runs in its own savepoint inside a shared transaction,
// and every caller is answered only after that transaction is durably committed.
// Poco exceptions stop here and become Status values.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "domain/result.h"

namespace Poco::Data {
class Session;
}

namespace ciclo::store {

enum class Backend { kSqlite, kPostgres };

using SqlValue = std::variant<std::monostate, std::int64_t, std::string>;
using Row = std::vector<SqlValue>;
using Params = std::vector<SqlValue>;

std::string text(const SqlValue& v);      // "" for NULL
std::int64_t integer(const SqlValue& v);  // 0 for NULL
bool isNull(const SqlValue& v);

struct StoreConfig {
  std::string url = "sqlite:var/ciclo.db";  // or postgresql://user@host:port/db
  // SQLite's synchronous level: off, normal, full, extra. FULL loses no committed
  // transaction on power loss in WAL mode.
  std::string sqlite_synchronous = "full";
  int read_connections = 4;
  int max_batch = 256;  // the most requests one group commit carries
  // SQLite: past this many pages in the WAL, the writer finishes the checkpoint itself so
  // that the WAL starts again from its beginning (32 MiB at the default page size).
  int sqlite_wal_restart_pages = 8192;
};

// One database session; used by one thread at a time. Placeholders are $1, $2, ...
// Statements are prepared once per connection and reused: preparing costs more than most
// of our statements take to run. On SQLite they run on the sqlite3 handle of Poco's session
// (Poco 1.11 prepares an SQLite statement again at every execution); on PostgreSQL through
// Poco::Data statements, which keep theirs.
class Connection {
 public:
  Connection(Backend backend, std::unique_ptr<Poco::Data::Session> session);
  ~Connection();
  Backend backend() const { return backend_; }
  // Returns the number of rows changed. Throws Poco::Exception; the Store catches.
  std::size_t exec(const std::string& sql, Params params = {});
  std::vector<Row> query(const std::string& sql, Params params = {});
  Poco::Data::Session& session() { return *session_; }

  // SQLite: the frames in the WAL after this connection's last commit (0 elsewhere).
  int walFrames() const { return walFrames_; }
  // SQLite: checkpoints what no reader still needs, without waiting; when it reaches the end
  // of the WAL, the next write starts the WAL again from its beginning. When another
  // process's checkpoint is running it does nothing: the next commit asks again. Returns the
  // WAL's frames now copied into the database (0 elsewhere).
  int checkpointWal();

 private:
  struct Prepared;
  struct SqliteStatement;
  Prepared& prepare(const std::string& sql, Params& params);
  SqliteStatement& prepareSqlite(const std::string& sql, const Params& params);
  std::size_t runSqlite(const std::string& sql, const Params& params, std::vector<Row>* rows);

  Backend backend_;
  std::unique_ptr<Poco::Data::Session> session_;
  int walFrames_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Prepared>> prepared_;
  std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> sqlite_;
};

using Work = std::function<Status(Connection&)>;

// Whether a write's work may run again after its changes were rolled back. A repeatable work
// sets its outputs afresh at each run and changes nothing outside the connection: it counts,
// logs and sends nothing.
enum class Repeat { kOnce, kRepeatable };

class Store {
 public:
  // Opens the database, applies pending migrations and starts the writer.
  static Result<std::unique_ptr<Store>> open(const StoreConfig& config);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Backend backend() const { return backend_; }

  // Runs `work` inside the writer's transaction and returns once it is committed. When the
  // work returns an error or throws, its own changes are rolled back and the others in the
  // batch are unaffected: each work runs in a savepoint of its own. Repeatable works that
  // follow one another in a batch share one savepoint instead; when one of them fails, they
  // are rolled back together and run again, each in its own.
  Status write(Work work, Repeat repeat = Repeat::kOnce);

  // As write(), without waiting: `then` is called with the outcome once the batch that
  // carried the work is committed (or failed), on the store's answering thread, in commit
  // order - or at once, with a retryable error, when the store is stopping. It must be quick
  // and never block: the outcomes of later batches wait for it. write() is submit() and a wait.
  void submit(Work work, Repeat repeat, std::function<void(Status)> then);

  // Whether this is one of the store's own threads - the writer's, or the answering thread
  // that runs each `then` of submit() - where waiting for a write would never end: write()
  // refuses there, and so must anything else that waits for one.
  bool onStoreThread() const {
    const auto self = std::this_thread::get_id();
    return self == writerId_ || self == answererId_;
  }

  // Runs `fn` on a read connection; it sees what is committed.
  Status read(const Work& fn);

  // Called on the writer thread after every commit; must be quick (e.g. wake a thread).
  void setCommitListener(std::function<void()> listener) { commitListener_ = std::move(listener); }

  // Stops taking writes, commits what is queued, and joins the writer.
  void close();

  // The value of SQLite's `PRAGMA synchronous` on the writer connection (0..3), -1 otherwise.
  int effectiveSqliteSynchronousForTest();

  // Writes queued and not yet taken by the writer.
  std::size_t queueDepth() const;

  struct Stats {
    std::uint64_t commits = 0;
    std::uint64_t writes = 0;
  };
  Stats stats() const;

 private:
  // One write in the queue. Its caller sleeps on a condition of its own, so that a commit
  // wakes exactly the callers whose work it carried. (Not std::atomic::wait: libstdc++ spins
  // on sched_yield before it sleeps, which with many callers costs more than the futex.)
  struct Pending {
    Work work;
    Repeat repeat = Repeat::kOnce;
    Status result;
    std::function<void(Status)> then;  // told the result once the batch is committed
  };

  Store(Backend backend, const StoreConfig& config);
  Status connectAll(const std::string& connector, const std::string& target);
  void writerLoop();
  bool runBatch(std::vector<std::shared_ptr<Pending>>& batch);  // true when committed
  void answerLoop();
  bool runTogether(Connection& c, std::span<const std::shared_ptr<Pending>> run, bool& intact);
  bool runAlone(Connection& c, Pending& p);
  void keepWalBounded(Connection& c);  // after each commit, on the writer
  std::unique_ptr<Connection> acquireReader();
  void releaseReader(std::unique_ptr<Connection> c);

  Backend backend_;
  StoreConfig config_;
  std::unique_ptr<Connection> writer_;

  mutable std::mutex mutex_;
  std::condition_variable queued_;
  std::deque<std::shared_ptr<Pending>> queue_;
  bool stopping_ = false;
  Stats stats_;
  std::function<void()> commitListener_;
  std::thread thread_;
  std::thread::id writerId_;  // thread_'s, kept apart from it: set once, before any write

  // Committed batches are answered - each write's `then` run, and the write let go of - on a
  // thread of their own, so that the writer goes on to the next batch at once: it is the one
  // thread every write passes through.
  std::mutex answersMutex_;
  std::condition_variable toAnswer_;
  std::vector<std::shared_ptr<Pending>> answers_;  // committed or failed, in commit order
  bool writerEnded_ = false;                       // under answersMutex_
  std::thread answerThread_;
  std::thread::id answererId_;  // as writerId_

  // SQLite: the WAL is copied back into the database by a thread of its own, not by the
  // writer at the end of a commit.
  void checkpointLoop();
  std::unique_ptr<Connection> checkpointer_;
  std::thread checkpointThread_;
  std::condition_variable checkpointWake_;
  std::mutex checkpointPass_;   // held by each checkpoint pass, background or writer's
  bool checkpointDue_ = false;  // under mutex_
  int walWakesSignalled_ = 0;   // writer thread only
  // The WAL's frames copied into the database as of the last pass, set under checkpointPass_.
  std::atomic<int> walBackfilled_ = 0;

  std::mutex readersMutex_;
  std::condition_variable readerFree_;
  std::vector<std::unique_ptr<Connection>> readers_;
};

// The libpq keyword/value form ("host='h' port='5432' ...") of a postgresql:// URL, which
// Poco's connector requires; empty when the URL is malformed.
std::string pgConnectionString(const std::string& url);

// Applies the numbered migrations not yet applied; returns how many ran.
Result<int> migrate(Connection& c);
int latestMigration();

// Runs `fn`, turning any exception into a Status. `what` names the operation for the log.
Status guarded(const char* what, const std::function<Status()>& fn);

}  // namespace ciclo::store
