#pragma once
// Who may call: API keys (stored hashed) and the idempotency records of executed requests.

#include <optional>
#include <string>
#include <vector>

#include "domain/clock.h"
#include "store/database.h"

namespace ciclo::store {

struct ApiKeyRecord {
  std::string id;  // the public part of the key, "key_..."
  std::string name;
  std::vector<std::string> scopes;
  std::string secret_hash;  // hex SHA-256 of the secret part
  Timestamp created_at{};
  std::optional<Timestamp> revoked_at;
};

void insertApiKey(Connection& c, const ApiKeyRecord& key);
std::optional<ApiKeyRecord> findApiKey(Connection& c, const std::string& id);
std::vector<ApiKeyRecord> listApiKeys(Connection& c);
// False when there is no such key or it was revoked already.
bool revokeApiKey(Connection& c, const std::string& id, Timestamp at);

struct IdempotencyRecord {
  std::string request_hash;
  int status = 0;
  std::string body;
  Timestamp created_at{};
};

std::optional<IdempotencyRecord> findIdempotency(Connection& c, const std::string& scope,
                                                 const std::string& key);
void insertIdempotency(Connection& c, const std::string& scope, const std::string& key,
                       const IdempotencyRecord& r);
void deleteIdempotency(Connection& c, const std::string& scope, const std::string& key);
std::size_t purgeIdempotency(Connection& c, Timestamp createdBefore);

}  // namespace ciclo::store
