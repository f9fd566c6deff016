#include "host/webhooks.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <pthread.h>

#include <set>

#include "domain/text.h"
#include "host/adapters.h"
#include "host/input.h"
#include "store/lead_json.h"

namespace ciclo::host {

const std::vector<std::chrono::seconds> kWebhookRetryDelays{
    std::chrono::seconds(5), std::chrono::minutes(5), std::chrono::minutes(30),
    std::chrono::hours(2),   std::chrono::hours(5),   std::chrono::hours(10),
    std::chrono::hours(10)};

const std::vector<std::string> kEventTypes{"lead.captured",
                                           "lead.merged",
                                           "lead.updated",
                                           "lead.enriched",
                                           "lead.profiled",
                                           "lead.status_changed",
                                           "lead.scored",
                                           "lead.qualified",
                                           "lead.disqualified",
                                           "account.created",
                                           "activity.created",
                                           "contact.created",
                                           "opportunity.stage_changed",
                                           "quote.sent",
                                           "quote.accepted",
                                           "order.received",
                                           "order.confirmed",
                                           "work_order.progressed",
                                           "invoice.issued",
                                           "invoice.overdue",
                                           "invoice.paid",
                                           "payment.received",
                                           "payment.reconciled",
                                           "dunning.reminder_sent",
                                           "collection.started"};

namespace {

Poco::Logger& log() {
  return Poco::Logger::get("ciclo.webhooks");
}

struct Endpoint {
  std::string id, url, partner, description, secret_sealed, status, disabled_reason;
  std::vector<std::string> event_types;
  Timestamp created_at{}, updated_at{};
};

const char* kEndpointColumns =
    "id, url, event_types, partner, description, secret_sealed, status, disabled_reason, "
    "created_at, updated_at";

Endpoint endpointFromRow(const store::Row& r) {
  Endpoint e;
  e.id = store::text(r[0]);
  e.url = store::text(r[1]);
  e.event_types = splitList(store::text(r[2]));
  e.partner = store::text(r[3]);
  e.description = store::text(r[4]);
  e.secret_sealed = store::text(r[5]);
  e.status = store::text(r[6]);
  e.disabled_reason = store::text(r[7]);
  parseTimestamp(store::text(r[8]), e.created_at);
  parseTimestamp(store::text(r[9]), e.updated_at);
  return e;
}

std::optional<Endpoint> findEndpoint(store::Connection& c, const std::string& id) {
  if (!isValidId("we", id)) return std::nullopt;
  auto rows = c.query(
      std::string("SELECT ") + kEndpointColumns + " FROM webhook_endpoints WHERE id = $1", {id});
  if (rows.empty()) return std::nullopt;
  return endpointFromRow(rows[0]);
}

Poco::JSON::Object::Ptr endpointJson(const Endpoint& e) {
  auto o = store::jsonObject();
  o->set("id", e.id);
  o->set("url", e.url);
  Poco::JSON::Array::Ptr types = new Poco::JSON::Array;
  for (const auto& t : e.event_types) types->add(t);
  o->set("event_types", types);
  o->set("partner", store::textOrNull(e.partner));
  o->set("description", e.description);
  o->set("status", e.status);
  o->set("disabled_reason", store::textOrNull(e.disabled_reason));
  o->set("created_at", formatTimestamp(e.created_at));
  o->set("updated_at", formatTimestamp(e.updated_at));
  return o;
}

// What a partner's endpoint may see of an event about a lead it referred: the lead's
// identity and status, never the profile data other sources added.
std::string projectForPartner(const std::string& data) {
  Poco::JSON::Parser parser;
  auto in = parser.parse(data).extract<Poco::JSON::Object::Ptr>();
  auto out = store::jsonObject();
  if (auto lead = in->getObject("lead")) {
    auto l = store::jsonObject();
    for (const char* key : {"id", "status", "disqualify_reason", "created_at", "updated_at"}) {
      if (lead->has(key)) l->set(key, lead->get(key));
    }
    out->set("lead", l);
  }
  for (const char* key : {"outcome", "from", "to", "command", "reason"}) {
    if (in->has(key)) out->set(key, in->get(key));
  }
  return store::toJsonText(out);
}

Result<std::vector<std::string>> readEventTypes(JsonInput& in, std::vector<FieldError>& errors,
                                                const Poco::JSON::Object& body, bool required) {
  if (!in.has("event_types")) {
    if (required) in.fail("event_types", "is required: a list of event types, or [\"*\"] for all");
    return std::vector<std::string>{};
  }
  const auto& v = body.get("event_types");
  if (v.type() != typeid(Poco::JSON::Array::Ptr)) {
    in.fail("event_types", "must be a list of event types");
    return std::vector<std::string>{};
  }
  auto array = v.extract<Poco::JSON::Array::Ptr>();
  std::vector<std::string> types;
  if (array->size() == 0 || array->size() > kEventTypes.size())
    in.fail("event_types", "must name 1 to " + std::to_string(kEventTypes.size()) + " types");
  for (std::size_t i = 0; i < array->size(); ++i) {
    const auto& item = array->get(i);
    const std::string t = item.isString() ? item.extract<std::string>() : std::string();
    if (t != "*" && std::find(kEventTypes.begin(), kEventTypes.end(), t) == kEventTypes.end()) {
      errors.push_back({"/event_types/" + std::to_string(i), "is not an event type"});
      continue;
    }
    if (std::find(types.begin(), types.end(), t) == types.end()) types.push_back(t);
  }
  return types;
}

Status checkUrl(const std::string& url, bool allowPrivate) {
  const bool https = url.starts_with("https://");
  if (!https && !(allowPrivate && url.starts_with("http://")))
    return Error::invalidField("/url", "must be an https:// URL");
  const auto hostStart = url.find("://") + 3;
  const auto hostEnd = url.find_first_of("/?#", hostStart);
  const std::string host =
      url.substr(hostStart, hostEnd == std::string::npos ? std::string::npos : hostEnd - hostStart);
  if (host.empty() || host.find('@') != std::string::npos ||
      host.find_first_of(" \t\r\n") != std::string::npos) {
    return Error::invalidField("/url", "must name a host, without credentials");
  }
  return Status();
}

}  // namespace

struct Webhooks::Due {
  std::string delivery_id, endpoint_id, event_id, url, secret_sealed, partner, endpoint_status,
      type, created_at, data;
  std::int64_t attempts;
};

Webhooks::Webhooks(Services& services, Crypto& crypto)
    : s_(services),
      crypto_(crypto),
      http_({services.config.outbound_allow_private_networks, "Ciclo-Webhooks/0.1"}) {}

Webhooks::~Webhooks() {
  stop();
}

Result<std::shared_ptr<const std::vector<Webhooks::Subscriber>>> Webhooks::subscribers() {
  {
    std::lock_guard lock(mutex_);
    if (subscribers_ &&
        std::chrono::steady_clock::now() - subscribersRead_ < std::chrono::seconds(1))
      return subscribers_;
  }
  auto fresh = std::make_shared<std::vector<Subscriber>>();
  Status read = s_.store.read([&](store::Connection& c) {
    for (const auto& row : c.query(std::string("SELECT ") + kEndpointColumns +
                                   " FROM webhook_endpoints WHERE status = 'active'")) {
      const Endpoint e = endpointFromRow(row);
      fresh->push_back({e.id, e.partner, e.event_types});
    }
    return Status();
  });
  if (!read.ok()) return read.error();
  std::lock_guard lock(mutex_);
  subscribers_ = std::move(fresh);
  subscribersRead_ = std::chrono::steady_clock::now();
  return subscribers_;
}

void Webhooks::invalidateSubscribers() {
  std::lock_guard lock(mutex_);
  subscribers_.reset();
}

Status Webhooks::fanOut(const store::Event& event) {
  auto current = subscribers();
  if (!current.ok()) return current.error();
  std::vector<std::string> matching;
  for (const auto& e : *current.value()) {
    const bool typeMatches =
        std::find(e.event_types.begin(), e.event_types.end(), "*") != e.event_types.end() ||
        std::find(e.event_types.begin(), e.event_types.end(), event.type) != e.event_types.end();
    if (typeMatches && (e.partner.empty() || e.partner == event.partner)) matching.push_back(e.id);
  }
  if (matching.empty()) return Status();  // most events: no writer needed, nothing to send
  Status queued = s_.store.write([&](store::Connection& c) -> Status {
    const std::string now = formatTimestamp(s_.clock.now());
    for (const auto& endpoint : matching) {
      c.exec(
          "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_seq, status, attempts, "
          "next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, "
          "$5) "
          "ON CONFLICT (endpoint_id, event_id) DO NOTHING",
          {s_.ids.next("wd"), endpoint, event.id, event.seq, now});
    }
    return Status();
  });
  if (queued.ok()) wake();
  return queued;
}

void Webhooks::start() {
  thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "ciclo-webhooks");
    run();
  });
}

void Webhooks::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Webhooks::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_one();
}

Webhooks::Counts Webhooks::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

void Webhooks::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(250), [&] { return woken_ || stopping_; });
      if (stopping_) return;
      woken_ = false;
    }
    while (deliverDue()) {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
  }
}

// Sends what is due now; true when a full batch was found (there may be more).
bool Webhooks::deliverDue() {
  constexpr int kBatch = 20;
  std::vector<Due> due;
  (void)s_.store.read([&](store::Connection& c) {
    for (const auto& r : c.query(
             "SELECT d.id, d.endpoint_id, d.event_id, e.url, e.secret_sealed, e.partner, e.status, "
             "o.type, "
             "o.created_at, o.data, d.attempts FROM webhook_deliveries d "
             "JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN outbox o ON o.seq = "
             "d.event_seq "
             "WHERE d.status = 'pending' AND d.next_attempt_at <= $1 ORDER BY d.next_attempt_at, "
             "d.id LIMIT $2",
             {formatTimestamp(s_.clock.now()), std::int64_t{kBatch}})) {
      due.push_back({store::text(r[0]), store::text(r[1]), store::text(r[2]), store::text(r[3]),
                     store::text(r[4]), store::text(r[5]), store::text(r[6]), store::text(r[7]),
                     store::text(r[8]), store::text(r[9]), store::integer(r[10])});
    }
    return Status();
  });
  for (const auto& d : due) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return false;
    }
    deliver(d);
  }
  return due.size() == static_cast<std::size_t>(kBatch);
}

void Webhooks::deliver(const Due& d) {
  const Timestamp now = s_.clock.now();
  const std::int64_t attempt = d.attempts + 1;
  auto finish = [&](const std::string& status, int httpStatus, const std::string& error,
                    bool disableEndpoint) {
    const bool retry = status == "retry";
    const bool exhausted = retry && attempt > static_cast<std::int64_t>(kWebhookRetryDelays.size());
    const std::string final = retry ? (exhausted ? "failed" : "pending") : status;
    const Timestamp next = retry && !exhausted
                               ? now + kWebhookRetryDelays[static_cast<std::size_t>(attempt - 1)]
                               : now;
    (void)s_.store.write([&](store::Connection& c) {
      c.exec(
          "UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, "
          "last_status = $4, "
          "last_error = $5, updated_at = $6 WHERE id = $7",
          {final, attempt, formatTimestamp(next),
           httpStatus ? store::SqlValue{std::int64_t{httpStatus}} : store::SqlValue{},
           error.empty() ? store::SqlValue{} : store::SqlValue{error}, formatTimestamp(now),
           d.delivery_id});
      if (disableEndpoint) {
        c.exec(
            "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $1, updated_at = "
            "$2 WHERE id = $3",
            {error, formatTimestamp(now), d.endpoint_id});
      }
      return Status();
    });
    if (disableEndpoint) invalidateSubscribers();
    std::lock_guard lock(mutex_);
    if (final == "succeeded")
      ++counts_.succeeded;
    else if (final == "failed")
      ++counts_.failed;
    else
      ++counts_.retried;
  };

  if (d.endpoint_status != "active") {
    finish("failed", 0, "the endpoint is disabled", false);
    return;
  }
  auto secret = crypto_.open(d.secret_sealed);
  if (!secret.ok()) {
    log().error("endpoint %s: %s", d.endpoint_id, secret.error().message);
    finish("failed", 0, "the endpoint's secret cannot be opened", false);
    return;
  }
  std::string data = d.data;
  if (!d.partner.empty()) data = projectForPartner(data);
  Poco::JSON::Object envelopeHead(Poco::JSON_PRESERVE_KEY_ORDER);
  envelopeHead.set("id", d.event_id);
  envelopeHead.set("type", d.type);
  envelopeHead.set("created_at", d.created_at);
  std::ostringstream head;
  envelopeHead.stringify(head);
  std::string body = head.str();
  body.pop_back();
  body += ",\"data\":" + data + "}";
  // The signature's timestamp is the real time of sending: receivers check it against theirs.
  const auto sentAt = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto signature = Crypto::standardWebhookSignature(secret.value(), d.event_id, sentAt, body);
  connectors::HttpRequest request;
  request.url = d.url;
  request.body = body;
  request.headers = {{"Content-Type", "application/json"},
                     {"webhook-id", d.event_id},
                     {"webhook-timestamp", std::to_string(sentAt)},
                     {"webhook-signature", signature.ok() ? signature.value() : ""}};
  request.total_timeout = std::chrono::milliseconds(s_.config.webhooks.timeout_ms);
  request.connect_timeout = std::min(request.total_timeout, std::chrono::milliseconds(5000));
  const auto outcome = http_.send(request);
  switch (outcome.kind) {
    case connectors::HttpOutcome::Kind::kResponse:
      if (outcome.status >= 200 && outcome.status < 300) {
        finish("succeeded", outcome.status, "", false);
      } else if (outcome.status == 410) {
        finish("failed", 410, "the endpoint answered 410 Gone; it is disabled", true);
      } else {
        finish("retry", outcome.status, "the endpoint answered " + std::to_string(outcome.status),
               false);
      }
      break;
    case connectors::HttpOutcome::Kind::kRetry:
      finish("retry", 0, outcome.error, false);
      break;
    case connectors::HttpOutcome::Kind::kPermanent:
      finish("retry", 0, outcome.error, false);  // the URL may be corrected meanwhile
      break;
  }
}

// ---- the API

void Webhooks::addRoutes(Router& router) {
  const RouteOptions admin{"webhooks:admin", 16 * 1024};
  const RouteOptions read{"webhooks:admin", 0};

  router.add("POST", "/v1/webhook-endpoints", admin, [this](Request& r) {
    auto idem = idempotencyOf(r);
    if (!idem.ok()) return problemResponse(idem.error());
    auto body = parseJsonObject(r.body);
    if (!body.ok()) return problemResponse(body.error());
    std::vector<FieldError> errors;
    JsonInput in(*body.value(), "", errors);
    Endpoint e;
    e.url = in.text("url", 2048).value_or("");
    if (e.url.empty() && errors.empty()) in.fail("url", "is required");
    if (!e.url.empty()) {
      if (auto st = checkUrl(e.url, s_.config.outbound_allow_private_networks); !st.ok())
        errors.push_back(st.error().fields[0]);
    }
    e.event_types = readEventTypes(in, errors, *body.value(), true).value();
    e.partner = in.text("partner", 64).value_or("");
    e.description = in.text("description", 500).value_or("");
    in.rejectUnknown();
    if (!errors.empty())
      return problemResponse(Error::invalid("The endpoint has invalid fields.", std::move(errors)));
    const std::string secret = crypto_.newWebhookSecret();
    return writeIdempotent(s_, idem.value(), [&](store::Connection& c) -> Result<Response> {
      e.id = s_.ids.next("we");
      e.status = "active";
      e.secret_sealed = crypto_.seal(secret);
      e.created_at = e.updated_at = s_.clock.now();
      c.exec(std::string("INSERT INTO webhook_endpoints (") + kEndpointColumns +
                 ") VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $8)",
             {e.id, e.url, joinList(e.event_types),
              e.partner.empty() ? store::SqlValue{} : store::SqlValue{e.partner}, e.description,
              e.secret_sealed, e.status, formatTimestamp(e.created_at)});
      invalidateSubscribers();
      auto out = endpointJson(e);
      out->set("secret", secret);  // shown once
      Response response = jsonResponse(201, out);
      response.headers.emplace_back("Location", "/v1/webhook-endpoints/" + e.id);
      return response;
    });
  });

  router.add("GET", "/v1/webhook-endpoints", read, [this](Request&) {
    Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
    Status st = s_.store.read([&](store::Connection& c) {
      for (const auto& row : c.query(std::string("SELECT ") + kEndpointColumns +
                                     " FROM webhook_endpoints ORDER BY id")) {
        data->add(endpointJson(endpointFromRow(row)));
      }
      return Status();
    });
    if (!st.ok()) return problemResponse(st.error());
    return pageResponse(data, false, "");
  });

  router.add("GET", "/v1/webhook-endpoints/{id}", read, [this](Request& r) {
    return readResponse(s_, [&](store::Connection& c) -> Result<Response> {
      auto e = findEndpoint(c, r.params["id"]);
      if (!e) return Error::notFound("there is no such webhook endpoint");
      return jsonResponse(200, endpointJson(*e));
    });
  });

  router.add("PATCH", "/v1/webhook-endpoints/{id}", admin, [this](Request& r) {
    auto body = parseJsonObject(r.body);
    if (!body.ok()) return problemResponse(body.error());
    std::vector<FieldError> errors;
    JsonInput in(*body.value(), "", errors);
    const auto url = in.text("url", 2048);
    if (url) {
      if (auto st = checkUrl(*url, s_.config.outbound_allow_private_networks); !st.ok())
        errors.push_back(st.error().fields[0]);
    }
    const auto types = readEventTypes(in, errors, *body.value(), false).value();
    const auto status = in.text("status", 16);
    if (status && *status != "active" && *status != "disabled")
      in.fail("status", "must be active or disabled");
    const auto description = in.text("description", 500);
    in.rejectUnknown();
    if (!errors.empty())
      return problemResponse(Error::invalid("The endpoint has invalid fields.", std::move(errors)));
    return writeIdempotent(s_, std::nullopt, [&](store::Connection& c) -> Result<Response> {
      auto e = findEndpoint(c, r.params["id"]);
      if (!e) return Error::notFound("there is no such webhook endpoint");
      if (url) e->url = *url;
      if (!types.empty()) e->event_types = types;
      if (description) e->description = *description;
      if (status) {
        e->status = *status;
        e->disabled_reason = *status == "active" ? "" : "disabled through the API";
      }
      e->updated_at = s_.clock.now();
      c.exec(
          "UPDATE webhook_endpoints SET url = $1, event_types = $2, description = $3, status = $4, "
          "disabled_reason = $5, updated_at = $6 WHERE id = $7",
          {e->url, joinList(e->event_types), e->description, e->status,
           e->disabled_reason.empty() ? store::SqlValue{} : store::SqlValue{e->disabled_reason},
           formatTimestamp(e->updated_at), e->id});
      invalidateSubscribers();
      return jsonResponse(200, endpointJson(*e));
    });
  });

  router.add("GET", "/v1/webhook-endpoints/{id}/deliveries", read, [this](Request& r) {
    auto query = readPageQuery(r, "wd", {"status"});
    if (!query.ok()) return problemResponse(query.error());
    const auto& filters = query.value().filters;
    const std::string status = filters.contains("status") ? filters.at("status") : "";
    if (!status.empty() && status != "pending" && status != "succeeded" && status != "failed") {
      return problemResponse(Error::invalidField("status", "must be pending, succeeded or failed"));
    }
    const std::string& cursor = query.value().cursor;
    const Result<int> limit = query.value().limit;
    return readResponse(s_, [&](store::Connection& c) -> Result<Response> {
      if (!findEndpoint(c, r.params["id"]))
        return Error::notFound("there is no such webhook endpoint");
      std::string sql =
          "SELECT d.id, d.event_id, o.type, d.status, d.attempts, d.next_attempt_at, "
          "d.last_status, "
          "d.last_error, d.updated_at FROM webhook_deliveries d JOIN outbox o ON o.seq = "
          "d.event_seq "
          "WHERE d.endpoint_id = $1 AND d.id > $2";
      store::Params params{r.params["id"], cursor};
      if (!status.empty()) {
        sql += " AND d.status = $3";
        params.emplace_back(status);
      }
      params.emplace_back(std::int64_t{limit.value() + 1});
      sql += " ORDER BY d.id LIMIT $" + std::to_string(params.size());
      auto rows = c.query(sql, params);
      const bool more = rows.size() > static_cast<std::size_t>(limit.value());
      if (more) rows.pop_back();
      Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
      for (const auto& row : rows) {
        auto o = store::jsonObject();
        o->set("id", store::text(row[0]));
        o->set("event_id", store::text(row[1]));
        o->set("event_type", store::text(row[2]));
        o->set("status", store::text(row[3]));
        o->set("attempts", store::integer(row[4]));
        o->set("next_attempt_at", store::text(row[3]) == "pending"
                                      ? Poco::Dynamic::Var(store::text(row[5]))
                                      : Poco::Dynamic::Var());
        o->set("last_status", store::isNull(row[6]) ? Poco::Dynamic::Var()
                                                    : Poco::Dynamic::Var(store::integer(row[6])));
        o->set("last_error", store::isNull(row[7]) ? Poco::Dynamic::Var()
                                                   : Poco::Dynamic::Var(store::text(row[7])));
        o->set("updated_at", store::text(row[8]));
        data->add(o);
      }
      return pageResponse(data, more, more ? store::text(rows.back()[0]) : "");
    });
  });

  router.add("POST", "/v1/webhook-deliveries/{id}/replay", admin, [this](Request& r) {
    Response response =
        writeIdempotent(s_, std::nullopt, [&](store::Connection& c) -> Result<Response> {
          const std::string id = r.params["id"];
          if (!isValidId("wd", id)) return Error::notFound("there is no such delivery");
          auto rows = c.query(
              "SELECT d.status, e.status FROM webhook_deliveries d JOIN webhook_endpoints e "
              "ON e.id = d.endpoint_id WHERE d.id = $1",
              {id});
          if (rows.empty()) return Error::notFound("there is no such delivery");
          if (store::text(rows[0][0]) == "pending")
            return Error::conflict("the delivery is still pending", "delivery-pending");
          if (store::text(rows[0][1]) != "active") {
            return Error::conflict("the endpoint is disabled; enable it first",
                                   "endpoint-disabled");
          }
          c.exec(
              "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = "
              "$1, updated_at = $1 "
              "WHERE id = $2",
              {formatTimestamp(s_.clock.now()), id});
          auto out = store::jsonObject();
          out->set("id", id);
          out->set("status", "pending");
          return jsonResponse(202, out);
        });
    if (response.status == 202) wake();
    return response;
  });
}

}  // namespace ciclo::host
