#include "host/plugin_host.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/Logger.h>
#include <dlfcn.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <unordered_set>

#include "ciclo/text.h"
#include "host/adapters.h"
#include "host/lead_scoring.h"
#include "host/leads_service.h"
#include "store/lead_json.h"
#include "store/lead_store.h"

namespace ciclo::host {

namespace {

Poco::Logger& hostLog() {
  return Poco::Logger::get("ciclo.plugins");
}

sdk::Error toSdk(const Error& e) {
  std::vector<sdk::FieldError> fields;
  for (const auto& f : e.fields) fields.push_back({f.field, f.message});
  return sdk::Error{sdkKind(e.kind), e.message, fields, e.slug};
}

Error fromSdk(const sdk::Error& e) {
  std::vector<FieldError> fields;
  for (const auto& f : e.fields) fields.push_back({f.field, f.message});
  return Error{domainKind(e.kind), e.message, fields, e.slug};
}

}  // namespace

Status checkPluginSql(const std::string& sql, const std::string& prefix) {
  // Words, lower-cased; quoted strings and identifiers are skipped over.
  std::vector<std::string> words;
  for (std::size_t i = 0; i < sql.size();) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      const auto close = sql.find(c, i + 1);
      if (c == '"') return Error::invalid("plugin SQL may not use quoted identifiers");
      i = close == std::string::npos ? sql.size() : close + 1;
      continue;
    }
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t j = i;
      while (j < sql.size() &&
             (std::isalnum(static_cast<unsigned char>(sql[j])) || sql[j] == '_' || sql[j] == '.'))
        ++j;
      std::string w = sql.substr(i, j - i);
      for (auto& ch : w) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      words.push_back(std::move(w));
      i = j;
      continue;
    }
    if (c == ';') {
      const auto rest = sql.find_first_not_of(" \t\r\n;", i);
      if (rest != std::string::npos) return Error::invalid("plugin SQL is one statement at a time");
    }
    ++i;
  }
  if (words.empty()) return Error::invalid("empty SQL");
  static const std::set<std::string> kForbidden{
      "pragma",    "attach",  "detach", "vacuum", "begin", "commit", "rollback",
      "savepoint", "release", "grant",  "revoke", "copy",  "set",    "reindex"};
  if (kForbidden.contains(words[0])) return Error::invalid("plugin SQL may not use " + words[0]);
  const bool createIndex = words.size() > 2 && words[0] == "create" &&
                           (words[1] == "index" || (words[1] == "unique" && words[2] == "index"));
  static const std::set<std::string> kBefore{"from", "join", "into", "update", "table"};
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    // An upsert's "ON CONFLICT (...) DO UPDATE SET" updates the row being inserted.
    const bool upsert = words[i] == "update" && i > 0 && words[i - 1] == "do";
    const bool names = !upsert && (kBefore.contains(words[i]) ||
                                   (createIndex && (words[i] == "index" || words[i] == "on")));
    if (!names) continue;
    std::size_t k = i + 1;
    while (k < words.size() &&
           (words[k] == "if" || words[k] == "not" || words[k] == "exists" || words[k] == "only"))
      ++k;
    if (k >= words.size()) break;
    if (!words[k].starts_with(prefix))
      return Error::invalid("plugin SQL may use only its own tables (" + prefix + "...), not " +
                            words[k]);
  }
  return Status();
}

Status checkDescriptor(const CicloPluginDescriptor* d) {
  if (!d) return Error::invalid("it returned no descriptor");
  if (d->abi_version != CICLO_PLUGIN_ABI_VERSION) {
    return Error::invalid("its plugin ABI is version " + std::to_string(d->abi_version) +
                          ", this ciclod speaks " + std::to_string(CICLO_PLUGIN_ABI_VERSION));
  }
  if (!d->sdk_hash || std::string(d->sdk_hash) != CICLO_SDK_HASH) {
    return Error::invalid(std::string("it was built against other SDK headers (hash ") +
                          (d->sdk_hash ? d->sdk_hash : "none") + ", this ciclod has " +
                          CICLO_SDK_HASH + ")");
  }
  if (!d->toolchain || std::string(d->toolchain) != CICLO_TOOLCHAIN) {
    return Error::invalid(std::string("it was built with another toolchain (") +
                          (d->toolchain ? d->toolchain : "none") +
                          ", this ciclod: " + CICLO_TOOLCHAIN + ")");
  }
  if (!d->name || !*d->name) return Error::invalid("its descriptor has no name");
  if (!d->version || !*d->version) return Error::invalid("its descriptor has no version");
  if (!d->create || !d->destroy)
    return Error::invalid("its descriptor has no create or destroy function");
  return Status();
}

Result<std::unique_ptr<PluginLibrary>> PluginLibrary::open(const std::string& path) {
  auto lib = std::unique_ptr<PluginLibrary>(new PluginLibrary);
  lib->handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib->handle_) {
    const char* why = ::dlerror();
    return Error::invalid("cannot load " + path + ": " + (why ? why : "unknown error"));
  }
  using Entry = const CicloPluginDescriptor* (*)();
  auto entry = reinterpret_cast<Entry>(::dlsym(lib->handle_, "ciclo_plugin_descriptor"));
  if (!entry) return Error::invalid(path + " exports no ciclo_plugin_descriptor()");
  lib->descriptor_ = entry();
  return lib;
}

// A library stays loaded for the life of the process: the router and the dispatcher keep
// closures that plugin code created, and destroying those needs the code still mapped.
PluginLibrary::~PluginLibrary() = default;

// Everything one plugin registered, so that it can all be revoked.
struct PluginHost::Loaded : sdk::Context,
                            sdk::Routes,
                            sdk::Events,
                            sdk::Scheduler,
                            sdk::Leads,
                            sdk::Clock,
                            sdk::Logger,
                            sdk::Metrics,
                            sdk::Crypto,
                            sdk::Http,
                            sdk::Mail,
                            sdk::Storage {
  PluginHost& host;
  PluginSpec spec;
  std::unique_ptr<PluginLibrary> library;
  sdk::Plugin* plugin = nullptr;
  std::unique_ptr<sdk::ConfigSection> configSection;
  std::string configError;
  std::vector<int> jobs;
  std::shared_ptr<std::atomic<bool>> active = std::make_shared<std::atomic<bool>>(true);

  std::string tablePrefix;

  Loaded(PluginHost& h, PluginSpec s)
      : host(h), spec(std::move(s)), tablePrefix("p_" + spec.name + "_") {}

  // checkPluginSql, once per statement text: a plugin runs the same few statements for
  // every request, and looking the text up costs far less than reading it again.
  std::mutex checkedMutex;
  std::unordered_set<std::string> checkedSql;
  Status checkSql(const std::string& sql) {
    {
      std::lock_guard lock(checkedMutex);
      if (checkedSql.contains(sql)) return Status();
    }
    Status st = checkPluginSql(sql, tablePrefix);
    if (st.ok()) {
      constexpr std::size_t kMaxChecked = 1024;  // statements built from data stay bounded
      std::lock_guard lock(checkedMutex);
      if (checkedSql.size() >= kMaxChecked) checkedSql.clear();
      checkedSql.insert(sql);
    }
    return st;
  }

  // sdk::Context
  const std::string& pluginName() const override { return spec.name; }
  sdk::ConfigSection& config() override { return *configSection; }
  sdk::Routes& routes() override { return *this; }
  sdk::Events& events() override { return *this; }
  sdk::Scheduler& scheduler() override { return *this; }
  sdk::Leads& leads() override { return *this; }
  sdk::Clock& clock() override { return *this; }
  sdk::Logger& log() override { return *this; }
  sdk::Metrics& metrics() override { return *this; }
  sdk::Crypto& crypto() override { return *this; }
  sdk::Http& http() override { return *this; }
  sdk::Mail& mail() override { return *this; }
  sdk::Storage& storage() override { return *this; }

  // sdk::Mail: the host's SMTP connector and relay.
  sdk::MailResult send(const sdk::MailMessage& m) override {
    if (!host.smtp_) {
      return sdk::MailResult{sdk::MailResult::Kind::kRetry, 0, "", false,
                             "no SMTP relay is configured (mail.smtp)"};
    }
    const auto out =
        host.smtp_->send(connectors::OutgoingMail{m.message_id, m.from, m.envelope_from, m.to,
                                                  m.to_name, m.subject, m.text, m.html, m.headers},
                         m.date.time_since_epoch().count() ? m.date : host.s_.clock.now());
    using K = connectors::SmtpOutcome::Kind;
    const auto kind = out.kind == K::kSent     ? sdk::MailResult::Kind::kSent
                      : out.kind == K::kRetry  ? sdk::MailResult::Kind::kRetry
                      : out.kind == K::kBounce ? sdk::MailResult::Kind::kBounce
                                               : sdk::MailResult::Kind::kInvalid;
    return sdk::MailResult{kind, out.code, out.enhanced, out.hard, out.detail};
  }

  // sdk::Http: the host's connector and its policy.
  sdk::OutboundResponse send(const sdk::OutboundRequest& r) override {
    connectors::HttpRequest request;
    request.method = r.method;
    request.url = r.url;
    request.headers = r.headers;
    request.body = r.body;
    request.total_timeout = r.timeout;
    request.connect_timeout = std::min(r.timeout, std::chrono::milliseconds(5000));
    request.max_response_bytes = r.max_response_bytes;
    request.allowed_hosts = r.allowed_hosts;
    request.proxy = r.proxy;
    request.attempts = std::clamp(r.attempts, 1, 10);
    request.max_retry_wait = r.max_retry_wait;
    auto out = host.http_.send(request);
    using K = connectors::HttpOutcome::Kind;
    const auto kind = out.kind == K::kResponse ? sdk::OutboundResponse::Kind::kResponse
                      : out.kind == K::kRetry  ? sdk::OutboundResponse::Kind::kRetry
                                               : sdk::OutboundResponse::Kind::kPermanent;
    const auto retryAfter =
        connectors::parseRetryAfter(out.header("Retry-After"), std::chrono::system_clock::now());
    return sdk::OutboundResponse{
        kind,      out.status, std::move(out.body), std::move(out.error), std::move(out.headers),
        retryAfter};
  }

  // sdk::Storage
  struct TxImpl : sdk::Tx {
    Loaded& plugin;
    store::Connection& c;
    const std::string& prefix;
    const bool writable;
    TxImpl(Loaded& l, store::Connection& conn, bool w)
        : plugin(l), c(conn), prefix(l.tablePrefix), writable(w) {}
    static store::Params convert(std::vector<sdk::SqlValue>& params) {
      store::Params out;
      for (auto& p : params) {
        if (auto* n = std::get_if<long long>(&p))
          out.emplace_back(static_cast<std::int64_t>(*n));
        else if (auto* t = std::get_if<std::string>(&p))
          out.emplace_back(std::move(*t));
        else
          out.emplace_back(std::monostate{});
      }
      return out;
    }
    sdk::Result<std::size_t> exec(const std::string& sql,
                                  std::vector<sdk::SqlValue> params) override {
      if (auto st = plugin.checkSql(sql); !st.ok()) return toSdk(st.error());
      return c.exec(sql, convert(params));  // store errors propagate to the host's guard
    }
    sdk::Result<std::vector<sdk::SqlRow>> query(const std::string& sql,
                                                std::vector<sdk::SqlValue> params) override {
      if (auto st = plugin.checkSql(sql); !st.ok()) return toSdk(st.error());
      std::vector<sdk::SqlRow> rows;
      for (auto& row : c.query(sql, convert(params))) {
        sdk::SqlRow out;
        for (auto& v : row) {
          if (auto* n = std::get_if<std::int64_t>(&v))
            out.emplace_back(static_cast<long long>(*n));
          else if (auto* t = std::get_if<std::string>(&v))
            out.emplace_back(std::move(*t));
          else
            out.emplace_back(std::monostate{});
        }
        rows.push_back(std::move(out));
      }
      return rows;
    }
    sdk::Result<sdk::CaptureResult> capture(const sdk::PreparedLead& lead,
                                            const std::string& into) override {
      if (!writable)
        return sdk::Error{sdk::ErrorKind::kInternal, "a capture needs a write transaction", {}, {}};
      const auto* prepared = dynamic_cast<const PreparedLeadImpl*>(&lead);
      if (!prepared)
        return sdk::Error{sdk::ErrorKind::kInternal, "the capture was not prepared here", {}, {}};
      auto captured = captureLead(plugin.host.s_, c, prepared->capture, plugin.actor(), into);
      return sdk::CaptureResult{captured.lead.id, std::string(toString(captured.outcome)),
                                std::move(captured.doc), false};
    }
    sdk::Result<sdk::InteractionResult> interact(const sdk::InteractionInput& in) override {
      auto invalid = [](const std::string& m) {
        return sdk::Error{sdk::ErrorKind::kInvalid, m, {}, {}};
      };
      if (!writable) return invalid("an interaction needs a write transaction");
      const auto type = interactionTypeFrom(in.type);
      if (!type) return invalid("interaction type must be one of " + interactionTypeNames());
      Timestamp at = plugin.host.s_.clock.now();
      if (!in.occurred_at.empty() && !parseTimestamp(in.occurred_at, at))
        return invalid("occurred_at must be an RFC 3339 timestamp");
      // The limits of POST /v1/leads/{id}/interactions.
      if (in.url.size() > 2048 || !sdk::isOneLine(in.url))
        return invalid("url must be one line of at most 2048 bytes");
      if (in.title.size() > 500 || !sdk::isOneLine(in.title))
        return invalid("title must be one line of at most 500 bytes");
      const std::string leadId = store::survivingLead(c, in.lead_id);
      auto lead = isValidId("lead", leadId) ? store::findLead(c, leadId) : std::nullopt;
      if (!lead)
        return sdk::Error{
            sdk::ErrorKind::kNotFound, "there is no lead " + leadId.substr(0, 40), {}, {}};
      auto recorded = recordLeadInteraction(plugin.host.s_, c, *lead, *type, at, in.url, in.title,
                                            plugin.actor());
      if (!recorded.ok()) return toSdk(recorded.error());
      return sdk::InteractionResult{recorded.value().doc->getValue<std::string>("id"), lead->id,
                                    std::string(toString(lead->status)), lead->score};
    }
    sdk::Result<sdk::EnrichmentResult> enrich(const sdk::EnrichmentInput& in) override {
      if (!writable)
        return sdk::Error{
            sdk::ErrorKind::kInvalid, "an enrichment needs a write transaction", {}, {}};
      const std::string leadId = store::survivingLead(c, in.lead_id);
      auto enriched = enrichLeadRecord(plugin.host.s_, c, leadId, in.source, in.reference,
                                       in.fields, plugin.actor());
      if (!enriched.ok()) return toSdk(enriched.error());
      auto& e = enriched.value();
      return sdk::EnrichmentResult{leadId, std::move(e.report.filled), std::move(e.report.updated),
                                   std::move(e.report.kept), std::move(e.doc)};
    }
  };

  struct PreparedLeadImpl : sdk::PreparedLead {
    PreparedCapture capture;
    explicit PreparedLeadImpl(PreparedCapture p) : capture(std::move(p)) {}
  };

  std::string actor() const { return "plugin:" + spec.name; }

  const std::string& prefix() const override { return tablePrefix; }

  sdk::Status migrate(
      const std::vector<std::pair<int, std::vector<std::string>>>& migrations) override {
    for (const auto& [version, statements] : migrations) {
      for (const auto& sql : statements) {
        if (auto st = checkPluginSql(sql, tablePrefix); !st.ok()) {
          return sdk::Error{sdk::ErrorKind::kInvalid,
                            "migration " + std::to_string(version) + ": " + st.error().message,
                            {},
                            {}};
        }
      }
    }
    Status st = host.s_.store.write([&](store::Connection& c) -> Status {
      for (const auto& [version, statements] : migrations) {
        if (!c.query("SELECT 1 FROM plugin_migrations WHERE plugin = $1 AND version = $2",
                     {spec.name, std::int64_t{version}})
                 .empty()) {
          continue;
        }
        for (const auto& sql : statements) c.exec(sql);
        c.exec("INSERT INTO plugin_migrations (plugin, version, applied_at) VALUES ($1, $2, $3)",
               {spec.name, std::int64_t{version}, formatTimestamp(host.s_.clock.now())});
      }
      return Status();
    });
    return st.ok() ? sdk::Status() : sdk::Status(toSdk(st.error()));
  }

  sdk::Status runWork(bool write, const std::function<sdk::Status(sdk::Tx&)>& work) {
    auto body = [&](store::Connection& c) -> Status {
      TxImpl tx(*this, c, write);
      sdk::Status st;
      try {
        st = work(tx);
      } catch (const Poco::Exception&) {
        throw;  // the store's guard turns it into an error value
      } catch (const std::exception& e) {
        return Error::internal(std::string("plugin ") + spec.name +
                               " failed in a transaction: " + e.what());
      }
      return st.ok() ? Status() : Status(fromSdk(st.error()));
    };
    Status st = write ? host.s_.store.write(body) : host.s_.store.read(body);
    return st.ok() ? sdk::Status() : sdk::Status(toSdk(st.error()));
  }
  sdk::Status write(const std::function<sdk::Status(sdk::Tx&)>& work) override {
    return runWork(true, work);
  }
  sdk::Status read(const std::function<sdk::Status(sdk::Tx&)>& work) override {
    return runWork(false, work);
  }

  // sdk::Routes: the host enforces the policy; the handler's exceptions stop at the boundary.
  sdk::Status add(const std::string& method, const std::string& pattern, sdk::RoutePolicy policy,
                  sdk::RouteHandler handler) override {
    return route(method, pattern, std::move(policy), false,
                 [handler = std::move(handler)](const sdk::HttpRequest& in) {
                   return hostResponse(handler(in));
                 });
  }

  sdk::Status addLater(const std::string& method, const std::string& pattern,
                       sdk::RoutePolicy policy, sdk::LaterRouteHandler handler) override {
    return route(method, pattern, std::move(policy), true,
                 [handler = std::move(handler), name = spec.name](const sdk::HttpRequest& in) {
                   auto owed = std::make_shared<OwedAnswer>(name, in.request_id);
                   Response response;
                   response.later = owed->later;
                   try {
                     handler(in, [owed](sdk::HttpResponse out) {
                       owed->give(hostResponse(std::move(out)));
                     });
                   } catch (...) {
                     owed->forget();  // answered below, as for a handler that answers at once
                     throw;
                   }
                   return response;
                 });
  }

  // What a plugin owes for a request it answers later: the first answer counts, and when the
  // last copy of the sdk::Answer is dropped without one, the request gets a 500.
  struct OwedAnswer {
    std::shared_ptr<LaterResponse> later = std::make_shared<LaterResponse>();
    std::string plugin, request_id;
    std::atomic<bool> given = false;

    OwedAnswer(std::string p, std::string id) : plugin(std::move(p)), request_id(std::move(id)) {}
    OwedAnswer(const OwedAnswer&) = delete;
    OwedAnswer& operator=(const OwedAnswer&) = delete;
    ~OwedAnswer() {
      if (given.exchange(true)) return;
      hostLog().error("plugin %s gave no answer to %s", plugin, request_id);
      later->settle(problemResponse(
          500, "", "an internal error occurred; the request id identifies it in the log"));
    }
    void give(Response response) {
      if (!given.exchange(true)) later->settle(std::move(response));
    }
    void forget() { given = true; }
  };

  static Response hostResponse(sdk::HttpResponse out) {
    return Response{out.status, out.content_type, std::move(out.body), std::move(out.headers), {}};
  }

  Status checkRoute(const std::string& method, const std::string& pattern) const {
    if (!pattern.starts_with("/") || pattern.find("//") != std::string::npos)
      return Error::invalid("route " + pattern + " is not an absolute path");
    for (const auto& r : host.api_.router().routes()) {
      if (r.method == method && r.pattern == pattern)
        return Error::conflict(method + " " + pattern + " is already served");
    }
    return Status();
  }

  // A route; `quick` ones (answered later) run on the server's event loop.
  sdk::Status route(const std::string& method, const std::string& pattern, sdk::RoutePolicy policy,
                    bool quick, std::function<Response(const sdk::HttpRequest&)> handler) {
    if (auto st = checkRoute(method, pattern); !st.ok()) return toSdk(st.error());
    auto alive = active;
    const std::string name = spec.name;
    host.api_.router().add(
        method, pattern,
        RouteOptions{std::move(policy.scope), policy.max_body, std::move(policy.media_types),
                     quick},
        [handler = std::move(handler), alive, name](Request& r) -> Response {
          if (!*alive) return problemResponse(503, "", "this service is stopping");
          try {
            return handler(sdk::HttpRequest{r.method, r.path, r.query, r.params, r.headers, r.body,
                                            r.client_ip, r.request_id,
                                            r.principal ? r.principal->name : ""});
          } catch (const std::exception& e) {
            hostLog().error("plugin %s failed on %s: %s", name, r.request_id,
                            std::string(e.what()));
          } catch (...) {
            hostLog().error("plugin %s failed on %s", name, r.request_id);
          }
          return problemResponse(
              500, "", "an internal error occurred; the request id identifies it in the log");
        });
    return sdk::Status();
  }

  // sdk::Events
  sdk::Status subscribe(const std::string& name, std::vector<std::string> types,
                        std::function<sdk::Status(const sdk::Event&)> handler) override {
    auto alive = active;
    const std::string owner = spec.name;
    host.events_.subscribe(
        "plugin." + spec.name + "." + name, std::move(types),
        [handler = std::move(handler), alive, owner](const store::Event& e) -> Status {
          if (!*alive) return Error::retryable("the plugin is stopping");
          try {
            sdk::Status st = handler(sdk::Event{e.id, e.type, e.subject_id, e.partner,
                                                formatTimestamp(e.created_at), e.data});
            return st.ok() ? Status() : Status(fromSdk(st.error()));
          } catch (...) {
            return Error::internal("plugin " + owner + " threw on event " + e.id);
          }
        });
    return sdk::Status();
  }

  // sdk::Scheduler
  sdk::Status every(const std::string& name, std::chrono::seconds interval,
                    std::function<sdk::Status()> job) override {
    if (interval.count() < 1)
      return sdk::Error{sdk::ErrorKind::kInvalid, "a job's interval is at least a second", {}, {}};
    auto alive = active;
    const std::string owner = spec.name;
    jobs.push_back(
        host.scheduler_.every("plugin." + spec.name + "." + name, interval,
                              [job = std::move(job), alive, owner]() -> Status {
                                if (!*alive) return Status();
                                try {
                                  sdk::Status st = job();
                                  return st.ok() ? Status() : Status(fromSdk(st.error()));
                                } catch (...) {
                                  return Error::internal("plugin " + owner + " threw in a job");
                                }
                              }));
    return sdk::Status();
  }

  // sdk::Leads
  std::vector<std::string> personas() override {
    std::vector<std::string> keys;
    for (const auto& p : host.s_.config.profiling.personas) keys.push_back(p.key);
    return keys;
  }
  sdk::Result<sdk::LeadView> get(const std::string& id) override {
    sdk::LeadView view;
    Status st = host.s_.store.read([&](store::Connection& c) -> Status {
      if (!isValidId("lead", id)) return Error::notFound("there is no lead " + id.substr(0, 40));
      auto lead = store::findLead(c, id);
      if (!lead) return Error::notFound("there is no lead " + id);
      view = {lead->id, std::string(toString(lead->status)),
              store::toJsonText(store::leadToJson(*lead))};
      return Status();
    });
    if (!st.ok()) return toSdk(st.error());
    return view;
  }

  sdk::Result<std::shared_ptr<const sdk::PreparedLead>> prepare(
      const sdk::LeadInput& input) override {
    auto capture =
        buildCapture(host.s_, input, input.consent_ip, [](const std::string& f) { return f; });
    if (!capture.ok()) return toSdk(capture.error());
    return std::shared_ptr<const sdk::PreparedLead>(std::make_shared<const PreparedLeadImpl>(
        prepareCapture(host.s_, std::move(capture).value())));
  }

  sdk::Result<sdk::CaptureResult> capture(const sdk::LeadInput& input,
                                          const std::string& key) override {
    if (host.s_.store.onStoreThread()) {
      return sdk::Error{sdk::ErrorKind::kInternal,
                        "a capture cannot wait for the writer on the store's own threads",
                        {},
                        {}};
    }
    std::promise<sdk::Result<sdk::CaptureResult>> done;
    auto result = done.get_future();
    capture(input, key,
            [&done](sdk::Result<sdk::CaptureResult> r) { done.set_value(std::move(r)); });
    return result.get();
  }

  void capture(const sdk::LeadInput& input, const std::string& key,
               std::function<void(sdk::Result<sdk::CaptureResult>)> then) override {
    auto lead = prepare(input);
    if (!lead.ok()) return then(lead.error());
    std::optional<Idempotency> idem;
    if (!key.empty()) {
      if (key.size() > 255)
        return then(sdk::Error{
            sdk::ErrorKind::kInvalid, "an idempotency key is at most 255 bytes", {}, {}});
      idem = Idempotency{"plugin:" + spec.name + ":capture", key, sha256Hex(canonical(input))};
    }
    // The capture, when the work carried it out: written on the writer thread, read on the
    // store's answering thread once the batch is committed.
    auto fresh = std::make_shared<std::optional<Captured>>();
    Response pending = writeIdempotentLater(
        host.s_, idem,
        [&s = host.s_, lead = std::move(lead).value(), fresh, keep = idem.has_value(),
         actor = actor()](store::Connection& c) -> Result<Response> {
          const auto& prepared = static_cast<const PreparedLeadImpl&>(*lead).capture;
          auto captured = captureLead(s, c, prepared, actor);
          // The answer's body is only kept for a replay under the same key.
          Response r{captured.outcome == CaptureOutcome::kCreated ? 201 : 200,
                     "application/json",
                     keep ? captureAnswer(captured) : std::string(),
                     {},
                     {}};
          *fresh = std::move(captured);
          return r;
        },
        store::Repeat::kRepeatable);
    pending.later->onSettled([fresh, then = std::move(then)](Response response) {
      then(captureResult(std::move(response), *fresh));
    });
  }

  // What a capture's answer says. The work may have run more than once (it is repeatable):
  // `fresh` is from its last run, which is the one committed unless that run found the key's
  // first answer.
  static sdk::Result<sdk::CaptureResult> captureResult(Response response,
                                                       std::optional<Captured>& fresh) {
    const bool replayed =
        std::any_of(response.headers.begin(), response.headers.end(),
                    [](const auto& h) { return h.first == "Idempotent-Replayed"; });
    if (fresh && response.status < 400 && !replayed) {
      return sdk::CaptureResult{fresh->lead.id, std::string(toString(fresh->outcome)),
                                std::move(fresh->doc), false};
    }
    // A replayed answer, or a problem: read from the answer itself.
    auto body = parseJsonObject(response.body);
    if (!body.ok())
      return sdk::Error{sdk::ErrorKind::kInternal, "the capture's answer is unreadable", {}, {}};
    const auto& o = *body.value();
    if (response.status >= 400) return problemToSdk(response.status, o);
    sdk::CaptureResult result;
    result.lead_id = o.getValue<std::string>("id");
    result.outcome = o.getValue<std::string>("outcome");
    result.replayed = replayed;
    body.value()->remove("outcome");
    result.json = store::toJsonText(body.value());
    return result;
  }

  // The fields of an input in a fixed order: what an idempotency key's request hash covers.
  static std::string canonical(const sdk::LeadInput& in) {
    std::string out;
    for (const std::string* f : {&in.email,
                                 &in.phone,
                                 &in.first_name,
                                 &in.last_name,
                                 &in.job_title,
                                 &in.company,
                                 &in.website,
                                 &in.industry,
                                 &in.country,
                                 &in.city,
                                 &in.needs,
                                 &in.annual_revenue,
                                 &in.revenue_currency,
                                 &in.source,
                                 &in.partner,
                                 &in.channel,
                                 &in.page_url,
                                 &in.utm_source,
                                 &in.utm_medium,
                                 &in.utm_campaign,
                                 &in.utm_term,
                                 &in.utm_content,
                                 &in.consent_text,
                                 &in.consent_source,
                                 &in.consent_ip,
                                 &in.consent_page,
                                 &in.owner,
                                 &in.persona}) {
      out += *f;
      out += '\x1f';
    }
    out += in.employees ? std::to_string(*in.employees) : "-";
    out += in.consent_granted ? "\x1fy" : "\x1fn";
    for (const auto& [k, v] : in.custom) out += "\x1e" + k + "\x1f" + v;
    return out;
  }

  static sdk::Error problemToSdk(int status, const Poco::JSON::Object& problem) {
    sdk::Error e;
    e.kind = status == 400   ? sdk::ErrorKind::kUnparseable
             : status == 401 ? sdk::ErrorKind::kUnauthorized
             : status == 403 ? sdk::ErrorKind::kForbidden
             : status == 404 ? sdk::ErrorKind::kNotFound
             : status == 409 ? sdk::ErrorKind::kConflict
             : status == 422 ? sdk::ErrorKind::kInvalid
             : status == 503 ? sdk::ErrorKind::kRetryable
                             : sdk::ErrorKind::kInternal;
    e.message =
        problem.has("detail") ? problem.getValue<std::string>("detail") : "the capture failed";
    const std::string type = problem.has("type") ? problem.getValue<std::string>("type") : "";
    e.slug = type.starts_with("/problems/") ? type.substr(10) : "";
    if (auto errors = problem.getArray("errors")) {
      for (std::size_t i = 0; i < errors->size(); ++i) {
        auto f = errors->getObject(i);
        e.fields.push_back(
            {f->getValue<std::string>("field"), f->getValue<std::string>("message")});
      }
    }
    return e;
  }

  // sdk::Clock
  std::chrono::sys_time<std::chrono::milliseconds> now() const override {
    return host.s_.clock.now();
  }

  // sdk::Logger
  void info(const std::string& m) override {
    Poco::Logger::get("plugin." + spec.name).information(m);
  }
  void warning(const std::string& m) override {
    Poco::Logger::get("plugin." + spec.name).warning(m);
  }
  void error(const std::string& m) override { Poco::Logger::get("plugin." + spec.name).error(m); }

  // sdk::Metrics
  void count(const std::string& name, std::uint64_t by) override {
    host.api_.metrics().addCounter("ciclo_plugin_" + spec.name + "_" + name + "_total", by);
  }

  // sdk::Crypto
  std::string hmacSha256(const std::string& key, const std::string& data) override {
    return host::Crypto::hmacSha256(key, data);
  }
  bool constantTimeEquals(const std::string& a, const std::string& b) override {
    return host::constantTimeEquals(a, b);
  }
  std::string randomToken(std::size_t bytes) override {
    const std::string raw = host.crypto_.randomBytes(bytes);
    return base64Url(std::span(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()));
  }
  sdk::Status verifyStandardWebhook(const std::string& secret, const std::string& id,
                                    const std::string& timestamp, const std::string& signatures,
                                    const std::string& body,
                                    std::chrono::seconds tolerance) override {
    Status st = host::Crypto::verifyStandardWebhook(secret, id, timestamp, signatures, body,
                                                    tolerance, host.s_.clock.now());
    return st.ok() ? sdk::Status() : sdk::Status(toSdk(st.error()));
  }
  std::string seal(const std::string& plaintext) override { return host.crypto_.seal(plaintext); }
  sdk::Result<std::string> open(const std::string& sealed) override {
    auto r = host.crypto_.open(sealed);
    if (!r.ok()) return toSdk(r.error());
    return r.value();
  }
};

PluginHost::PluginHost(Services& services, Crypto& crypto, Api& api, EventDispatcher& events,
                       Scheduler& scheduler)
    : s_(services),
      crypto_(crypto),
      api_(api),
      events_(events),
      scheduler_(scheduler),
      http_({services.config.outbound_allow_private_networks, "Ciclo/0.1"}) {
  if (services.config.smtp) smtp_ = std::make_unique<connectors::SmtpClient>(*services.config.smtp);
}

PluginHost::~PluginHost() {
  stopAll();
}

Status PluginHost::startAll() {
  for (const auto& spec : s_.config.plugins) {
    auto loaded = std::make_unique<Loaded>(*this, spec);
    auto refuse = [&](const std::string& why) -> Status {
      const std::string message = "plugin " + spec.name + " (" + spec.path + ") is refused: " + why;
      if (spec.required) return Error::invalid(message);
      hostLog().warning("%s; it is optional, so ciclod goes on without it", message);
      return Status();
    };
    auto library = PluginLibrary::open(spec.path);
    if (!library.ok()) {
      if (auto st = refuse(library.error().message); !st.ok()) return st;
      continue;
    }
    loaded->library = std::move(library).value();
    if (auto st = checkDescriptor(loaded->library->descriptor()); !st.ok()) {
      if (auto r = refuse(st.error().message); !r.ok()) return r;
      continue;
    }
    const auto* d = loaded->library->descriptor();
    loaded->plugin = d->create();
    if (!loaded->plugin) {
      if (auto r = refuse("create() failed"); !r.ok()) return r;
      continue;
    }
    loaded->configSection = pluginConfigSection(s_.config, spec, loaded->configError);
    sdk::Status started;
    try {
      started = loaded->plugin->start(*loaded);
    } catch (...) {
      started = sdk::Error{sdk::ErrorKind::kInternal, "start() threw", {}, {}};
    }
    if (!loaded->configError.empty()) {
      // A configuration error is never optional: it is the operator's to fix.
      loaded->plugin->stop();
      d->destroy(loaded->plugin);
      return Error::invalid(loaded->configError);
    }
    if (!started.ok()) {
      *loaded->active = false;
      for (int job : loaded->jobs) scheduler_.cancel(job);
      d->destroy(loaded->plugin);
      if (auto r = refuse("start() failed: " + started.error().message); !r.ok()) return r;
      continue;
    }
    hostLog().information("plugin %s %s started", std::string(d->name), std::string(d->version));
    loaded_.push_back(std::move(loaded));
  }
  return Status();
}

void PluginHost::stopAll() {
  for (auto it = loaded_.rbegin(); it != loaded_.rend(); ++it) {
    auto& l = **it;
    *l.active = false;  // routes answer 503, events wait, jobs do nothing
    for (int job : l.jobs) scheduler_.cancel(job);
    try {
      l.plugin->stop();
    } catch (...) {
      hostLog().error("plugin %s threw in stop()", l.spec.name);
    }
    l.library->descriptor()->destroy(l.plugin);
  }
  // The libraries stay loaded (see ~PluginLibrary); their records go.
  for (auto& l : loaded_) stopped_.push_back(std::move(l->library));
  loaded_.clear();
}

}  // namespace ciclo::host
