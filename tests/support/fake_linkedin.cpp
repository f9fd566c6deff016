#include "support/fake_linkedin.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/URI.h>

#include <sstream>

namespace ciclo::testing {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

std::string text(const Object::Ptr& o) {
  std::ostringstream out;
  o->stringify(out);
  return out.str();
}

std::string error(int status, int serviceCode, const std::string& code,
                  const std::string& message) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("status", status);
  if (serviceCode) o->set("serviceErrorCode", serviceCode);
  if (!code.empty()) o->set("code", code);
  o->set("message", message);
  return text(o);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

class FakeLinkedIn::Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(FakeLinkedIn& fake) : fake_(fake) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req,
                     Poco::Net::HTTPServerResponse& resp) override {
    std::map<std::string, std::string> headers;
    for (const auto& [k, v] : req) headers[lower(k)] = v;
    const Answer a = fake_.answer(req.getMethod(), req.getURI(), headers);
    resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(a.status));
    resp.setContentType("application/json");
    resp.set("x-li-uuid", "AAYHnYv6n1hDEcX3AAAAAA==");
    for (const auto& [k, v] : a.headers) resp.set(k, v);
    resp.sendBuffer(a.body.data(), a.body.size());
  }

 private:
  FakeLinkedIn& fake_;
};

class FakeLinkedIn::Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(FakeLinkedIn& fake) : fake_(fake) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(fake_);
  }

 private:
  FakeLinkedIn& fake_;
};

FakeLinkedIn::FakeLinkedIn(std::string token) : token_(std::move(token)) {
  Poco::Net::ServerSocket socket;
  socket.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
  socket.listen();
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(4);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, params);
  server_->start();
}

FakeLinkedIn::~FakeLinkedIn() {
  server_->stopAll(true);
}

std::string FakeLinkedIn::baseUrl() const {
  return "http://127.0.0.1:" + std::to_string(server_->port()) + "/rest";
}

void FakeLinkedIn::add(Organization o) {
  std::lock_guard lock(mutex_);
  organizations_.push_back(std::move(o));
}

void FakeLinkedIn::addIndustry(long long id, std::string name) {
  std::lock_guard lock(mutex_);
  industries_[id] = std::move(name);
}

void FakeLinkedIn::throttle(int n, std::string retryAfter) {
  std::lock_guard lock(mutex_);
  throttled_ = n;
  retryAfter_ = std::move(retryAfter);
}

void FakeLinkedIn::fail(int n, int status) {
  std::lock_guard lock(mutex_);
  failing_ = n;
  failStatus_ = status;
}

std::vector<std::string> FakeLinkedIn::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

FakeLinkedIn::Answer FakeLinkedIn::answer(const std::string& method, const std::string& uri,
                                          const std::map<std::string, std::string>& headers) {
  ++calls_;
  std::lock_guard lock(mutex_);
  requests_.push_back(method + " " + uri);
  auto header = [&](const std::string& name) {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  };
  if (header("authorization") != "Bearer " + token_)
    return {401, error(401, 65600, "INVALID_ACCESS_TOKEN", "Invalid access token"), {}};
  const std::string version = header("linkedin-version");
  if (version.empty())
    return {400,
            error(400, 0, "VERSION_MISSING",
                  "A version must be present. Please specify a version by adding the "
                  "LinkedIn-Version header."),
            {}};
  if (version < "202401" || version.size() != 6)
    return {426,
            error(426, 0, "NONEXISTENT_VERSION", "Requested version " + version + " is not active"),
            {}};
  if (throttled_ > 0) {
    --throttled_;
    std::vector<std::pair<std::string, std::string>> h;
    if (!retryAfter_.empty()) h.emplace_back("Retry-After", retryAfter_);
    return {429,
            error(429, 101, "TOO_MANY_REQUESTS",
                  "Resource level throttle APPLICATION DAY limit for calls to this resource is "
                  "reached."),
            h};
  }
  if (failing_ > 0) {
    --failing_;
    return {failStatus_, error(failStatus_, 0, "", "Internal Server Error"), {}};
  }
  const Poco::URI parsed(uri);
  const std::string path = parsed.getPath();
  std::map<std::string, std::string> query;
  for (const auto& [k, v] : parsed.getQueryParameters()) query[k] = v;
  if (method == "GET" && path == "/rest/organizations") {
    const std::string q = query["q"];
    if (q != "emailDomain" && q != "vanityName")
      return {400, error(400, 100, "ILLEGAL_ARGUMENT", "Unknown finder " + q), {}};
    Array::Ptr elements = new Array;
    for (const auto& o : organizations_) {
      bool match = false;
      if (q == "vanityName") match = lower(o.vanity_name) == lower(query["vanityName"]);
      for (const auto& d : o.email_domains)
        match = match || (q == "emailDomain" && lower(d) == lower(query["emailDomain"]));
      if (!match) continue;
      Object::Ptr e = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      e->set("id", o.id);
      Object::Ptr name = new Object;
      Object::Ptr localized = new Object;
      localized->set("en_US", o.name);
      name->set("localized", localized);
      e->set("name", name);
      e->set("localizedName", o.name);
      e->set("vanityName", o.vanity_name);
      if (!o.website.empty()) e->set("localizedWebsite", o.website);
      e->set("primaryOrganizationType", "NONE");
      Array::Ptr locations = new Array;
      if (!o.country.empty()) {
        Object::Ptr l = new Object;
        l->set("locationType", "HEADQUARTERS");
        Object::Ptr address = new Object;
        address->set("country", o.country);
        address->set("city", o.city);
        l->set("address", address);
        locations->add(l);
      }
      e->set("locations", locations);
      if (o.administered) {  // the fields only administrators get
        Array::Ptr industries = new Array;
        for (auto id : o.industries) industries->add("urn:li:industry:" + std::to_string(id));
        e->set("industries", industries);
        e->set("staffCountRange", o.staff_count_range);
        e->set("versionTag", "1");
      }
      elements->add(e);
    }
    Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("elements", elements);
    Object::Ptr paging = new Object;
    paging->set("count", 10);
    paging->set("start", 0);
    paging->set("links", Array::Ptr(new Array));
    out->set("paging", paging);
    return {200, text(out), {}};
  }
  static const std::string kIndustries = "/rest/industryTaxonomyVersions/DEFAULT/industries/";
  if (method == "GET" && path.starts_with(kIndustries)) {
    const auto it = industries_.find(std::atoll(path.substr(kIndustries.size()).c_str()));
    if (it == industries_.end()) return {404, error(404, 0, "", "Not Found"), {}};
    Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("id", it->first);
    Object::Ptr name = new Object;
    Object::Ptr localized = new Object;
    localized->set("en_US", it->second);
    name->set("localized", localized);
    out->set("name", name);
    return {200, text(out), {}};
  }
  return {404, error(404, 0, "", "Not Found"), {}};
}

}  // namespace ciclo::testing
