#pragma once
// The host's HTTP vocabulary: a fully read request, a response, problem+json (RFC 9457),
// and the router that matches a method and path to a handler with its auth policy and
// body limit. Transport-free: server.cpp moves these over sockets.

#include <Poco/JSON/Object.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ciclo/status.h"
#include "domain/result.h"

namespace ciclo::host {

struct Principal {
  std::string key_id;
  std::string name;
  std::vector<std::string> scopes;
  bool has(const std::string& scope) const;
};

struct Request {
  std::string method;
  std::string path;   // raw path, without the query
  std::string query;  // raw query string
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string client_ip;
  std::string request_id;
  std::map<std::string, std::string> params;  // from the route pattern
  std::optional<Principal> principal;
  std::string route;  // the matched pattern, for logs and metrics

  // The first value of a header (case-insensitive name), or "".
  std::string header(std::string_view name) const;
  // Query parameters, percent-decoded. A parameter given twice is refused by queryParams().
  Result<std::map<std::string, std::string>> queryParams() const;
};

class LaterResponse;

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set when the answer comes later (see LaterResponse); the rest is then unused.
  std::shared_ptr<LaterResponse> later;
};

// An answer given once work elsewhere is done, such as a write being committed: the handler
// returns at once with `Response::later` set, so that no thread waits for the commit, and the
// work settles it from its own thread. The transport sends the answer when it is settled.
class LaterResponse {
 public:
  // Gives the answer; only the first call counts.
  void settle(Response response);
  // `deliver` runs with the answer as soon as it is settled, on the settling thread, or here
  // when it was settled already; it must be quick.
  void onSettled(std::function<void(Response)> deliver);

 private:
  std::mutex mutex_;
  bool settled_ = false;
  std::optional<Response> response_;  // settled before anyone asked for it
  std::function<void(Response)> deliver_;
};

Response jsonResponse(int status, const Poco::JSON::Object::Ptr& body);
int httpStatus(ErrorKind kind);
// The SDK's name for an error kind: the two enumerations list the same kinds in one order.
constexpr sdk::ErrorKind sdkKind(ErrorKind k) {
  return static_cast<sdk::ErrorKind>(static_cast<int>(k));
}
constexpr ErrorKind domainKind(sdk::ErrorKind k) {
  return static_cast<ErrorKind>(static_cast<int>(k));
}
static_assert(sdkKind(ErrorKind::kUnparseable) == sdk::ErrorKind::kUnparseable &&
              sdkKind(ErrorKind::kInvalid) == sdk::ErrorKind::kInvalid &&
              sdkKind(ErrorKind::kUnauthorized) == sdk::ErrorKind::kUnauthorized &&
              sdkKind(ErrorKind::kForbidden) == sdk::ErrorKind::kForbidden &&
              sdkKind(ErrorKind::kNotFound) == sdk::ErrorKind::kNotFound &&
              sdkKind(ErrorKind::kConflict) == sdk::ErrorKind::kConflict &&
              sdkKind(ErrorKind::kRetryable) == sdk::ErrorKind::kRetryable &&
              sdkKind(ErrorKind::kInternal) == sdk::ErrorKind::kInternal);
// problem+json for an error value; `slug` defaults from the kind.
Response problemResponse(const Error& error);
Response problemResponse(int status, const std::string& slug, const std::string& detail);

using Handler = std::function<Response(Request&)>;

struct RouteOptions {
  std::string scope;                 // empty: public; else the API key scope required
  std::size_t max_body = 64 * 1024;  // larger bodies get 413 before the handler runs
  // Media types a POST, PUT or PATCH body may have (415 otherwise); empty: any.
  std::vector<std::string> media_types = {"application/json"};
  // The handler never waits - no store read or write it waits for, no outbound call, no lock
  // held for long: it answers from the request, or answers later (Response::later). The
  // server's event loop then runs it itself, without handing it to a thread.
  bool quick = false;
};

struct Route {
  std::string method;
  std::string pattern;  // "/v1/leads/{id}"
  RouteOptions options;
  Handler handler;
  std::vector<std::string> segments;
};

class Router {
 public:
  void add(std::string method, std::string pattern, RouteOptions options, Handler handler);

  struct Match {
    const Route* route = nullptr;
    std::map<std::string, std::string> params;
    std::vector<std::string> allowed;  // methods the path supports, when the method did not match
  };
  Match match(const std::string& method, const std::string& path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Reads a JSON object body: 400 when it is not valid UTF-8 JSON or not an object.
Result<Poco::JSON::Object::Ptr> parseJsonObject(const std::string& body);
bool isValidUtf8(std::string_view s);
std::string percentDecode(std::string_view s, bool plusIsSpace, bool& ok);

}  // namespace ciclo::host
