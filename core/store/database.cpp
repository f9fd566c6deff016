#include "store/database.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/PostgreSQL/PostgreSQLException.h>
#include <Poco/Data/RecordSet.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>
#include <pthread.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "store/wal_writes.h"

namespace ciclo::store {

using Poco::Data::Keywords::use;

std::string text(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  return {};
}

std::int64_t integer(const SqlValue& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* s = std::get_if<std::string>(&v)) {
    try {
      return std::stoll(*s);
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

bool isNull(const SqlValue& v) {
  return std::holds_alternative<std::monostate>(v);
}

namespace {

Poco::Logger& log() {
  return Poco::Logger::get("ciclo.store");
}

// The statement binds references: `params` must outlive its execution.
void bindAll(Poco::Data::Statement& stmt, Params& params) {
  for (auto& p : params) {
    if (auto* i = std::get_if<std::int64_t>(&p)) {
      stmt.addBind(use(*i));
    } else if (auto* s = std::get_if<std::string>(&p)) {
      stmt.addBind(use(*s));
    } else {
      stmt.addBind(use(Poco::Data::Keywords::null));
    }
  }
}

}  // namespace

// A statement prepared once, with the values it is bound to by reference: executing it again
// means assigning new values of the same types and calling execute().
struct Connection::Prepared {
  Params values;
  std::unique_ptr<Poco::Data::Statement> statement;
};

// An SQLite statement prepared once, with the index of each $N placeholder.
struct Connection::SqliteStatement {
  sqlite3_stmt* stmt = nullptr;
  std::vector<int> slots;  // slots[i]: the parameter index of $(i+1), 0 when unused
  ~SqliteStatement() { sqlite3_finalize(stmt); }
};

Connection::Connection(Backend backend, std::unique_ptr<Poco::Data::Session> session)
    : backend_(backend), session_(std::move(session)) {
  if (backend_ != Backend::kSqlite) return;
  // Counts the WAL's frames at each commit. Setting a WAL hook also turns SQLite's automatic
  // checkpoints off: the store's checkpointer and writer do them (Store::runBatch).
  sqlite3_wal_hook(
      Poco::Data::SQLite::Utility::dbHandle(*session_),
      [](void* self, sqlite3*, const char*, int frames) {
        static_cast<Connection*>(self)->walFrames_ = frames;
        return SQLITE_OK;
      },
      this);
}

int Connection::checkpointWal() {
  if (backend_ != Backend::kSqlite) return 0;
  sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(*session_);
  int copied = 0;
  const int rc =
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, &copied);
  if (rc == SQLITE_BUSY) return 0;
  if (rc != SQLITE_OK) Poco::Data::SQLite::Utility::throwException(db, rc);
  walFrames_ = 0;
  return std::max(0, copied);
}

Connection::~Connection() {
  // Statements go before their session.
  prepared_.clear();
  sqlite_.clear();
}

Connection::SqliteStatement& Connection::prepareSqlite(const std::string& sql,
                                                       const Params& params) {
  if (auto it = sqlite_.find(sql); it != sqlite_.end()) return *it->second;
  constexpr std::size_t kMaxPrepared = 512;  // dynamic filters make a bounded number of shapes
  if (sqlite_.size() >= kMaxPrepared) sqlite_.clear();
  sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(*session_);
  auto prepared = std::make_unique<SqliteStatement>();
  const int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size() + 1),
                                    &prepared->stmt, nullptr);
  if (rc != SQLITE_OK) Poco::Data::SQLite::Utility::throwException(db, rc);
  for (std::size_t i = 1; i <= params.size(); ++i) {
    prepared->slots.push_back(
        sqlite3_bind_parameter_index(prepared->stmt, ("$" + std::to_string(i)).c_str()));
  }
  return *sqlite_.emplace(sql, std::move(prepared)).first->second;
}

std::size_t Connection::runSqlite(const std::string& sql, const Params& params,
                                  std::vector<Row>* rows) {
  sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(*session_);
  auto& prepared = prepareSqlite(sql, params);
  sqlite3_stmt* stmt = prepared.stmt;
  // Reset on every way out, so that a finished statement never pins a read snapshot.
  struct Reset {
    sqlite3_stmt* stmt;
    ~Reset() {
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
    }
  } reset{stmt};
  for (std::size_t i = 0; i < params.size() && i < prepared.slots.size(); ++i) {
    const int slot = prepared.slots[i];
    if (slot == 0) continue;
    const auto& p = params[i];
    int rc;
    if (const auto* n = std::get_if<std::int64_t>(&p)) {
      rc = sqlite3_bind_int64(stmt, slot, *n);
    } else if (const auto* text = std::get_if<std::string>(&p)) {
      rc = sqlite3_bind_text(stmt, slot, text->data(), static_cast<int>(text->size()),
                             SQLITE_STATIC);
    } else {
      rc = sqlite3_bind_null(stmt, slot);
    }
    if (rc != SQLITE_OK) Poco::Data::SQLite::Utility::throwException(db, rc);
  }
  for (;;) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) Poco::Data::SQLite::Utility::throwException(db, rc);
    if (!rows) continue;
    const int columns = sqlite3_column_count(stmt);
    Row row;
    row.reserve(static_cast<std::size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_NULL:
          row.emplace_back(std::monostate{});
          break;
        case SQLITE_INTEGER:
          row.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(stmt, c)));
          break;
        default: {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          row.emplace_back(
              std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, c))));
        }
      }
    }
    rows->push_back(std::move(row));
  }
  return static_cast<std::size_t>(sqlite3_changes(db));
}

Connection::Prepared& Connection::prepare(const std::string& sql, Params& params) {
  // A NULL is bound differently from a value, so the types are part of the key.
  std::string key;
  key.reserve(params.size() + 1 + sql.size());
  for (const auto& p : params) key += "nis"[p.index()];
  key += '|';
  key += sql;
  if (auto it = prepared_.find(key); it != prepared_.end()) {
    auto& prepared = *it->second;
    for (std::size_t i = 0; i < params.size(); ++i) prepared.values[i] = std::move(params[i]);
    return prepared;
  }
  constexpr std::size_t kMaxPrepared = 512;  // dynamic filters make a bounded number of shapes
  if (prepared_.size() >= kMaxPrepared) prepared_.clear();
  auto prepared = std::make_unique<Prepared>();
  prepared->values = std::move(params);
  prepared->statement = std::make_unique<Poco::Data::Statement>(*session_);
  *prepared->statement << sql;
  bindAll(*prepared->statement, prepared->values);
  return *prepared_.emplace(std::move(key), std::move(prepared)).first->second;
}

std::size_t Connection::exec(const std::string& sql, Params params) {
  if (backend_ == Backend::kSqlite) return runSqlite(sql, params, nullptr);
  auto& prepared = prepare(sql, params);
  try {
    return prepared.statement->execute();
  } catch (...) {
    prepared_.clear();  // a statement that failed midway is not trusted again
    throw;
  }
}

std::vector<Row> Connection::query(const std::string& sql, Params params) {
  std::vector<Row> rows;
  if (backend_ == Backend::kSqlite) {
    runSqlite(sql, params, &rows);
    return rows;
  }
  auto& prepared = prepare(sql, params);
  try {
    prepared.statement->execute();
    Poco::Data::RecordSet rs(*prepared.statement);
    const std::size_t columns = rs.columnCount();
    rows.reserve(rs.rowCount());
    for (std::size_t r = 0, n = rs.rowCount(); r < n; ++r) {
      Row row;
      row.reserve(columns);
      for (std::size_t c = 0; c < columns; ++c) {
        if (rs.isNull(c, r)) {
          row.emplace_back(std::monostate{});
          continue;
        }
        const Poco::Dynamic::Var v = rs.value(c, r);
        if (v.isInteger()) {
          row.emplace_back(v.convert<Poco::Int64>());
        } else {
          row.emplace_back(v.convert<std::string>());
        }
      }
      rows.push_back(std::move(row));
    }
  } catch (...) {
    prepared_.clear();
    throw;
  }
  return rows;
}

Status guarded(const char* what, const std::function<Status()>& fn) {
  try {
    return fn();
  } catch (const Poco::Data::SQLite::ConstraintViolationException& e) {
    log().warning("%s: constraint violated: %s", std::string(what), e.displayText());
    return Error::conflict("the change conflicts with a concurrent one; retry");
  } catch (const Poco::Data::SQLite::DBLockedException& e) {
    log().warning("%s: database busy: %s", std::string(what), e.displayText());
    return Error::retryable("the store is busy; retry");
  } catch (const Poco::Data::SQLite::TableLockedException& e) {
    log().warning("%s: database busy: %s", std::string(what), e.displayText());
    return Error::retryable("the store is busy; retry");
  } catch (const Poco::Data::PostgreSQL::PostgreSQLException& e) {
    const std::string detail = e.displayText();
    log().error("%s: %s", std::string(what), detail);
    if (detail.find("duplicate key") != std::string::npos) {
      return Error::conflict("the change conflicts with a concurrent one; retry");
    }
    return Error::retryable("the store is unavailable; retry");
  } catch (const Poco::Exception& e) {
    log().error("%s: %s", std::string(what), e.displayText());
    return Error::internal("storage error");
  } catch (const std::exception& e) {
    log().error("%s: %s", std::string(what), std::string(e.what()));
    return Error::internal("storage error");
  }
}

std::string pgConnectionString(const std::string& url) {
  std::string rest;
  for (const char* scheme : {"postgresql://", "postgres://"}) {
    if (url.starts_with(scheme)) rest = url.substr(std::string_view(scheme).size());
  }
  if (rest.empty()) return {};
  auto decode = [](std::string_view s, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '%') {
        out += s[i];
        continue;
      }
      if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        return false;
      }
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    }
    return true;
  };
  std::string out;
  auto add = [&](std::string_view key, std::string_view raw) {
    std::string value;
    if (raw.empty()) return true;
    if (!decode(raw, value)) return false;
    std::string quoted;
    for (char ch : value) {
      if (ch == '\\' || ch == '\'') quoted += '\\';
      quoted += ch;
    }
    out += (out.empty() ? "" : " ") + std::string(key) + "='" + quoted + "'";
    return true;
  };
  std::string_view r(rest);
  std::string_view query;
  if (const auto q = r.find('?'); q != std::string_view::npos) {
    query = r.substr(q + 1);
    r = r.substr(0, q);
  }
  std::string_view db;
  if (const auto slash = r.find('/'); slash != std::string_view::npos) {
    db = r.substr(slash + 1);
    r = r.substr(0, slash);
  }
  if (const auto at = r.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = r.substr(0, at);
    r = r.substr(at + 1);
    const auto colon = userinfo.find(':');
    if (!add("user", userinfo.substr(0, colon))) return {};
    if (colon != std::string_view::npos && !add("password", userinfo.substr(colon + 1))) return {};
  }
  std::string_view host = r, port;
  if (!r.empty() && r.front() == '[') {  // [::1]:5432
    const auto close = r.find(']');
    if (close == std::string_view::npos) return {};
    host = r.substr(1, close - 1);
    if (close + 1 < r.size() && r[close + 1] == ':') port = r.substr(close + 2);
  } else if (const auto colon = r.rfind(':'); colon != std::string_view::npos) {
    host = r.substr(0, colon);
    port = r.substr(colon + 1);
  }
  if (!add("host", host) || !add("port", port) || !add("dbname", db)) return {};
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) return {};
    const auto key = pair.substr(0, eq);
    if (!std::all_of(key.begin(), key.end(), [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
        })) {
      return {};
    }
    if (!add(key, pair.substr(eq + 1))) return {};
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  return out.empty() ? std::string("host='localhost'") : out;
}

Store::Store(Backend backend, const StoreConfig& config) : backend_(backend), config_(config) {}

Result<std::unique_ptr<Store>> Store::open(const StoreConfig& config) {
  static std::once_flag registered;
  std::call_once(registered, [] {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::PostgreSQL::Connector::registerConnector();
  });

  std::string connector, target;
  Backend backend;
  if (config.url.starts_with("sqlite:")) {
    backend = Backend::kSqlite;
    connector = "SQLite";
    target = config.url.substr(7);
    if (target.starts_with("//")) target.erase(0, 2);
    if (target.empty()) return Error::invalid("store.url: sqlite: needs a file path");
  } else if (config.url.starts_with("postgresql://") || config.url.starts_with("postgres://")) {
    backend = Backend::kPostgres;
    connector = "PostgreSQL";
    target = pgConnectionString(config.url);
    if (target.empty()) return Error::invalid("store.url: not a valid postgresql:// URL");
  } else {
    return Error::invalid("store.url: expected sqlite:PATH or postgresql://...");
  }

  std::unique_ptr<Store> store(new Store(backend, config));
  if (auto s = store->connectAll(connector, target); !s.ok()) return s.error();
  store->thread_ = std::thread([s = store.get()] {
    ::pthread_setname_np(::pthread_self(), "ciclo-writer");
    s->writerLoop();
  });
  store->writerId_ = store->thread_.get_id();
  store->answerThread_ = std::thread([s = store.get()] {
    ::pthread_setname_np(::pthread_self(), "ciclo-answers");
    s->answerLoop();
  });
  store->answererId_ = store->answerThread_.get_id();
  if (store->checkpointer_)
    store->checkpointThread_ = std::thread([s = store.get()] {
      ::pthread_setname_np(::pthread_self(), "ciclo-checkpt");
      s->checkpointLoop();
    });
  return store;
}

Status Store::connectAll(const std::string& connector, const std::string& target) {
  if (backend_ == Backend::kSqlite) {
    const Poco::Path parent = Poco::Path(target).parent();
    if (!parent.toString().empty()) {
      try {
        Poco::File(parent).createDirectories();
      } catch (const Poco::Exception& e) {
        return Error::invalid("store.url: cannot create " + parent.toString() + ": " + e.message());
      }
    }
  }
  static const std::array<std::string_view, 4> kLevels{"off", "normal", "full", "extra"};
  if (backend_ == Backend::kSqlite &&
      std::find(kLevels.begin(), kLevels.end(), config_.sqlite_synchronous) == kLevels.end()) {
    return Error::invalid("store.sqlite_synchronous: expected off, normal, full or extra");
  }
  // The writer gathers its WAL writes into a few system calls per commit where each commit
  // syncs the WAL (store/wal_writes.h).
  const bool gatherWal = backend_ == Backend::kSqlite && (config_.sqlite_synchronous == "full" ||
                                                          config_.sqlite_synchronous == "extra");
  auto connect = [&](bool writer) -> std::unique_ptr<Connection> {
    auto session = std::make_unique<Poco::Data::Session>(
        connector, writer && gatherWal ? walGatheringUri(target) : target);
    auto c = std::make_unique<Connection>(backend_, std::move(session));
    if (backend_ == Backend::kSqlite) {
      c->query("PRAGMA busy_timeout=10000");
      if (writer) {
        c->query("PRAGMA journal_mode=WAL");
        c->exec("PRAGMA synchronous=" + config_.sqlite_synchronous);
        c->exec("PRAGMA foreign_keys=ON");
        // A group commit dirties many pages; a cache that holds them all keeps SQLite from
        // spilling them to the WAL halfway through the transaction.
        c->exec("PRAGMA cache_size=-65536");
        // Each request runs in a savepoint, so SQLite keeps the pages it changes in a
        // sub-journal to roll back to; in memory that costs a copy, in a temporary file a write
        // system call for every page of every request.
        c->exec("PRAGMA temp_store=MEMORY");
      }
    } else {
      c->exec("SET TIME ZONE 'UTC'");
      c->exec("SET client_min_messages TO WARNING");
    }
    return c;
  };
  Status status = guarded("connect", [&] {
    writer_ = connect(true);
    auto applied = migrate(*writer_);
    if (!applied.ok()) return applied.status();
    for (int i = 0; i < std::max(1, config_.read_connections); ++i)
      readers_.push_back(connect(false));
    if (backend_ == Backend::kSqlite) checkpointer_ = connect(false);
    return Status();
  });
  if (!status.ok() && status.error().kind != ErrorKind::kInvalid) {
    return Error::retryable(
        "cannot open the store at " +
        (backend_ == Backend::kSqlite ? target : std::string("the PostgreSQL URL")) +
        " (see the log)");
  }
  return status;
}

Store::~Store() {
  close();
}

void Store::close() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  queued_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (answerThread_.joinable()) answerThread_.join();
  checkpointWake_.notify_all();
  if (checkpointThread_.joinable()) checkpointThread_.join();
}

void Store::checkpointLoop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    checkpointWake_.wait_for(lock, std::chrono::milliseconds(250),
                             [&] { return stopping_ || checkpointDue_; });
    const bool stop = stopping_;
    checkpointDue_ = false;
    lock.unlock();
    // PASSIVE copies what no reader still needs and never blocks the writer or readers.
    (void)guarded("checkpoint", [&] {
      std::lock_guard pass(checkpointPass_);
      // busy, frames in the WAL, frames copied
      const auto counts = checkpointer_->query(stop ? "PRAGMA wal_checkpoint(TRUNCATE)"
                                                    : "PRAGMA wal_checkpoint(PASSIVE)");
      if (!counts.empty() && counts[0].size() == 3)
        walBackfilled_ = static_cast<int>(integer(counts[0][2]));
      return Status();
    });
    lock.lock();
    if (stop) return;
  }
}

Status Store::write(Work work, Repeat repeat) {
  if (onStoreThread())
    return Error::internal("a write cannot wait for the writer on the store's own threads");
  struct Waiter {
    std::mutex mutex;
    std::condition_variable committed;
    std::optional<Status> result;
  } waiter;
  submit(std::move(work), repeat, [&waiter](Status status) {
    // Notified under the lock: once it is released the caller may return and end `waiter`.
    std::lock_guard lock(waiter.mutex);
    waiter.result = std::move(status);
    waiter.committed.notify_one();
  });
  std::unique_lock lock(waiter.mutex);
  waiter.committed.wait(lock, [&] { return waiter.result.has_value(); });
  return std::move(*waiter.result);
}

void Store::submit(Work work, Repeat repeat, std::function<void(Status)> then) {
  auto pending = std::make_shared<Pending>();
  pending->work = std::move(work);
  pending->repeat = repeat;
  pending->then = std::move(then);
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(pending));
      pending = nullptr;
    }
  }
  if (pending) return pending->then(Error::retryable("the store is shutting down"));
  queued_.notify_one();
}

void Store::writerLoop() {
  std::vector<std::shared_ptr<Pending>> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping, and everything queued is committed
      const auto n = std::min<std::size_t>(
          queue_.size(), static_cast<std::size_t>(std::max(1, config_.max_batch)));
      batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    const bool committed = runBatch(batch);
    {
      std::lock_guard lock(mutex_);
      ++stats_.commits;
      stats_.writes += batch.size();
    }
    {
      std::lock_guard lock(answersMutex_);
      answers_.insert(answers_.end(), std::make_move_iterator(batch.begin()),
                      std::make_move_iterator(batch.end()));
    }
    toAnswer_.notify_one();
    batch.clear();
    if (commitListener_) commitListener_();
    // The batch is answered meanwhile: its callers do not wait for the WAL to be copied.
    if (committed) keepWalBounded(*writer_);
  }
  {
    std::lock_guard lock(answersMutex_);
    writerEnded_ = true;
  }
  toAnswer_.notify_one();
}

void Store::answerLoop() {
  std::vector<std::shared_ptr<Pending>> batch;
  for (;;) {
    {
      std::unique_lock lock(answersMutex_);
      toAnswer_.wait(lock, [&] { return writerEnded_ || !answers_.empty(); });
      if (answers_.empty()) return;  // the writer has ended, and everything is answered
      batch.swap(answers_);
    }
    for (auto& p : batch) {
      (void)guarded("after commit", [&] {
        p->then(std::move(p->result));
        return Status();
      });
    }
    batch.clear();  // each write's work and captures are let go of here, not on the writer
  }
}

bool Store::runBatch(std::vector<std::shared_ptr<Pending>>& batch) {
  Connection& c = *writer_;
  // IMMEDIATE takes SQLite's write lock up front, so a second process (the admin CLI) waits
  // in the busy handler instead of failing on a lock upgrade halfway through the batch.
  Status begun = guarded("begin", [&] {
    c.exec(backend_ == Backend::kSqlite ? "BEGIN IMMEDIATE" : "BEGIN");
    return Status();
  });
  if (!begun.ok()) {
    for (auto& p : batch) p->result = begun;
    return false;
  }
  bool intact = true;  // false when a savepoint could not be ended: the batch rolls back
  for (std::size_t i = 0; i < batch.size() && intact;) {
    std::size_t end = i + 1;
    if (batch[i]->repeat == Repeat::kRepeatable) {
      while (end < batch.size() && batch[end]->repeat == Repeat::kRepeatable) ++end;
    }
    const std::span<const std::shared_ptr<Pending>> run(batch.data() + i, end - i);
    i = end;
    if (run.size() > 1 && runTogether(c, run, intact)) continue;
    for (const auto& p : run) intact = intact && runAlone(c, *p);
  }
  Status committed = Error::retryable("a savepoint could not be ended");
  if (intact) {
    committed = guarded("commit", [&] {
      c.exec("COMMIT");
      return Status();
    });
  }
  if (committed.ok()) return true;
  (void)guarded("rollback", [&] {
    c.exec("ROLLBACK");
    return Status();
  });
  for (auto& p : batch) {
    if (p->result.ok()) p->result = Error::retryable("the change could not be committed; retry");
  }
  return false;
}

// Runs repeatable works under one savepoint; true when they all succeeded and are kept. When
// one fails, the run's changes are rolled back and it is up to the caller to run each again;
// `intact` turns false when the savepoint could not be ended, leaving the transaction in doubt.
bool Store::runTogether(Connection& c, std::span<const std::shared_ptr<Pending>> run,
                        bool& intact) {
  Status begun = guarded("savepoint", [&] {
    c.exec("SAVEPOINT r");
    return Status();
  });
  if (!begun.ok()) return false;
  bool ok = true;
  for (const auto& p : run) {
    p->result = guarded("write", [&] { return p->work(c); });
    if (!p->result.ok()) {
      ok = false;
      break;
    }
  }
  Status ended = guarded("savepoint end", [&] {
    if (!ok) c.exec("ROLLBACK TO SAVEPOINT r");
    c.exec("RELEASE SAVEPOINT r");
    return Status();
  });
  if (!ended.ok()) intact = false;
  return ok && ended.ok();
}

// Runs one work under its own savepoint: its failure rolls back its own changes only. False
// when the savepoint could not be ended, which leaves the transaction in doubt.
bool Store::runAlone(Connection& c, Pending& p) {
  Status begun = guarded("savepoint", [&] {
    c.exec("SAVEPOINT w");
    return Status();
  });
  if (!begun.ok()) {
    p.result = begun;
    return true;
  }
  p.result = guarded("write", [&] { return p.work(c); });
  Status ended = guarded("savepoint end", [&] {
    if (!p.result.ok()) c.exec("ROLLBACK TO SAVEPOINT w");
    c.exec("RELEASE SAVEPOINT w");
    return Status();
  });
  return ended.ok();
}

// The background checkpointer copies the WAL into the database while the writer appends to
// it, so under steady load it never reaches the WAL's end and the WAL would grow without
// bound. Past a size, the writer copies the last stretch itself between two batches: the WAL
// is then fully copied and the next write starts it again from the beginning. The batches
// that arrive meanwhile wait for that copy, so it must be short: below the size the
// checkpointer is woken at each further quarter of it; past the size it is kept going, pass
// after pass, until the stretch it leaves behind is short (a sixteenth of the size). The
// writer copies that stretch once no background pass is running - or, should the
// checkpointer fall behind, once the WAL has reached twice the size.
void Store::keepWalBounded(Connection& c) {
  if (!checkpointer_) return;  // SQLite only
  constexpr int kWakes = 4;
  const int restartAt = std::max(kWakes, config_.sqlite_wal_restart_pages);
  const int frames = c.walFrames();
  const int reached = frames / (restartAt / kWakes);
  // A count from before the WAL last started again is no count of this one's.
  const int copied = walBackfilled_;
  const int backfilled = copied <= frames ? copied : 0;
  const bool past = frames > restartAt;
  const bool longTail = frames - backfilled > restartAt / 16;
  if ((reached > walWakesSignalled_ && reached < kWakes) || (past && longTail)) {
    {
      std::lock_guard lock(mutex_);
      checkpointDue_ = true;
    }
    checkpointWake_.notify_one();
  }
  walWakesSignalled_ = reached;
  if (!past) return;
  const bool overdue = frames > 2 * restartAt;
  if (longTail && !overdue) return;
  std::unique_lock pass(checkpointPass_, std::defer_lock);
  if (overdue) {
    pass.lock();
  } else if (!pass.try_lock()) {
    return;  // the checkpointer's pass ends soon, and it is not woken again meanwhile
  }
  (void)guarded("checkpoint", [&] {
    walBackfilled_ = c.checkpointWal();
    return Status();
  });
}

std::unique_ptr<Connection> Store::acquireReader() {
  std::unique_lock lock(readersMutex_);
  readerFree_.wait(lock, [&] { return !readers_.empty(); });
  auto c = std::move(readers_.back());
  readers_.pop_back();
  return c;
}

void Store::releaseReader(std::unique_ptr<Connection> c) {
  {
    std::lock_guard lock(readersMutex_);
    readers_.push_back(std::move(c));
  }
  readerFree_.notify_one();
}

Status Store::read(const Work& fn) {
  auto c = acquireReader();
  Status s = guarded("read", [&] { return fn(*c); });
  releaseReader(std::move(c));
  return s;
}

int Store::effectiveSqliteSynchronousForTest() {
  if (backend_ != Backend::kSqlite) return -1;
  int level = -1;
  Status s = write([&](Connection& c) {
    level = static_cast<int>(integer(c.query("PRAGMA synchronous").at(0).at(0)));
    return Status();
  });
  return s.ok() ? level : -1;
}

std::size_t Store::queueDepth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

Store::Stats Store::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace ciclo::store
