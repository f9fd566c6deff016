#pragma once
// Ciclo plugin SDK: what a plugin is, what it sees, and the one C entry point it exports.
//
// A plugin is a shared library built against these headers only. It exports
// `ciclo_plugin_descriptor()` (use CICLO_PLUGIN below), which gives the host the ABI
// version, a hash of these headers, the toolchain it was built with, its name and version,
// and create/destroy functions. The host refuses a plugin whose ABI, headers or toolchain
// differ from its own, saying what differs.
//
// start(context) reads like a manifest: the routes the plugin serves with their auth
// policy, the events it consumes, the jobs it schedules. The host records every
// registration and revokes them all before stop(). Nothing may throw across the boundary:
// the host catches what escapes and treats it as a failure of the plugin.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ciclo/json.h"
#include "ciclo/status.h"

#define CICLO_PLUGIN_ABI_VERSION 1

namespace ciclo::sdk {

// A duration as configuration writes it: "90s", "30m", "12h" or "14d"; nullopt otherwise.
inline std::optional<std::chrono::seconds> parseDuration(std::string_view text) {
  if (text.size() < 2 || text.size() > 10) return std::nullopt;
  long long n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  switch (text.back()) {
    case 's':
      return std::chrono::seconds(n);
    case 'm':
      return std::chrono::minutes(n);
    case 'h':
      return std::chrono::hours(n);
    case 'd':
      return std::chrono::hours(24 * n);
    default:
      return std::nullopt;
  }
}

// ---- configuration: the plugin's own section, read once at start
class ConfigSection {
 public:
  virtual ~ConfigSection() = default;
  virtual std::string text(const std::string& key, const std::string& fallback) = 0;
  virtual long long integer(const std::string& key, long long fallback, long long min,
                            long long max) = 0;
  virtual bool boolean(const std::string& key, bool fallback) = 0;
  virtual std::vector<std::string> list(const std::string& key) = 0;
  // A nested mapping, read the same way (absent: an empty one). Call its finish() too.
  virtual std::unique_ptr<ConfigSection> section(const std::string& key) = 0;
  // The keys of this mapping, in the order written.
  virtual std::vector<std::string> keys() = 0;
  // Records an error for `key` (its full path is added); the daemon does not start.
  virtual void fail(const std::string& key, const std::string& reason) = 0;
  // Reports keys nobody asked for. Call after reading everything.
  virtual void finish() = 0;
};

// A duration from the configuration (parseDuration), `fallback` when the key is absent; a
// malformed one fails the key.
inline std::chrono::seconds configDuration(ConfigSection& c, const std::string& key,
                                           std::chrono::seconds fallback) {
  const std::string text = c.text(key, "");
  if (text.empty()) return fallback;
  const auto d = parseDuration(text);
  if (!d) c.fail(key, "expected a duration such as 90s, 30m, 12h or 14d");
  return d.value_or(fallback);
}

// ---- HTTP routes
using Headers = std::vector<std::pair<std::string, std::string>>;

// The first value of header `name` (case-insensitive) in `headers`, or "".
inline std::string headerValue(const Headers& headers, const std::string& name) {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return {};
}

struct HttpRequest {
  std::string method;
  std::string path;
  std::string query;
  std::map<std::string, std::string> params;  // from the route pattern
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string client_ip;
  std::string request_id;
  std::string caller;  // API key name, or "" on public routes

  // The first value of a header, by case-insensitive name, or "".
  std::string header(const std::string& name) const { return headerValue(headers, name); }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct RoutePolicy {
  std::string scope;                 // empty: public (no API key); else the scope required
  std::size_t max_body = 64 * 1024;  // the host answers 413 beyond this
  // Media types a body may have (415 otherwise); empty: any, the handler decides.
  std::vector<std::string> media_types = {"application/json"};
};

using RouteHandler = std::function<HttpResponse(const HttpRequest&)>;

// Gives the answer to a request a handler answers later (Routes::addLater): from any thread;
// only the first call counts. When every copy is dropped without a call, the host answers 500.
using Answer = std::function<void(HttpResponse)>;
// A handler that answers once work elsewhere is done, such as a capture being committed
// (Leads::capture with `then`): it returns at once and calls `answer` then, so that no thread
// waits meanwhile.
using LaterRouteHandler = std::function<void(const HttpRequest&, Answer answer)>;

class Routes {
 public:
  virtual ~Routes() = default;
  // `pattern` may hold {name} segments. The host enforces the policy before the handler runs.
  virtual Status add(const std::string& method, const std::string& pattern, RoutePolicy policy,
                     RouteHandler handler) = 0;
  // As add(), for a handler that answers later. It runs on the server's event loop, which
  // serves every connection: it must never wait - no storage read or write, no outbound call,
  // no lock held for long, no capture() without `then`.
  virtual Status addLater(const std::string& method, const std::string& pattern, RoutePolicy policy,
                          LaterRouteHandler handler) = 0;
};

// Problem types (RFC 9457): the title and the default `/problems/<slug>` of a status.
inline const char* problemTitle(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

inline const char* problemSlug(int status) {
  switch (status) {
    case 400:
      return "unparseable";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not-found";
    case 405:
      return "method-not-allowed";
    case 408:
      return "request-timeout";
    case 409:
      return "conflict";
    case 411:
      return "length-required";
    case 413:
      return "too-large";
    case 414:
      return "uri-too-long";
    case 415:
      return "unsupported-media-type";
    case 422:
      return "invalid";
    case 429:
      return "rate-limited";
    case 431:
      return "headers-too-large";
    case 501:
      return "not-implemented";
    case 503:
      return "unavailable";
    default:
      return "internal";
  }
}

inline int httpStatus(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUnparseable:
      return 400;
    case ErrorKind::kInvalid:
      return 422;
    case ErrorKind::kUnauthorized:
      return 401;
    case ErrorKind::kForbidden:
      return 403;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kConflict:
      return 409;
    case ErrorKind::kRetryable:
      return 503;
    case ErrorKind::kInternal:
      return 500;
  }
  return 500;
}

// A problem+json answer in the host's format (RFC 9457, CONTRACT.md).
inline HttpResponse problem(int status, const std::string& slug, const std::string& title,
                            const std::string& detail, const std::vector<FieldError>& fields = {}) {
  std::string body = "{\"type\":" + jsonString("/problems/" + slug) +
                     ",\"title\":" + jsonString(title) + ",\"status\":" + std::to_string(status) +
                     ",\"detail\":" + jsonString(detail);
  if (!fields.empty()) {
    body += ",\"errors\":[";
    for (std::size_t i = 0; i < fields.size(); ++i) {
      body += (i ? "," : "") + std::string("{\"field\":") + jsonString(fields[i].field) +
              ",\"message\":" + jsonString(fields[i].message) + "}";
    }
    body += "]";
  }
  body += "}";
  return HttpResponse{status, "application/problem+json", body, {}};
}

// The answer for an error value: its kind's status, its slug or the status's. A retryable
// error says when to retry.
inline HttpResponse problem(const Error& e) {
  const int status = httpStatus(e.kind);
  HttpResponse r = problem(status, e.slug.empty() ? problemSlug(status) : e.slug,
                           problemTitle(status), e.message, e.fields);
  if (status == 503) r.headers.emplace_back("Retry-After", "1");
  return r;
}

// ---- events from the outbox, at least once, in order, per subscription
struct Event {
  std::string id;
  std::string type;
  std::string subject_id;
  std::string partner;
  std::string created_at;  // RFC 3339
  std::string data;        // JSON object text
};

class Events {
 public:
  virtual ~Events() = default;
  // `types` empty: every type. A handler that fails is called again with the same event.
  virtual Status subscribe(const std::string& name, std::vector<std::string> types,
                           std::function<Status(const Event&)> handler) = 0;
};

// ---- periodic jobs, on the daemon's clock
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual Status every(const std::string& name, std::chrono::seconds interval,
                       std::function<Status()> job) = 0;
};

// ---- services
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::sys_time<std::chrono::milliseconds> now() const = 0;
};

// RFC 3339 UTC with milliseconds, as the host writes timestamps ("2026-11-23T16:17:02.157Z").
inline std::string rfc3339(std::chrono::sys_time<std::chrono::milliseconds> t) {
  const auto days = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day date{days};
  const std::chrono::hh_mm_ss time{t - days};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(time.hours().count()),
                static_cast<int>(time.minutes().count()), static_cast<int>(time.seconds().count()),
                static_cast<int>(time.subseconds().count()));
  return buf;
}

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void info(const std::string& message) = 0;
  virtual void warning(const std::string& message) = 0;
  virtual void error(const std::string& message) = 0;
};

class Metrics {
 public:
  virtual ~Metrics() = default;
  // Adds to the counter ciclo_plugin_<plugin>_<name>_total.
  virtual void count(const std::string& name, std::uint64_t by = 1) = 0;
};

// Cryptography for plugins: no plugin calls OpenSSL itself.
class Crypto {
 public:
  virtual ~Crypto() = default;
  virtual std::string hmacSha256(const std::string& key, const std::string& data) = 0;  // raw bytes
  virtual bool constantTimeEquals(const std::string& a, const std::string& b) = 0;
  virtual std::string randomToken(std::size_t bytes) = 0;  // base64url
  // Standard Webhooks verification of a raw body against a whsec_ secret.
  virtual Status verifyStandardWebhook(const std::string& secret, const std::string& id,
                                       const std::string& timestamp, const std::string& signatures,
                                       const std::string& body, std::chrono::seconds tolerance) = 0;
  // Secrets at rest under the daemon's master key.
  virtual std::string seal(const std::string& plaintext) = 0;
  virtual Result<std::string> open(const std::string& sealed) = 0;
};

// A lead as plugins see it: its identity, status and JSON document.
struct LeadView {
  std::string id;
  std::string status;
  std::string json;
};

// What a capture offers about a lead, as text the host normalises and checks: the email
// (case, spaces, IDN), the phone (to E.164; Italian when it has no country code), the
// country (ISO 3166 alpha-2), the revenue (a decimal string and an ISO 4217 currency). An
// email or a phone is required. Errors name these fields ("email", "utm_campaign", ...).
struct LeadInput {
  std::string email, phone, first_name, last_name, job_title, company, website, industry, country,
      city, needs;
  std::optional<long long> employees;
  std::string annual_revenue, revenue_currency;
  std::string source = "api";  // web_form, referral, import, manual, email, api
  std::string partner, channel, page_url;
  std::string utm_source, utm_medium, utm_campaign, utm_term, utm_content;
  bool consent_granted = false;
  std::string consent_text, consent_source, consent_ip, consent_page;
  std::string owner;
  std::string persona;  // the buyer persona this channel feeds: fills a blank only
  std::map<std::string, std::string> custom;
};

// The profile fields that are text, by their names in the API, feeds and imports.
inline constexpr std::string_view kProfileTextFields[] = {
    "email",   "phone",    "first_name", "last_name", "job_title", "company",
    "website", "industry", "country",    "city",      "needs"};

// The member holding the profile text field `name`, or nullptr.
inline std::string* profileText(LeadInput& in, std::string_view name) {
  std::string* members[] = {&in.email,     &in.phone,   &in.first_name, &in.last_name,
                            &in.job_title, &in.company, &in.website,    &in.industry,
                            &in.country,   &in.city,    &in.needs};
  for (std::size_t i = 0; i < std::size(kProfileTextFields); ++i) {
    if (kProfileTextFields[i] == name) return members[i];
  }
  return nullptr;
}

// A key naming a plugin's record in URLs and configuration (a form, a partner): 1 to 64
// characters of a-z, 0-9, - and _.
inline bool isKey(std::string_view key) {
  return !key.empty() && key.size() <= 64 && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// A custom field's name: 1 to 64 characters of a-z, 0-9 and _.
inline bool isCustomFieldName(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

struct CaptureResult {
  std::string lead_id;
  std::string outcome;    // created, merged, unchanged
  std::string json;       // the lead after the capture
  bool replayed = false;  // an earlier capture with the same key answered
};

// Something a lead did, reported by a plugin: an email opened or clicked, a reply, an
// unsubscribe, a bounce.
struct InteractionInput {
  std::string lead_id;
  std::string type;         // email_opened, email_clicked, email_replied, unsubscribed, ...
  std::string occurred_at;  // RFC 3339; empty: now
  std::string url;          // what it concerned (a link, a page), optional
  std::string title;        // a short description, optional
};

struct InteractionResult {
  std::string id;       // the interaction's id
  std::string lead_id;  // the lead it was recorded on (the survivor of a merge)
  std::string lead_status;
  long long score = 0;
};

// What an outside source says about a lead's company (Tx::enrich), by profile field name:
// "company", "website", "industry", "country" (ISO 3166 alpha-2), "city", "employees" (a
// whole number) and "employees_range" ("51-200", "10001+"). Email and phone are never
// enriched.
struct EnrichmentInput {
  std::string lead_id;
  std::string source;     // [a-z0-9_], e.g. "linkedin": each field's recorded provenance
  std::string reference;  // what was looked up there, e.g. "urn:li:organization:1337"
  std::map<std::string, std::string> fields;
};

struct EnrichmentResult {
  std::string lead_id;               // the lead enriched (the survivor of a merge)
  std::vector<std::string> filled;   // were empty
  std::vector<std::string> updated;  // held this or another source's earlier value
  std::vector<std::string> kept;     // entered by the lead or a person: never overwritten
  std::string json;                  // the lead after the enrichment
};

// A capture checked and made ready outside the writer (Leads::prepare), to be carried out in
// a Storage::write transaction (Tx::capture) together with the plugin's own rows.
class PreparedLead {
 public:
  virtual ~PreparedLead() = default;
};

class Leads {
 public:
  virtual ~Leads() = default;
  virtual Result<LeadView> get(const std::string& id) = 0;
  // Normalises and checks `input` as capture() does, without writing anything.
  virtual Result<std::shared_ptr<const PreparedLead>> prepare(const LeadInput& input) = 0;
  // leads.capture(): creates the lead or merges into the one with the same email or phone,
  // committing the lead, its timeline entry and its event together. With a non-empty
  // `idempotency_key` (scoped to the plugin), a repeat returns the first result.
  virtual Result<CaptureResult> capture(const LeadInput& input,
                                        const std::string& idempotency_key) = 0;
  // As capture(), without waiting for the commit: `then` runs once with the result - on the
  // store's answering thread once the capture is committed, or here when it is refused before.
  // The answers of later commits wait for it: it must be quick and must not wait for the store
  // (a write or a capture() without `then` from it fails).
  virtual void capture(const LeadInput& input, const std::string& idempotency_key,
                       std::function<void(Result<CaptureResult>)> then) = 0;
  // The keys of the buyer personas the daemon profiles leads against (profiling.personas),
  // in the order configured; empty when none are.
  virtual std::vector<std::string> personas() = 0;
};

// ---- outbound HTTP through the host's connector: connect and total timeouts, TLS
// verification, no redirects, a response size cap, and no private or loopback addresses.
struct OutboundRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{15000};  // per try
  std::size_t max_response_bytes = 64 * 1024;
  // Hosts the URL may name ("api.example.com", "*.example.com"); empty: any public host.
  std::vector<std::string> allowed_hosts;
  // An HTTP proxy ("http://proxy.internal:3128") to go through; requires allowed_hosts.
  std::string proxy;
  // Tries in all: timeouts, lost connections, 502/503/504 and a 429 or 503 whose
  // Retry-After is within max_retry_wait are tried again after a jittered, doubling delay.
  int attempts = 1;
  std::chrono::milliseconds max_retry_wait{30000};
};

struct OutboundResponse {
  enum class Kind { kResponse, kRetry, kPermanent };
  Kind kind = Kind::kRetry;  // kRetry: timeout or network failure; kPermanent: refused by policy
  int status = 0;
  std::string body;
  std::string error;
  Headers headers;
  // The response's Retry-After (delay-seconds or an HTTP-date) as a delay from now.
  std::optional<std::chrono::seconds> retry_after;

  // The first value of a response header, by case-insensitive name, or "".
  std::string header(const std::string& name) const { return headerValue(headers, name); }
};

class Http {
 public:
  virtual ~Http() = default;
  virtual OutboundResponse send(const OutboundRequest& request) = 0;
};

// ---- outbound email through the host's SMTP connector and the relay the daemon's mail.smtp
// section configures: STARTTLS or TLS, AUTH, RFC 5321 timeouts. The plugin owns retries.
struct MailMessage {
  std::string message_id;     // "<local@domain>": the same for every attempt of one email
  std::string from;           // "Name <address>" or "address"
  std::string envelope_from;  // where bounces go; empty: from's address
  std::string to;             // one address
  std::string to_name;
  std::string subject;
  std::string text;                                          // the plain-text part (required)
  std::string html;                                          // the HTML part, or empty
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. List-Unsubscribe
  // When the email was written (its Date header), the same on every attempt; unset: now.
  std::chrono::sys_time<std::chrono::milliseconds> date{};
};

struct MailResult {
  enum class Kind {
    kSent,     // the relay took it
    kRetry,    // 4xx, timeout, lost connection, no relay reachable: send again later
    kBounce,   // 5xx: see `hard`
    kInvalid,  // refused before sending (CR/LF in a header, a malformed address)
  };
  Kind kind = Kind::kRetry;
  int code = 0;          // the SMTP reply code, 0 without one
  std::string enhanced;  // RFC 3463 status, "5.1.1", when the relay gave one
  bool hard = false;     // a bounce for an address that will never work
  std::string detail;
};

class Mail {
 public:
  virtual ~Mail() = default;
  virtual MailResult send(const MailMessage& message) = 0;
};

// ---- the plugin's own tables, named with its prefix ("p_<plugin>_"), on the daemon's
// store (SQLite or PostgreSQL: write SQL both accept; placeholders are $1, $2, ...).
using SqlValue = std::variant<std::monostate, long long, std::string>;
using SqlRow = std::vector<SqlValue>;

class Tx {
 public:
  virtual ~Tx() = default;
  virtual Result<std::size_t> exec(const std::string& sql, std::vector<SqlValue> params = {}) = 0;
  virtual Result<std::vector<SqlRow>> query(const std::string& sql,
                                            std::vector<SqlValue> params = {}) = 0;
  // Carries out a prepared capture in this (write) transaction, with its timeline entry and
  // event: merges into the lead `into` when given and it still exists as itself, else into
  // the lead with the same email or phone, else creates the lead.
  virtual Result<CaptureResult> capture(const PreparedLead& lead, const std::string& into) = 0;
  // Records what a lead did (the interaction types of POST /v1/leads/{id}/interactions) on
  // its timeline in this (write) transaction and scores the lead again. A lead merged into
  // another gets it on the surviving lead.
  virtual Result<InteractionResult> interact(const InteractionInput& interaction) = 0;
  // Enriches a lead's profile in this (write) transaction: fills what nobody entered, with
  // the source as each field's provenance; the timeline says what was filled from where,
  // and lead.enriched is emitted when anything changed (the lead is then profiled and scored
  // again). A lead merged into another is enriched as the surviving lead.
  virtual Result<EnrichmentResult> enrich(const EnrichmentInput& enrichment) = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;
  virtual const std::string& prefix() const = 0;
  // Numbered migrations, each applied once (recorded per plugin), in order.
  virtual Status migrate(
      const std::vector<std::pair<int, std::vector<std::string>>>& migrations) = 0;
  // In the daemon's group commit: answered once committed. A failing work changes nothing.
  virtual Status write(const std::function<Status(Tx&)>& work) = 0;
  virtual Status read(const std::function<Status(Tx&)>& work) = 0;
};

// Everything the host offers a plugin, valid from start() until stop() returns.
class Context {
 public:
  virtual ~Context() = default;
  virtual const std::string& pluginName() const = 0;
  virtual ConfigSection& config() = 0;
  virtual Routes& routes() = 0;
  virtual Events& events() = 0;
  virtual Scheduler& scheduler() = 0;
  virtual Leads& leads() = 0;
  virtual Clock& clock() = 0;
  virtual Logger& log() = 0;
  virtual Metrics& metrics() = 0;
  virtual Crypto& crypto() = 0;
  virtual Http& http() = 0;
  virtual Mail& mail() = 0;
  virtual Storage& storage() = 0;
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual Status start(Context& context) = 0;
  virtual void stop() = 0;
};

}  // namespace ciclo::sdk

extern "C" {
struct CicloPluginDescriptor {
  std::uint32_t abi_version;
  const char* sdk_hash;   // CICLO_SDK_HASH when the plugin was built
  const char* toolchain;  // compiler, version and C++ library ABI
  const char* name;
  const char* version;
  ciclo::sdk::Plugin* (*create)();
  void (*destroy)(ciclo::sdk::Plugin*);
};
}

#define CICLO_STRINGIFY_(x) #x
#define CICLO_STRINGIFY(x) CICLO_STRINGIFY_(x)
#define CICLO_TOOLCHAIN \
  "gcc-" __VERSION__    \
  " cxx11abi=" CICLO_STRINGIFY(_GLIBCXX_USE_CXX11_ABI) " std=" CICLO_STRINGIFY(__cplusplus)

// In one .cpp of the plugin: CICLO_PLUGIN(MyPlugin, "name", "1.0.0")
#define CICLO_PLUGIN(Type, Name, Version)                                                   \
  extern "C" __attribute__((visibility("default"))) const CicloPluginDescriptor*            \
  ciclo_plugin_descriptor() {                                                               \
    static const CicloPluginDescriptor descriptor{CICLO_PLUGIN_ABI_VERSION,                 \
                                                  CICLO_SDK_HASH,                           \
                                                  CICLO_TOOLCHAIN,                          \
                                                  Name,                                     \
                                                  Version,                                  \
                                                  []() -> ciclo::sdk::Plugin* {             \
                                                    try {                                   \
                                                      return new Type();                    \
                                                    } catch (...) {                         \
                                                      return nullptr;                       \
                                                    }                                       \
                                                  },                                        \
                                                  [](ciclo::sdk::Plugin* p) { delete p; }}; \
    return &descriptor;                                                                     \
  }
