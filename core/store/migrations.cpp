// The schema, as numbered migrations. A migration is never edited once released; a change
// is a new migration. Statements are written once for both backends, with {{id}} standing
// for an auto-incrementing 64-bit primary key.

#include <Poco/Exception.h>

#include <chrono>

#include "domain/clock.h"
#include "store/database.h"

namespace ciclo::store {

namespace {

struct Migration {
  int version;
  const char* name;
  std::vector<const char*> statements;
};

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all{
      {1,
       "leads, accounts, contacts, timeline, outbox, api keys, idempotency",
       {
           R"(CREATE TABLE leads (
                id TEXT PRIMARY KEY,
                status TEXT NOT NULL,
                email TEXT,
                phone TEXT,
                source TEXT NOT NULL,
                partner TEXT,
                company_domain TEXT,
                account_id TEXT,
                owner TEXT,
                merged_into TEXT,
                doc TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                version BIGINT NOT NULL))",
           // Sparse columns get partial indexes: a lead without a phone or partner costs
           // no index entry, and `col = $1` still finds them.
           "CREATE INDEX leads_email ON leads (email) WHERE email IS NOT NULL",
           "CREATE INDEX leads_phone ON leads (phone) WHERE phone IS NOT NULL",
           "CREATE INDEX leads_status ON leads (status, id)",
           "CREATE INDEX leads_partner ON leads (partner, id) WHERE partner IS NOT NULL",
           "CREATE INDEX leads_updated ON leads (updated_at, id)",
           "CREATE INDEX leads_company_domain ON leads (company_domain) WHERE company_domain IS "
           "NOT NULL",
           R"(CREATE TABLE lead_merges (
                loser_id TEXT PRIMARY KEY,
                winner_id TEXT NOT NULL,
                merged_by TEXT NOT NULL,
                merged_at TEXT NOT NULL))",
           R"(CREATE TABLE accounts (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                domain TEXT UNIQUE,
                doc TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL))",
           R"(CREATE TABLE contacts (
                id TEXT PRIMARY KEY,
                account_id TEXT,
                email TEXT,
                doc TEXT NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL))",
           "CREATE INDEX contacts_account ON contacts (account_id, id)",
           "CREATE INDEX contacts_email ON contacts (email)",
           R"(CREATE TABLE timeline (
                seq {{id}},
                record_id TEXT NOT NULL,
                at TEXT NOT NULL,
                kind TEXT NOT NULL,
                actor TEXT NOT NULL,
                summary TEXT NOT NULL,
                data TEXT NOT NULL))",
           "CREATE INDEX timeline_record ON timeline (record_id, seq)",
           R"(CREATE TABLE outbox (
                seq {{id}},
                id TEXT NOT NULL,
                type TEXT NOT NULL,
                subject_id TEXT NOT NULL,
                partner TEXT,
                created_at TEXT NOT NULL,
                data TEXT NOT NULL))",
           R"(CREATE TABLE consumer_positions (
                consumer TEXT PRIMARY KEY,
                position BIGINT NOT NULL,
                updated_at TEXT NOT NULL))",
           R"(CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                scopes TEXT NOT NULL,
                secret_hash TEXT NOT NULL,
                created_at TEXT NOT NULL,
                revoked_at TEXT))",
           R"(CREATE TABLE idempotency_keys (
                scope TEXT NOT NULL,
                idem_key TEXT NOT NULL,
                request_hash TEXT NOT NULL,
                status BIGINT NOT NULL,
                body TEXT NOT NULL,
                created_at TEXT NOT NULL,
                PRIMARY KEY (scope, idem_key)))",
           "CREATE INDEX idempotency_created ON idempotency_keys (created_at)",
       }},
      {2,
       "outbound webhook endpoints and deliveries",
       {
           R"(CREATE TABLE webhook_endpoints (
                id TEXT PRIMARY KEY,
                url TEXT NOT NULL,
                event_types TEXT NOT NULL,
                partner TEXT,
                description TEXT NOT NULL,
                secret_sealed TEXT NOT NULL,
                status TEXT NOT NULL,
                disabled_reason TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL))",
           R"(CREATE TABLE webhook_deliveries (
                id TEXT PRIMARY KEY,
                endpoint_id TEXT NOT NULL,
                event_id TEXT NOT NULL,
                event_seq BIGINT NOT NULL,
                status TEXT NOT NULL,
                attempts BIGINT NOT NULL,
                next_attempt_at TEXT NOT NULL,
                last_status BIGINT,
                last_error TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                UNIQUE (endpoint_id, event_id)))",
           "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE "
           "status = 'pending'",
           "CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id)",
       }},
      {3,
       "sellers' activities on records",
       {
           R"(CREATE TABLE activities (
                id TEXT PRIMARY KEY,
                record_id TEXT NOT NULL,
                parent_id TEXT,
                type TEXT NOT NULL,
                doc TEXT NOT NULL,
                created_at TEXT NOT NULL))",
           "CREATE INDEX activities_record ON activities (record_id, id)",
           "CREATE INDEX activities_parent ON activities (parent_id) WHERE parent_id IS NOT NULL",
       }},
      {4,
       "plugins' own migrations",
       {
           R"(CREATE TABLE plugin_migrations (
                plugin TEXT NOT NULL,
                version BIGINT NOT NULL,
                applied_at TEXT NOT NULL,
                PRIMARY KEY (plugin, version)))",
       }},
      {5,
       "bulk imports of lead lists, resumable, with their rejected rows",
       {
           // One file under one list name and partner is one import; records_done is the
           // last CSV record committed (the header is record 1).
           R"(CREATE TABLE lead_imports (
                id TEXT PRIMARY KEY,
                file_sha256 TEXT NOT NULL,
                file_name TEXT NOT NULL,
                source TEXT NOT NULL,
                partner TEXT NOT NULL,
                status TEXT NOT NULL,
                records_done BIGINT NOT NULL,
                created BIGINT NOT NULL,
                merged BIGINT NOT NULL,
                unchanged BIGINT NOT NULL,
                rejected BIGINT NOT NULL,
                started_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                UNIQUE (file_sha256, source, partner)))",
           R"(CREATE TABLE lead_import_rejections (
                import_id TEXT NOT NULL,
                record BIGINT NOT NULL,
                line BIGINT NOT NULL,
                errors TEXT NOT NULL,
                fields TEXT NOT NULL,
                PRIMARY KEY (import_id, record)))",
       }},
      {6,
       "lead lookups by email or phone read their answer in id order from the index",
       {
           // A capture looks for the oldest live lead with the email (else phone): with the
           // id in the index, that is the first entry, not a sort of every match.
           "CREATE INDEX leads_email_id ON leads (email, id) WHERE email IS NOT NULL",
           "DROP INDEX leads_email",
           "CREATE INDEX leads_phone_id ON leads (phone, id) WHERE phone IS NOT NULL",
           "DROP INDEX leads_phone",
       }},
      {7,
       "lead scoring: the lead's own interactions and the ledger of its points",
       {
           // What the lead did (pages, downloads, emails...), apart from sellers' activities.
           "CREATE TABLE interactions (id TEXT PRIMARY KEY, lead_id TEXT NOT NULL, type TEXT NOT "
           "NULL, occurred_at TEXT NOT NULL, doc TEXT NOT NULL, created_at TEXT NOT NULL)",
           "CREATE INDEX interactions_lead ON interactions (lead_id, occurred_at, id)",
           // Every change of the points a rule gave a lead, with its cause; append only.
           "CREATE TABLE score_ledger (seq {{id}}, lead_id TEXT NOT NULL, recorded_at TEXT NOT "
           "NULL, reason TEXT NOT NULL, rule TEXT NOT NULL, fit INTEGER NOT NULL, cause TEXT NOT "
           "NULL, points INTEGER NOT NULL, awarded_at TEXT, half_life_seconds INTEGER NOT NULL)",
           "CREATE INDEX score_ledger_lead ON score_ledger (lead_id, seq)",
       }},
      {8,
       "the daemon's own state: the scoring rules every lead was last scored with",
       {
           "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
       }},
      {9,
       "leads are not looked up by company domain",
       {
           // Accounts are matched by their own unique domain; this index only cost every
           // capture an index entry and pages to write.
           "DROP INDEX leads_company_domain",
       }},
  };
  return all;
}

std::string dialect(std::string sql, Backend backend) {
  const std::string token = "{{id}}";
  const std::string replacement =
      backend == Backend::kSqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY";
  for (auto pos = sql.find(token); pos != std::string::npos; pos = sql.find(token, pos)) {
    sql.replace(pos, token.size(), replacement);
  }
  return sql;
}

// Serialises concurrent migrators on one PostgreSQL database (several ciclod instances).
constexpr const char* kMigrationLock = "SELECT pg_advisory_lock(727349001)";
constexpr const char* kMigrationUnlock = "SELECT pg_advisory_unlock(727349001)";

}  // namespace

int latestMigration() {
  return migrations().back().version;
}

Result<int> migrate(Connection& c) {
  const bool pg = c.backend() == Backend::kPostgres;
  if (pg) c.query(kMigrationLock);
  int applied = 0;
  try {
    c.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT "
        "NULL, "
        "applied_at TEXT NOT NULL)");
    const auto rows = c.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    const auto current = rows.empty() ? 0 : integer(rows[0][0]);
    if (current > latestMigration()) {
      if (pg) c.query(kMigrationUnlock);
      return Error::invalid("the database schema is version " + std::to_string(current) +
                            ", newer than this ciclod knows (" + std::to_string(latestMigration()) +
                            ")");
    }
    for (const auto& m : migrations()) {
      if (m.version <= current) continue;
      c.exec(c.backend() == Backend::kSqlite ? "BEGIN IMMEDIATE" : "BEGIN");
      try {
        for (const char* stmt : m.statements) c.exec(dialect(stmt, c.backend()));
        const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now());
        c.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
               {std::int64_t{m.version}, std::string(m.name), formatTimestamp(now)});
        c.exec("COMMIT");
      } catch (...) {
        c.exec("ROLLBACK");
        throw;
      }
      ++applied;
    }
  } catch (...) {
    if (pg) c.query(kMigrationUnlock);
    throw;
  }
  if (pg) c.query(kMigrationUnlock);
  return applied;
}

}  // namespace ciclo::store
