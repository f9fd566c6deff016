#include "host/api.h"

#include <Poco/JSON/Array.h>
#include <Poco/Logger.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

#include "ciclo/json.h"
#include "host/adapters.h"
#include "host/lead_scoring.h"
#include "host/logging.h"
#include "host/openapi.h"
#include "store/access.h"
#include "store/journal.h"

namespace ciclo::host {

const std::vector<std::string> kKnownScopes{"leads:read",     "leads:write",    "webhooks:admin",
                                            "forms:admin",    "partners:admin", "nurture:read",
                                            "nurture:write",  "mail:inbound",   "invoices:read",
                                            "payments:write", "admin"};

namespace {

Poco::Logger& log() {
  return Poco::Logger::get("ciclo.api");
}

constexpr auto kIdempotencyTtl = std::chrono::hours(24);

}  // namespace

// ---- metrics

void Metrics::observe(const std::string& route, const std::string& method, int status,
                      double millis) {
  std::lock_guard lock(mutex_);
  ++requests_[{route, method, status}];
  auto& h = latency_[route];
  const auto bucket =
      std::upper_bound(std::begin(kBuckets), std::end(kBuckets), millis) - std::begin(kBuckets);
  // upper_bound gives the first bucket strictly above; a value equal to a bound belongs to it.
  const auto index =
      static_cast<std::size_t>(bucket > 0 && millis <= kBuckets[bucket - 1] ? bucket - 1 : bucket);
  ++h.counts[index];
  h.sum += millis / 1000.0;
  ++h.total;
}

void Metrics::addCounter(const std::string& metric, std::uint64_t by) {
  std::lock_guard lock(mutex_);
  counters_[metric] += by;
}

std::string Metrics::render() const {
  std::ostringstream out;
  std::lock_guard lock(mutex_);
  for (const auto& [metric, value] : counters_)
    out << "# TYPE " << metric << " counter\n" << metric << " " << value << "\n";
  out << "# HELP ciclo_http_requests_total HTTP requests by route, method and status.\n"
         "# TYPE ciclo_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    const auto& [route, method, status] = key;
    out << "ciclo_http_requests_total{route=\"" << route << "\",method=\"" << method
        << "\",status=\"" << status << "\"} " << count << "\n";
  }
  out << "# HELP ciclo_http_request_duration_seconds Time from the first byte read to the response "
         "sent.\n"
         "# TYPE ciclo_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < std::size(kBuckets); ++i) {
      cumulative += h.counts[i];
      out << "ciclo_http_request_duration_seconds_bucket{route=\"" << route << "\",le=\""
          << kBuckets[i] / 1000.0 << "\"} " << cumulative << "\n";
    }
    out << "ciclo_http_request_duration_seconds_bucket{route=\"" << route << "\",le=\"+Inf\"} "
        << h.total << "\n";
    out << "ciclo_http_request_duration_seconds_sum{route=\"" << route << "\"} " << h.sum << "\n";
    out << "ciclo_http_request_duration_seconds_count{route=\"" << route << "\"} " << h.total
        << "\n";
  }
  return out.str();
}

// ---- API keys

Result<CreatedKey> createApiKey(Services& s, const std::string& name,
                                const std::vector<std::string>& scopes) {
  if (name.empty() || name.size() > 100 || !isValidUtf8(name)) {
    return Error::invalidField("name", "must be 1 to 100 characters of text");
  }
  if (scopes.empty()) return Error::invalidField("scopes", "at least one scope is required");
  for (const auto& scope : scopes) {
    if (std::find(kKnownScopes.begin(), kKnownScopes.end(), scope) == kKnownScopes.end()) {
      return Error::invalidField("scopes", "unknown scope " + scope.substr(0, 40));
    }
  }
  std::array<std::uint8_t, 32> secret{};
  s.random.fill(secret);
  const std::string secretText = base64Url(secret);
  store::ApiKeyRecord record{s.ids.next("key"),     name,          scopes,
                             sha256Hex(secretText), s.clock.now(), std::nullopt};
  Status written = s.store.write([&](store::Connection& c) {
    store::insertApiKey(c, record);
    return Status();
  });
  if (!written.ok()) return written.error();
  return CreatedKey{record.id, record.id + "." + secretText};
}

std::optional<Principal> VerifiedKeys::find(const std::string& id, const std::string& secretHash,
                                            Timestamp now) const {
  std::lock_guard lock(mutex_);
  const auto it = keys_.find(id);
  if (it == keys_.end() || !it->second.freshAt(now) ||
      !constantTimeEquals(secretHash, it->second.secret_hash)) {
    return std::nullopt;
  }
  return it->second.principal;
}

void VerifiedKeys::keep(const std::string& id, const std::string& secretHash,
                        const Principal& principal, Timestamp now) {
  std::lock_guard lock(mutex_);
  if (keys_.size() >= kMaxKeys && !keys_.contains(id)) {
    std::erase_if(keys_, [&](const auto& entry) { return !entry.second.freshAt(now); });
    if (keys_.size() >= kMaxKeys) keys_.clear();
  }
  keys_.insert_or_assign(id, Entry{secretHash, principal, now});
}

namespace {

// The key id and the hash of the secret of a bearer API key, or nullopt for no such header.
std::optional<std::pair<std::string, std::string>> bearerKey(const std::string& authorization) {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() < kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), authorization.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return std::nullopt;
  }
  const std::string_view token = std::string_view(authorization).substr(kBearer.size());
  const auto dot = token.find('.');
  if (dot == std::string::npos || !isValidId("key", token.substr(0, dot))) return std::nullopt;
  return std::pair{std::string(token.substr(0, dot)), sha256Hex(token.substr(dot + 1))};
}

}  // namespace

Result<Principal> authenticate(Services& s, VerifiedKeys& verified,
                               const std::string& authorization) {
  const Error unauthorized{ErrorKind::kUnauthorized,
                           "a valid API key is required (Authorization: Bearer <key>)",
                           {},
                           {}};
  const auto key = bearerKey(authorization);
  if (!key) return unauthorized;
  const auto& [id, secretHash] = *key;
  const Timestamp now = s.clock.now();
  if (auto principal = verified.find(id, secretHash, now)) return std::move(*principal);
  std::optional<store::ApiKeyRecord> record;
  Status read = s.store.read([&](store::Connection& c) {
    record = store::findApiKey(c, id);
    return Status();
  });
  if (!read.ok()) return read.error();
  if (!record || record->revoked_at || !constantTimeEquals(secretHash, record->secret_hash)) {
    return unauthorized;
  }
  Principal principal{record->id, record->name, record->scopes};
  verified.keep(id, secretHash, principal, now);
  return principal;
}

std::optional<Principal> recentlyVerified(Services& s, const VerifiedKeys& verified,
                                          const std::string& authorization) {
  const auto key = bearerKey(authorization);
  if (!key) return std::nullopt;
  return verified.find(key->first, key->second, s.clock.now());
}

// ---- idempotency

Result<std::optional<Idempotency>> idempotencyOf(const Request& request) {
  const std::string key = request.header("Idempotency-Key");
  if (key.empty()) return std::optional<Idempotency>();
  if (key.size() > 255 ||
      !std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return Error::invalidField("Idempotency-Key", "must be 1 to 255 visible ASCII characters");
  }
  const std::string caller = request.principal ? request.principal->key_id : request.client_ip;
  return std::optional<Idempotency>(
      Idempotency{request.method + " " + request.route + "|" + caller, key,
                  sha256Hex(request.method + " " + request.path + "\n" + request.body)});
}

namespace {

// The transaction of an idempotent write: the kept answer of a key seen before, else `work`'s
// answer, kept under the key.
store::Work idempotentWork(Services& s, const std::optional<Idempotency>& idem,
                           const std::function<Result<Response>(store::Connection&)>& work,
                           Response& response) {
  return [&s, &idem, &work, &response](store::Connection& c) -> Status {
    const Timestamp now = s.clock.now();
    if (idem) {
      if (auto seen = store::findIdempotency(c, idem->scope, idem->key)) {
        if (seen->created_at + kIdempotencyTtl > now) {
          if (seen->request_hash != idem->request_hash) {
            return Error{ErrorKind::kInvalid,
                         "this Idempotency-Key was used with a different request",
                         {},
                         "idempotency-key-reused"};
          }
          response = Response{
              seen->status, "application/json", seen->body, {{"Idempotent-Replayed", "true"}}, {}};
          return Status();
        }
        store::deleteIdempotency(c, idem->scope, idem->key);
      }
    }
    auto result = work(c);
    if (!result.ok()) return result.error();
    response = std::move(result).value();
    if (idem)
      store::insertIdempotency(c, idem->scope, idem->key,
                               {idem->request_hash, response.status, response.body, now});
    return Status();
  };
}

}  // namespace

Response writeIdempotent(Services& s, const std::optional<Idempotency>& idem,
                         const std::function<Result<Response>(store::Connection&)>& work,
                         store::Repeat repeat) {
  Response response;
  Status status = s.store.write(idempotentWork(s, idem, work, response), repeat);
  if (!status.ok()) return problemResponse(status.error());
  return response;
}

Response writeIdempotentLater(Services& s, std::optional<Idempotency> idem,
                              std::function<Result<Response>(store::Connection&)> work,
                              store::Repeat repeat) {
  struct Write {
    std::optional<Idempotency> idem;
    std::function<Result<Response>(store::Connection&)> work;
    Response response;
  };
  auto write = std::make_shared<Write>(Write{std::move(idem), std::move(work), {}});
  auto later = std::make_shared<LaterResponse>();
  s.store.submit(
      [write, run = idempotentWork(s, write->idem, write->work, write->response)](
          store::Connection& c) { return run(c); },
      repeat,
      [write, later](Status status) {
        later->settle(status.ok() ? std::move(write->response) : problemResponse(status.error()));
      });
  Response response;
  response.later = std::move(later);
  return response;
}

Response readResponse(Services& s,
                      const std::function<Result<Response>(store::Connection&)>& work) {
  Response response;
  Status status = s.store.read([&](store::Connection& c) -> Status {
    auto result = work(c);
    if (!result.ok()) return result.error();
    response = std::move(result).value();
    return Status();
  });
  return status.ok() ? response : problemResponse(status.error());
}

Result<PageQuery> readPageQuery(const Request& request, const std::string& cursorPrefix,
                                const std::vector<std::string>& filters) {
  auto query = request.queryParams();
  if (!query.ok()) return query.error();
  PageQuery page;
  std::vector<FieldError> errors;
  for (auto& [key, value] : query.value()) {
    if (key == "limit") {
      const bool digits =
          !value.empty() && value.size() <= 4 && std::all_of(value.begin(), value.end(), ::isdigit);
      page.limit = digits ? std::stoi(value) : 0;
      if (page.limit < 1 || page.limit > 200)
        errors.push_back({"limit", "must be an integer from 1 to 200"});
    } else if (key == "cursor") {
      if (!cursorPrefix.empty() && !isValidId(cursorPrefix, value)) {
        errors.push_back({"cursor", "is not a cursor this API returned"});
      }
      page.cursor = value;
    } else if (std::find(filters.begin(), filters.end(), key) != filters.end()) {
      page.filters[key] = value;
    } else {
      errors.push_back({isValidUtf8(key) ? key.substr(0, 64) : "?", "is not a known parameter"});
    }
  }
  if (!errors.empty())
    return Error::invalid("The query has invalid parameters.", std::move(errors));
  return page;
}

Response pageResponse(const Poco::JSON::Array::Ptr& data, bool more,
                      const std::string& nextCursor) {
  Poco::JSON::Object::Ptr body = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  body->set("data", data);
  body->set("next_cursor", more ? Poco::Dynamic::Var(nextCursor) : Poco::Dynamic::Var());
  body->set("has_more", more);
  return jsonResponse(200, body);
}

// ---- the API

Api::Api(Services& services) : s_(services) {
  (void)openApiJson();  // converted once, at start
  addSystemRoutes();
  addLeadRoutes(router_, s_);
  addScoringRoutes(router_, s_);
  addAccountRoutes(router_, s_);
}

void Api::addSystemRoutes() {
  router_.add("GET", "/healthz", {}, [](Request&) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("status", "ok");
    return jsonResponse(200, o);
  });
  router_.add("GET", "/readyz", {}, [this](Request&) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    Status db = s_.store.read([](store::Connection& c) {
      c.query("SELECT 1");
      return Status();
    });
    const bool ready = ready_ && db.ok();
    o->set("status", ready ? "ready" : "not_ready");
    o->set("store", db.ok() ? "ok" : "unavailable");
    return jsonResponse(ready ? 200 : 503, o);
  });
  router_.add("GET", "/v1/openapi.json", {}, [](Request&) {
    return Response{200, "application/json", openApiJson(), {}, {}};
  });
  router_.add("GET", "/metrics", {}, [this](Request&) {
    std::string body = metrics_.render();
    const auto stats = s_.store.stats();
    std::ostringstream extra;
    extra << "# HELP ciclo_store_commits_total Group commits of the writer.\n# TYPE "
             "ciclo_store_commits_total counter\n"
          << "ciclo_store_commits_total " << stats.commits << "\n"
          << "# HELP ciclo_store_writes_total Writes committed or refused by the writer.\n"
          << "# TYPE ciclo_store_writes_total counter\nciclo_store_writes_total " << stats.writes
          << "\n"
          << "# HELP ciclo_store_queue_depth Writes waiting for the writer.\n# TYPE "
             "ciclo_store_queue_depth gauge\n"
          << "ciclo_store_queue_depth " << s_.store.queueDepth() << "\n";
    std::int64_t outbox = 0;
    (void)s_.store.read([&](store::Connection& c) {
      outbox = store::integer(c.query("SELECT COALESCE(MAX(seq), 0) FROM outbox").at(0).at(0));
      return Status();
    });
    extra << "# HELP ciclo_outbox_head_seq The newest event's sequence number.\n# TYPE "
             "ciclo_outbox_head_seq gauge\n"
          << "ciclo_outbox_head_seq " << outbox << "\n";
    for (const auto& source : metricSources_) extra << source();
    return Response{200, "text/plain; version=0.0.4", body + extra.str(), {}, {}};
  });
  if (s_.config.clock_control) {
    // Testing only (testing.clock_control): moves the daemon's clock forward.
    router_.add("POST", "/v1/testing/clock", {"admin", 1024}, [this](Request& r) {
      auto body = parseJsonObject(r.body);
      if (!body.ok()) return problemResponse(body.error());
      const auto& o = *body.value();
      if (!o.has("advance_seconds") || !o.get("advance_seconds").isInteger() ||
          o.getValue<long long>("advance_seconds") < 0) {
        return problemResponse(
            Error::invalidField("/advance_seconds", "must be a non-negative integer"));
      }
      s_.clock.advanceForTest(std::chrono::seconds(o.getValue<long long>("advance_seconds")));
      Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
      out->set("now", formatTimestamp(s_.clock.now()));
      return jsonResponse(200, out);
    });
  }
}

std::variant<const Route*, Response, ToThread> Api::admit(Request& request, Lane lane) {
  if (request.path.size() > 2048) return problemResponse(414, "", "the path is too long");
  const auto match = router_.match(request.method, request.path);
  if (!match.route) {
    if (!match.allowed.empty()) {
      std::string allow;
      for (const auto& m : match.allowed) allow += (allow.empty() ? "" : ", ") + m;
      Response r = problemResponse(405, "", "this path accepts " + allow);
      r.headers.emplace_back("Allow", allow);
      return r;
    }
    request.route = "unmatched";
    return problemResponse(404, "", "there is nothing at this path");
  }
  const auto& options = match.route->options;
  if (lane == Lane::kLoop && !options.quick) return ToThread{};
  request.route = match.route->pattern;
  request.params = match.params;
  if (!options.scope.empty() && lane == Lane::kLoop) {
    // Verifying a key reads the store: on the loop, only a key verified lately is taken.
    auto principal = recentlyVerified(s_, verifiedKeys_, request.header("Authorization"));
    if (!principal || !principal->has(options.scope)) return ToThread{};
    request.principal = std::move(principal);
  } else if (!options.scope.empty()) {
    auto principal = authenticate(s_, verifiedKeys_, request.header("Authorization"));
    if (!principal.ok()) {
      Response r = problemResponse(principal.error());
      if (principal.error().kind == ErrorKind::kUnauthorized)
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
    if (!principal.value().has(options.scope)) {
      return problemResponse(
          Error{ErrorKind::kForbidden, "this API key lacks the scope " + options.scope, {}, {}});
    }
    request.principal = std::move(principal).value();
  }
  const auto& types = options.media_types;
  if (!types.empty() &&
      (request.method == "POST" || request.method == "PATCH" || request.method == "PUT")) {
    std::string type = request.header("Content-Type");
    type = type.substr(0, type.find(';'));
    std::transform(type.begin(), type.end(), type.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    type.erase(type.find_last_not_of(" \t") + 1);
    if (std::find(types.begin(), types.end(), type) == types.end()) {
      std::string accepted;
      for (const auto& t : types) accepted += (accepted.empty() ? "" : " or ") + t;
      return problemResponse(415, "", "the body must be " + accepted);
    }
  }
  return match.route;
}

Response Api::handle(const Route& route, Request& request) {
  try {
    return route.handler(request);
  } catch (const std::exception& e) {
    log().error("request %s %s failed: %s", request.request_id, request.route,
                std::string(e.what()));
    return problemResponse(500, "",
                           "an internal error occurred; the request id identifies it in the log");
  }
}

void Api::completed(const Request& request, const Response& response, double millis) {
  metrics_.observe(request.route.empty() ? "unmatched" : request.route, request.method,
                   response.status, millis);
  if (!s_.config.log_requests) return;
  // Built by hand: this line is written for every request.
  using sdk::jsonString;
  const std::string path = isValidUtf8(request.path) ? request.path.substr(0, 256) : "(not UTF-8)";
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.3f", millis);
  std::string line;
  line.reserve(320);
  line += "{\"ts\":\"" + formatTimestamp(s_.clock.now()) + "\",\"level\":\"" +
          (response.status >= 500 ? "error" : "info") +
          "\",\"msg\":\"request\",\"request_id\":" + jsonString(request.request_id) +
          ",\"method\":" + jsonString(isValidUtf8(request.method) ? request.method : "?") +
          ",\"route\":" + jsonString(request.route) + ",\"path\":" + jsonString(path) +
          ",\"status\":" + std::to_string(response.status) + ",\"duration_ms\":" + duration +
          ",\"client_ip\":" + jsonString(request.client_ip);
  if (request.principal) line += ",\"key\":" + jsonString(request.principal->key_id);
  line += "}";
  keepRequestLogText(std::move(line));
}

}  // namespace ciclo::host
