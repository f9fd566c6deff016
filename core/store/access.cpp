#include "store/access.h"

#include "domain/text.h"

namespace ciclo::store {

namespace {

ApiKeyRecord keyFromRow(const Row& r) {
  ApiKeyRecord k;
  k.id = text(r[0]);
  k.name = text(r[1]);
  k.scopes = splitList(text(r[2]));
  k.secret_hash = text(r[3]);
  parseTimestamp(text(r[4]), k.created_at);
  if (!isNull(r[5])) {
    Timestamp t;
    parseTimestamp(text(r[5]), t);
    k.revoked_at = t;
  }
  return k;
}

}  // namespace

void insertApiKey(Connection& c, const ApiKeyRecord& k) {
  c.exec(
      "INSERT INTO api_keys (id, name, scopes, secret_hash, created_at) VALUES ($1, $2, $3, $4, "
      "$5)",
      {k.id, k.name, joinList(k.scopes), k.secret_hash, formatTimestamp(k.created_at)});
}

std::optional<ApiKeyRecord> findApiKey(Connection& c, const std::string& id) {
  auto rows = c.query(
      "SELECT id, name, scopes, secret_hash, created_at, revoked_at FROM api_keys WHERE id = $1",
      {id});
  if (rows.empty()) return std::nullopt;
  return keyFromRow(rows[0]);
}

std::vector<ApiKeyRecord> listApiKeys(Connection& c) {
  std::vector<ApiKeyRecord> out;
  for (const auto& r : c.query("SELECT id, name, scopes, secret_hash, created_at, revoked_at FROM "
                               "api_keys ORDER BY id")) {
    out.push_back(keyFromRow(r));
  }
  return out;
}

bool revokeApiKey(Connection& c, const std::string& id, Timestamp at) {
  return c.exec("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                {formatTimestamp(at), id}) == 1;
}

std::optional<IdempotencyRecord> findIdempotency(Connection& c, const std::string& scope,
                                                 const std::string& key) {
  auto rows = c.query(
      "SELECT request_hash, status, body, created_at FROM idempotency_keys WHERE scope = $1 AND "
      "idem_key = $2",
      {scope, key});
  if (rows.empty()) return std::nullopt;
  IdempotencyRecord r;
  r.request_hash = text(rows[0][0]);
  r.status = static_cast<int>(integer(rows[0][1]));
  r.body = text(rows[0][2]);
  parseTimestamp(text(rows[0][3]), r.created_at);
  return r;
}

void insertIdempotency(Connection& c, const std::string& scope, const std::string& key,
                       const IdempotencyRecord& r) {
  c.exec(
      "INSERT INTO idempotency_keys (scope, idem_key, request_hash, status, body, created_at) "
      "VALUES ($1, $2, $3, $4, $5, $6)",
      {scope, key, r.request_hash, std::int64_t{r.status}, r.body, formatTimestamp(r.created_at)});
}

void deleteIdempotency(Connection& c, const std::string& scope, const std::string& key) {
  c.exec("DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2", {scope, key});
}

std::size_t purgeIdempotency(Connection& c, Timestamp createdBefore) {
  return c.exec("DELETE FROM idempotency_keys WHERE created_at < $1",
                {formatTimestamp(createdBefore)});
}

}  // namespace ciclo::store
