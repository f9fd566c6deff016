#include "host/http.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <sstream>

#include "ciclo/plugin.h"
#include "ciclo/text.h"
#include "support/json.h"

namespace ciclo::host {

bool Principal::has(const std::string& scope) const {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end() ||
         std::find(scopes.begin(), scopes.end(), "admin") != scopes.end();
}

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

}  // namespace

std::string Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

std::string percentDecode(std::string_view s, bool plusIsSpace, bool& ok) {
  auto decoded = sdk::percentDecode(s, plusIsSpace);
  ok = decoded && isValidUtf8(*decoded);
  return ok ? std::move(*decoded) : std::string();
}

Result<std::map<std::string, std::string>> Request::queryParams() const {
  std::map<std::string, std::string> out;
  std::string_view q(query);
  while (!q.empty()) {
    const auto amp = q.find('&');
    const auto pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    bool okKey = true, okValue = true;
    std::string key = percentDecode(pair.substr(0, eq), true, okKey);
    std::string value = eq == std::string_view::npos
                            ? std::string()
                            : percentDecode(pair.substr(eq + 1), true, okValue);
    if (!okKey || !okValue)
      return Error::invalidField(std::string(pair.substr(0, eq)).substr(0, 64),
                                 "is not validly percent-encoded UTF-8");
    if (out.contains(key)) return Error::invalidField(key, "is given more than once");
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

bool isValidUtf8(std::string_view s) {
  return s.find('\0') == std::string_view::npos && sdk::isValidUtf8(s);  // NUL is never our text
}

void LaterResponse::settle(Response response) {
  std::unique_lock lock(mutex_);
  if (settled_) return;
  settled_ = true;
  if (!deliver_) {
    response_ = std::move(response);
    return;
  }
  auto deliver = std::move(deliver_);
  lock.unlock();
  deliver(std::move(response));
}

void LaterResponse::onSettled(std::function<void(Response)> deliver) {
  std::unique_lock lock(mutex_);
  if (!response_) {
    deliver_ = std::move(deliver);
    return;
  }
  Response response = std::move(*response_);
  response_.reset();
  lock.unlock();
  deliver(std::move(response));
}

Response jsonResponse(int status, const Poco::JSON::Object::Ptr& body) {
  std::ostringstream out;
  body->stringify(out);
  return Response{status, "application/json", out.str(), {}, {}};
}

int httpStatus(ErrorKind kind) {
  return sdk::httpStatus(sdkKind(kind));
}

Response problemResponse(int status, const std::string& slug, const std::string& detail) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("type", "/problems/" + (slug.empty() ? sdk::problemSlug(status) : slug));
  o->set("title", std::string(sdk::problemTitle(status)));
  o->set("status", status);
  o->set("detail", detail);
  Response r = jsonResponse(status, o);
  r.content_type = "application/problem+json";
  return r;
}

Response problemResponse(const Error& error) {
  const int status = httpStatus(error.kind);
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("type", "/problems/" + (error.slug.empty() ? sdk::problemSlug(status) : error.slug));
  o->set("title", std::string(sdk::problemTitle(status)));
  o->set("status", status);
  o->set("detail", error.message);
  if (!error.fields.empty()) {
    Poco::JSON::Array::Ptr errors = new Poco::JSON::Array;
    for (const auto& f : error.fields) {
      Poco::JSON::Object::Ptr e = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
      e->set("field", f.field);
      e->set("message", f.message);
      errors->add(e);
    }
    o->set("errors", errors);
  }
  Response r = jsonResponse(status, o);
  r.content_type = "application/problem+json";
  if (error.kind == ErrorKind::kRetryable) r.headers.emplace_back("Retry-After", "1");
  return r;
}

void Router::add(std::string method, std::string pattern, RouteOptions options, Handler handler) {
  Route r{std::move(method), std::move(pattern), std::move(options), std::move(handler), {}};
  r.segments = splitPath(r.pattern);
  routes_.push_back(std::move(r));
}

Router::Match Router::match(const std::string& method, const std::string& path) const {
  Match result;
  if (path.empty() || path[0] != '/') return result;
  const auto segments = splitPath(path);
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool matched = true;
    for (std::size_t i = 0; i < segments.size() && matched; ++i) {
      const auto& want = route.segments[i];
      if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
        if (segments[i].empty()) matched = false;
        params[want.substr(1, want.size() - 2)] = segments[i];
      } else if (want != segments[i]) {
        matched = false;
      }
    }
    if (!matched) continue;
    if (route.method == method || (method == "HEAD" && route.method == "GET")) {
      result.route = &route;
      result.params = std::move(params);
      return result;
    }
    result.allowed.push_back(route.method);
  }
  return result;
}

Result<Poco::JSON::Object::Ptr> parseJsonObject(const std::string& body) {
  if (body.empty())
    return Error{ErrorKind::kUnparseable, "the body is empty; a JSON object is expected", {}, {}};
  if (!isValidUtf8(body))
    return Error{ErrorKind::kUnparseable, "the body is not valid UTF-8", {}, {}};
  try {
    Poco::JSON::Parser parser(new plugins::UniqueNamesHandler);
    parser.setDepth(32);
    auto value = parser.parse(body);
    if (value.type() != typeid(Poco::JSON::Object::Ptr)) {
      return Error{ErrorKind::kUnparseable, "the body must be a JSON object", {}, {}};
    }
    return value.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    // Poco's parser also stops at numbers beyond a double's range (1e999), and the handler
    // at an object naming a member twice: those are refused here as unreadable too.
    return Error{ErrorKind::kUnparseable,
                 "the body is not valid JSON, holds a number out of range or names a member twice",
                 {},
                 {}};
  }
}

}  // namespace ciclo::host
