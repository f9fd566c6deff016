#pragma once
// The REST API: the routes under /v1 with their auth policy, and the conventions every route
// shares - API keys with scopes, problem+json, Idempotency-Key on creating POSTs, one JSON
// log line and metrics per request.

#include <Poco/JSON/Array.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "domain/identity.h"
#include "domain/ids.h"
#include "host/config.h"
#include "host/http.h"
#include "host/server.h"
#include "store/database.h"

namespace ciclo::host {

class SystemClock;

// What the handlers work with.
struct Services {
  const Config& config;
  store::Store& store;
  SystemClock& clock;
  RandomSource& random;
  IdGenerator& ids;
  const DomainEncoder& domains;
  const PhoneNormalizer& phones;
};

// Request counts by route and status, and a latency histogram per route; Prometheus text.
class Metrics {
 public:
  void observe(const std::string& route, const std::string& method, int status, double millis);
  // A plain counter, rendered as its own metric family.
  void addCounter(const std::string& metric, std::uint64_t by);
  std::string render() const;

 private:
  static constexpr double kBuckets[] = {1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000};
  struct Histogram {
    std::uint64_t counts[std::size(kBuckets) + 1] = {};
    double sum = 0;
    std::uint64_t total = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::map<std::string, std::uint64_t> counters_;
};

// Creating and checking API keys. A key is shown once as "<id>.<secret>"; the store keeps
// the id, the name, the scopes and a SHA-256 of the secret.
struct CreatedKey {
  std::string id;
  std::string token;
};
extern const std::vector<std::string> kKnownScopes;
Result<CreatedKey> createApiKey(Services& s, const std::string& name,
                                const std::vector<std::string>& scopes);

// Keys verified in the last second, by id, with the hash of their secret. Under load, reading
// the key for every request (a read transaction on a store that changed since the last one)
// cost more than the rest of authentication. A key revoked with the CLI, from another
// process, is therefore refused within kTtl; an unknown or refused key is never kept.
class VerifiedKeys {
 public:
  static constexpr std::chrono::milliseconds kTtl{1000};
  static constexpr std::size_t kMaxKeys = 1024;
  std::optional<Principal> find(const std::string& id, const std::string& secretHash,
                                Timestamp now) const;
  void keep(const std::string& id, const std::string& secretHash, const Principal& principal,
            Timestamp now);

 private:
  struct Entry {
    std::string secret_hash;
    Principal principal;
    Timestamp verified_at;
    // A clock set back makes `now` earlier than the verification: that does not count.
    bool freshAt(Timestamp now) const { return now >= verified_at && now < verified_at + kTtl; }
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> keys_;
};
Result<Principal> authenticate(Services& s, VerifiedKeys& verified,
                               const std::string& authorization);
// The principal of a key verified within VerifiedKeys::kTtl, without reading the store.
std::optional<Principal> recentlyVerified(Services& s, const VerifiedKeys& verified,
                                          const std::string& authorization);

// An executed request's answer, kept with its Idempotency-Key.
struct Idempotency {
  std::string scope;  // route + caller
  std::string key;
  std::string request_hash;
};
// Runs `work` in the writer; with an Idempotency-Key, a repeat gets the first answer and a
// reused key with another body a 422, all in the same transaction as the work. `repeat` says
// whether `work` may run again (store::Repeat); what is wrapped around it may.
Response writeIdempotent(Services& s, const std::optional<Idempotency>& idem,
                         const std::function<Result<Response>(store::Connection&)>& work,
                         store::Repeat repeat = store::Repeat::kOnce);
// As writeIdempotent, answering later (Response::later): no thread waits for the commit. What
// `work` refers to must be its own, since it runs after the caller returned.
Response writeIdempotentLater(Services& s, std::optional<Idempotency> idem,
                              std::function<Result<Response>(store::Connection&)> work,
                              store::Repeat repeat);
// Runs `work` on a read connection; its error becomes the problem answer.
Response readResponse(Services& s, const std::function<Result<Response>(store::Connection&)>& work);

// The Idempotency-Key of a request for `route`, or an error for a malformed key.
Result<std::optional<Idempotency>> idempotencyOf(const Request& request);

class Api : public RequestHandler {
 public:
  explicit Api(Services& services);

  Router& router() { return router_; }
  Metrics& metrics() { return metrics_; }

  std::variant<const Route*, Response, ToThread> admit(Request& request, Lane lane) override;
  Response handle(const Route& route, Request& request) override;
  void completed(const Request& request, const Response& response, double millis) override;

  void setReady(bool ready) { ready_ = ready; }
  // Adds Prometheus text to /metrics from another part of the daemon.
  void addMetricsSource(std::function<std::string()> source) {
    metricSources_.push_back(std::move(source));
  }

 private:
  void addSystemRoutes();
  Services& s_;
  Router router_;
  Metrics metrics_;
  VerifiedKeys verifiedKeys_;
  std::atomic<bool> ready_{false};
  std::vector<std::function<std::string()>> metricSources_;
};

// Route groups, each in its own file.
void addLeadRoutes(Router& router, Services& s);
void addAccountRoutes(Router& router, Services& s);

// A list route's query: ?limit= (1..200, default 50), ?cursor= and the filters it knows;
// any other parameter is refused. With `cursorPrefix`, the cursor must be an id with it.
struct PageQuery {
  std::map<std::string, std::string> filters;
  int limit = 50;
  std::string cursor;
};
Result<PageQuery> readPageQuery(const Request& request, const std::string& cursorPrefix,
                                const std::vector<std::string>& filters = {});
// {"data": [...], "next_cursor": ..., "has_more": ...}
Response pageResponse(const Poco::JSON::Array::Ptr& data, bool more, const std::string& nextCursor);

}  // namespace ciclo::host
