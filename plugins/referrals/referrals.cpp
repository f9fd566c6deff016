// The referrals plugin: partners send the leads they refer as signed webhooks - a JSON
// batch or a CSV feed (CONTRACT.md section 2) - and operators manage the partners through
// the admin API. See README.md.

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/MemoryStream.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <sstream>

#include "ciclo/csv.h"
#include "ciclo/plugin.h"
#include "ciclo/text.h"
#include "json.h"
#include "partner.h"
#include "referral.h"

namespace ciclo::plugins::referrals {

namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;

constexpr std::size_t kMaxBatch = 1000;
constexpr std::size_t kMaxBatchBody = 4 * 1024 * 1024;
constexpr std::size_t kMaxFeedBody = 10 * 1024 * 1024;
constexpr std::size_t kMaxFeedRows = 100'000;
constexpr std::size_t kChunk = 1000;  // feed rows carried out per transaction
constexpr auto kTolerance = std::chrono::minutes(5);
constexpr auto kDeliveryRetention = std::chrono::days(7);
constexpr auto kInFlightWait = std::chrono::seconds(30);

std::string base64(const std::string& bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << bytes;
  encoder.close();
  return out.str();
}

std::string base64UrlDecode(const std::string& text) {
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  return std::string((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
}

HttpResponse invalid(const std::string& detail, std::vector<sdk::FieldError> fields) {
  return sdk::problem(422, "invalid", "Invalid input", detail, fields);
}

// 409 for a delivery being carried out elsewhere at this moment: the retry gets its answer.
HttpResponse busy(const std::string& detail) {
  HttpResponse r = sdk::problem(409, "delivery-in-progress", "Conflict", detail);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

HttpResponse unknownPartner(const std::string& key) {
  return sdk::problem(404, "partner-not-found", "Not found",
                      "there is no partner " + (sdk::isKey(key) ? key : std::string("?")));
}

// Requests with the same key run one at a time: a copy that arrives while the first is
// being carried out waits for it, and then finds its answer.
class InFlight {
 public:
  bool enter(const std::string& key) {
    std::unique_lock lock(mutex_);
    if (!done_.wait_for(lock, kInFlightWait, [&] { return !keys_.contains(key); })) return false;
    keys_.insert(key);
    return true;
  }
  void leave(const std::string& key) {
    {
      std::lock_guard lock(mutex_);
      keys_.erase(key);
    }
    done_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  std::set<std::string> keys_;
};

// A referral on its way in: read from the request, checked, and prepared as a capture.
struct Item {
  std::size_t row = 0;  // feeds: the record number in the file, the header being 1
  Referral referral;
  std::shared_ptr<const sdk::PreparedLead> prepared;
  std::string lead_id;
  std::string outcome;  // created, merged, unchanged, rejected
};

// One signed request: which route, its webhook-id and a keyed hash of its body.
struct Delivery {
  std::string route;  // "referrals" or "feeds"
  std::string webhook_id;
  std::string body_hash;
  const std::string* feed = nullptr;  // the raw feed, kept
};

class Referrals : public sdk::Plugin {
 public:
  sdk::Status start(sdk::Context& ctx) override {
    ctx_ = &ctx;
    auto& config = ctx.config();
    auto partners = config.section("partners");
    for (const auto& key : partners->keys()) {
      auto section = partners->section(key);
      partners_[key] = std::make_shared<Partner>(partnerFromConfig(key, *section));
    }
    partners->finish();
    config.finish();

    if (auto st = ctx.storage().migrate(
            {{1,
              {"CREATE TABLE p_referrals_partners (partner_key TEXT PRIMARY KEY, "
               "doc TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
               "CREATE TABLE p_referrals_secrets (partner_key TEXT NOT NULL, id TEXT NOT NULL, "
               "sealed TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (partner_key, id))",
               "CREATE TABLE p_referrals_refs (partner_key TEXT NOT NULL, "
               "external_id TEXT NOT NULL, lead_id TEXT NOT NULL, created_at TEXT NOT NULL, "
               "updated_at TEXT NOT NULL, PRIMARY KEY (partner_key, external_id))",
               "CREATE TABLE p_referrals_deliveries (partner_key TEXT NOT NULL, "
               "route TEXT NOT NULL, webhook_id TEXT NOT NULL, body_hash TEXT NOT NULL, "
               "response TEXT NOT NULL, created_at TEXT NOT NULL, "
               "PRIMARY KEY (partner_key, route, webhook_id))",
               "CREATE INDEX p_referrals_deliveries_created ON p_referrals_deliveries "
               "(created_at)",
               "CREATE TABLE p_referrals_feeds (id TEXT PRIMARY KEY, partner_key TEXT NOT NULL, "
               "webhook_id TEXT NOT NULL, received_at TEXT NOT NULL, body TEXT NOT NULL, "
               "row_count INTEGER, report TEXT)",
               "CREATE INDEX p_referrals_feeds_partner ON p_referrals_feeds "
               "(partner_key, received_at)"}}});
        !st.ok())
      return st;
    if (auto st = loadStoredPartners(); !st.ok()) return st;

    auto& routes = ctx.routes();
    const sdk::RoutePolicy batch{"", kMaxBatchBody, {"application/json"}};
    const sdk::RoutePolicy feed{"", kMaxFeedBody, {"text/csv"}};
    const sdk::RoutePolicy admin{"partners:admin", 64 * 1024, {"application/json"}};
    const sdk::RoutePolicy adminRead{"partners:admin", 0, {}};
    for (auto st : {
             routes.add("POST", "/v1/partners/{partner}/referrals", batch,
                        [this](const HttpRequest& r) { return receiveBatch(r); }),
             routes.add("POST", "/v1/partners/{partner}/feeds", feed,
                        [this](const HttpRequest& r) { return receiveFeed(r); }),
             routes.add("GET", "/v1/partners", adminRead,
                        [this](const HttpRequest& r) { return listPartners(r); }),
             routes.add("POST", "/v1/partners", admin,
                        [this](const HttpRequest& r) { return createPartner(r); }),
             routes.add("GET", "/v1/partners/{partner}", adminRead,
                        [this](const HttpRequest& r) { return getPartner(r); }),
             routes.add("PATCH", "/v1/partners/{partner}", admin,
                        [this](const HttpRequest& r) { return updatePartner(r); }),
             routes.add("DELETE", "/v1/partners/{partner}", adminRead,
                        [this](const HttpRequest& r) { return deletePartner(r); }),
             routes.add("POST", "/v1/partners/{partner}/secrets", adminRead,
                        [this](const HttpRequest& r) { return addSecret(r); }),
             routes.add("DELETE", "/v1/partners/{partner}/secrets/{secret}", adminRead,
                        [this](const HttpRequest& r) { return removeSecret(r); }),
             routes.add("GET", "/v1/partners/{partner}/feeds", adminRead,
                        [this](const HttpRequest& r) { return listFeeds(r); }),
             routes.add("GET", "/v1/partners/{partner}/feeds/{feed}", adminRead,
                        [this](const HttpRequest& r) { return getFeed(r); }),
         }) {
      if (!st.ok()) return st;
    }
    return ctx.scheduler().every("forget-deliveries", std::chrono::hours(1),
                                 [this] { return forgetOldDeliveries(); });
  }

  void stop() override {}

 private:
  // ---- partners

  PartnerPtr find(const std::string& key) const {
    std::shared_lock lock(partnersMutex_);
    auto it = partners_.find(key);
    return it == partners_.end() ? nullptr : it->second;
  }

  sdk::Status loadStoredPartners() {
    std::vector<sdk::SqlRow> rows, secrets;
    auto st = ctx_->storage().read([&](sdk::Tx& tx) -> sdk::Status {
      auto r = tx.query("SELECT partner_key, doc FROM p_referrals_partners ORDER BY partner_key");
      if (!r.ok()) return r.error();
      rows = std::move(r.value());
      auto s = tx.query(
          "SELECT partner_key, id, sealed, created_at FROM p_referrals_secrets "
          "ORDER BY partner_key, created_at, id");
      if (!s.ok()) return s.error();
      secrets = std::move(s.value());
      return sdk::Status();
    });
    if (!st.ok()) return st;
    std::map<std::string, std::vector<PartnerSecret>> opened;
    for (const auto& row : secrets) {
      auto secret = ctx_->crypto().open(std::get<std::string>(row[2]));
      if (!secret.ok()) return internal("a stored partner secret cannot be opened", secret.error());
      opened[std::get<std::string>(row[0])].push_back(
          {std::get<std::string>(row[1]), secret.value(), std::get<std::string>(row[3])});
    }
    for (const auto& row : rows) {
      const auto& key = std::get<std::string>(row[0]);
      if (partners_.contains(key)) {
        ctx_->log().warning("partner " + key +
                            " is defined in the configuration file and through the API; the "
                            "configuration file's definition is used");
        continue;
      }
      Partner p;
      p.key = key;
      auto doc = parseJsonObject(std::get<std::string>(row[1]), 8);
      if (!doc.ok()) return internal("stored partner " + key + " is unreadable", doc.error());
      if (auto applied = applyPartnerJson(p, *doc.value()); !applied.ok())
        return internal("stored partner " + key + " is unreadable", applied.error());
      p.secrets = opened[key];
      partners_[key] = std::make_shared<Partner>(std::move(p));
    }
    return sdk::Status();
  }

  static sdk::Error internal(const std::string& what, const sdk::Error& cause) {
    return sdk::Error{sdk::ErrorKind::kInternal, what + ": " + cause.message, {}, {}};
  }

  // A new Standard Webhooks secret: whsec_ and 32 random bytes in base64.
  std::string newSecret() {
    return "whsec_" + base64(base64UrlDecode(ctx_->crypto().randomToken(32)));
  }

  // ---- signed requests

  // The request's Standard Webhooks headers; svix-* is the same scheme under older names.
  static std::string webhookHeader(const HttpRequest& r, const std::string& name) {
    std::string v = r.header("webhook-" + name);
    return v.empty() ? r.header("svix-" + name) : v;
  }

  struct Signed {
    PartnerPtr partner;
    std::string webhook_id;
  };

  // The partner whose secret signed this request, or the 401 answer. An unknown partner
  // gets the same answer as a wrong signature: the route does not tell who our partners are.
  std::variant<Signed, HttpResponse> verify(const HttpRequest& r) {
    const HttpResponse refused =
        sdk::problem(401, "invalid-signature", "Unauthorized",
                     "the webhook signature is missing, wrong or stale (Standard Webhooks: "
                     "webhook-id, webhook-timestamp, webhook-signature)");
    const PartnerPtr partner = find(r.params.at("partner"));
    const std::string id = webhookHeader(r, "id");
    const std::string timestamp = webhookHeader(r, "timestamp");
    const std::string signature = webhookHeader(r, "signature");
    if (!partner || id.empty() || id.size() > 255 ||
        !std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
      ctx_->metrics().count("refused_signature");
      return refused;
    }
    for (const auto& s : partner->secrets) {
      if (ctx_->crypto()
              .verifyStandardWebhook(s.secret, id, timestamp, signature, r.body, kTolerance)
              .ok())
        return Signed{partner, id};
    }
    ctx_->metrics().count("refused_signature");
    return refused;
  }

  // ---- POST /v1/partners/{partner}/referrals

  HttpResponse receiveBatch(const HttpRequest& r) {
    auto verified = verify(r);
    if (auto* refused = std::get_if<HttpResponse>(&verified)) return *refused;
    const auto& [partner, webhookId] = std::get<Signed>(verified);

    auto parsed = parseJsonObject(r.body, 16);
    if (!parsed.ok()) return sdk::problem(parsed.error());
    const auto list = parsed.value()->getArray("referrals");
    if (!list || list->size() == 0 || list->size() > kMaxBatch) {
      return invalid("A batch holds 1 to 1000 referrals.",
                     {{"/referrals", "must be an array of 1 to 1000 referrals"}});
    }
    std::vector<Item> items(list->size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      items[i].referral = referralFromJson(list->get(i), *partner);
      prepare(items[i]);
    }
    return deliver(*partner, {"referrals", webhookId, bodyHash(r.body), nullptr}, items);
  }

  // ---- POST /v1/partners/{partner}/feeds

  HttpResponse receiveFeed(const HttpRequest& r) {
    auto verified = verify(r);
    if (auto* refused = std::get_if<HttpResponse>(&verified)) return *refused;
    const auto& [partner, webhookId] = std::get<Signed>(verified);

    if (!sdk::isValidUtf8(r.body) || r.body.find('\0') != std::string::npos)
      return sdk::problem(400, "unparseable", "Bad Request", "the feed is not UTF-8 text");
    Poco::MemoryInputStream in(r.body.data(), static_cast<std::streamsize>(r.body.size()));
    sdk::CsvReader reader(in);
    sdk::CsvRecord record;
    if (!reader.next(record))
      return invalid("The feed is empty.", {{"header", "is required: a row of column names"}});
    if (!record.error.empty())
      return invalid("The feed's header row is malformed.", {{"header", record.error}});
    std::vector<std::string> header;
    std::vector<sdk::FieldError> errors;
    for (auto& name : record.fields) {
      std::string n = sdk::trimmed(name);
      std::transform(n.begin(), n.end(), n.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (std::find(header.begin(), header.end(), n) != header.end())
        errors.push_back({"header", "names the column " + n.substr(0, 64) + " twice"});
      header.push_back(std::move(n));
    }
    if (std::find(header.begin(), header.end(), "external_id") == header.end())
      errors.push_back({"header", "has no external_id column"});
    if (!errors.empty()) return invalid("The feed's header row is not usable.", errors);

    std::vector<Item> items;
    while (reader.next(record)) {
      if (items.size() == kMaxFeedRows)
        return invalid("A feed holds at most 100000 rows.",
                       {{"row", "there are more than 100000 rows"}});
      Item item;
      item.row = record.number;
      if (!record.error.empty()) {
        item.referral.errors.push_back({"row", record.error});
      } else {
        item.referral = referralFromRow(header, record.fields, *partner);
        prepare(item);
      }
      items.push_back(std::move(item));
    }
    if (items.empty()) return invalid("The feed has no rows.", {{"row", "there are no rows"}});
    return deliver(*partner, {"feeds", webhookId, bodyHash(r.body), &r.body}, items);
  }

  std::string bodyHash(const std::string& body) {
    return base64(ctx_->crypto().hmacSha256("ciclo.referrals.delivery", body));
  }

  // Checks an item's lead outside the writer; its errors keep the referral's field names.
  void prepare(Item& item) {
    if (!item.referral.errors.empty()) return;
    auto prepared = ctx_->leads().prepare(item.referral.lead);
    if (prepared.ok()) {
      item.prepared = std::move(prepared.value());
      return;
    }
    const auto& e = prepared.error();
    if (e.fields.empty()) item.referral.errors.push_back({"", e.message});
    for (const auto& f : e.fields) {
      const std::string name = f.field == "needs"                ? "note"
                               : f.field.starts_with("consent_") ? "consent_marketing"
                                                                 : f.field;
      item.referral.errors.push_back({name, f.message});
    }
  }

  // Carries out a delivery once: a repeat of its webhook-id gets the first answer, a
  // webhook-id reused with another body 409, a copy arriving meanwhile waits for the first.
  HttpResponse deliver(const Partner& partner, const Delivery& d, std::vector<Item>& items) {
    const std::string inFlightKey = partner.key + "\n" + d.route + "\n" + d.webhook_id;
    if (!inFlight_.enter(inFlightKey))
      return busy("this delivery is still being carried out; send it again shortly");
    struct Leave {
      InFlight& f;
      const std::string& k;
      ~Leave() { f.leave(k); }
    } leave{inFlight_, inFlightKey};

    std::optional<HttpResponse> earlier;
    auto st = ctx_->storage().read([&](sdk::Tx& tx) -> sdk::Status {
      auto seen = seenBefore(tx, partner, d);
      if (!seen.ok()) return seen.error();
      earlier = std::move(seen.value());
      return sdk::Status();
    });
    if (!st.ok()) return sdk::problem(st.error());
    if (earlier) return *earlier;

    const std::string now = sdk::rfc3339(ctx_->clock().now());
    std::string feedId;
    if (d.feed) {  // the raw feed is kept before any row is carried out
      feedId = "feed_" + ctx_->crypto().randomToken(12);
      st = ctx_->storage().write([&](sdk::Tx& tx) -> sdk::Status {
        auto done = tx.exec(
            "INSERT INTO p_referrals_feeds (id, partner_key, webhook_id, received_at, body) "
            "VALUES ($1, $2, $3, $4, $5)",
            {feedId, partner.key, d.webhook_id, now, *d.feed});
        return done.ok() ? sdk::Status() : sdk::Status(done.error());
      });
      if (!st.ok()) return sdk::problem(st.error());
    }

    std::string response;
    bool raced = false;  // another daemon on the store carried out the same delivery meanwhile
    for (std::size_t from = 0; from < items.size(); from += kChunk) {
      const std::size_t to = std::min(items.size(), from + kChunk);
      const bool last = to == items.size();
      st = ctx_->storage().write([&](sdk::Tx& tx) -> sdk::Status {
        for (std::size_t i = from; i < to; ++i) {
          if (auto done = carryOut(tx, partner, items[i], now); !done.ok()) return done;
        }
        if (!last) return sdk::Status();
        response = report(d, feedId, items);
        if (d.feed) {
          auto done =
              tx.exec("UPDATE p_referrals_feeds SET row_count = $2, report = $3 WHERE id = $1",
                      {feedId, static_cast<long long>(items.size()), response});
          if (!done.ok()) return done.error();
        }
        auto kept = tx.exec(
            "INSERT INTO p_referrals_deliveries (partner_key, route, webhook_id, body_hash, "
            "response, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            {partner.key, d.route, d.webhook_id, d.body_hash, response, now});
        if (!kept.ok()) return kept.error();
        raced = kept.value() == 0;
        return raced ? sdk::Status(sdk::Error{sdk::ErrorKind::kConflict, "raced", {}, {}})
                     : sdk::Status();
      });
      if (raced)
        return busy("this delivery was carried out meanwhile; send it again for its answer");
      if (!st.ok()) return sdk::problem(st.error());
    }
    count(items);
    return HttpResponse{200, "application/json", response, {}};
  }

  // The first answer to this delivery, or 409 for its webhook-id with another body.
  static sdk::Result<std::optional<HttpResponse>> seenBefore(sdk::Tx& tx, const Partner& partner,
                                                             const Delivery& d) {
    auto rows = tx.query(
        "SELECT body_hash, response FROM p_referrals_deliveries "
        "WHERE partner_key = $1 AND route = $2 AND webhook_id = $3",
        {partner.key, d.route, d.webhook_id});
    if (!rows.ok()) return rows.error();
    if (rows.value().empty()) return std::optional<HttpResponse>();
    const auto& row = rows.value().front();
    if (std::get<std::string>(row[0]) != d.body_hash)
      return sdk::Error{sdk::ErrorKind::kConflict,
                        "this webhook-id was delivered before with another body",
                        {},
                        "webhook-id-reused"};
    return std::optional<HttpResponse>(HttpResponse{
        200, "application/json", std::get<std::string>(row[1]), {{"Idempotent-Replayed", "true"}}});
  }

  // One referral in the writer: into the lead this partner's external_id already names, else
  // captured as any lead is; the (partner, external_id) pair then names the lead.
  static sdk::Status carryOut(sdk::Tx& tx, const Partner& partner, Item& item,
                              const std::string& now) {
    if (!item.prepared) {
      item.outcome = "rejected";
      return sdk::Status();
    }
    const std::string& externalId = item.referral.external_id;
    auto known =
        tx.query("SELECT lead_id FROM p_referrals_refs WHERE partner_key = $1 AND external_id = $2",
                 {partner.key, externalId});
    if (!known.ok()) return known.error();
    const std::string into =
        known.value().empty() ? std::string() : std::get<std::string>(known.value()[0][0]);
    auto captured = tx.capture(*item.prepared, into);
    if (!captured.ok()) return captured.error();
    item.lead_id = captured.value().lead_id;
    const std::string& outcome = captured.value().outcome;
    item.outcome = outcome == "created"                      ? "created"
                   : !into.empty() && outcome == "unchanged" ? "unchanged"
                                                             : "merged";
    auto kept = into.empty() ? tx.exec(
                                   "INSERT INTO p_referrals_refs (partner_key, external_id, "
                                   "lead_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
                                   {partner.key, externalId, item.lead_id, now})
                             : tx.exec(
                                   "UPDATE p_referrals_refs SET lead_id = $3, updated_at = $4 "
                                   "WHERE partner_key = $1 AND external_id = $2",
                                   {partner.key, externalId, item.lead_id, now});
    return kept.ok() ? sdk::Status() : sdk::Status(kept.error());
  }

  // {"results": [...]}: one result per item, in order; feeds name their rows. Written
  // directly: it is built in the writer's transaction, with the delivery it answers.
  static std::string report(const Delivery& d, const std::string& feedId,
                            const std::vector<Item>& items) {
    using sdk::jsonString;
    auto fields = [&](std::string& out, const std::vector<sdk::FieldError>& list,
                      std::size_t index) {
      out += '[';
      for (std::size_t k = 0; k < list.size(); ++k) {
        const auto& e = list[k];
        std::string field = e.field;
        if (!d.feed) {
          field = "/referrals/" + std::to_string(index) + (field.empty() ? "" : "/" + field);
        } else if (field.empty()) {
          field = "row";
        }
        out += k ? ",{\"field\":" : "{\"field\":";
        out += jsonString(field);
        out += ",\"message\":";
        out += jsonString(e.message);
        out += '}';
      }
      out += ']';
    };
    auto orNull = [](const std::string& s) {
      return s.empty() ? std::string("null") : jsonString(s);
    };
    std::string out = "{";
    if (d.feed) out += "\"feed_id\":" + jsonString(feedId) + ",";
    out += "\"results\":[";
    out.reserve(items.size() * 160);
    for (std::size_t i = 0; i < items.size(); ++i) {
      const Item& item = items[i];
      if (i) out += ',';
      out += '{';
      if (d.feed) out += "\"row\":" + std::to_string(item.row) + ",";
      out += "\"external_id\":" + orNull(item.referral.external_id);
      out += ",\"lead_id\":" + orNull(item.lead_id);
      out += ",\"outcome\":" + jsonString(item.outcome);
      out += ",\"errors\":";
      fields(out, item.referral.errors, i);
      out += ",\"warnings\":";
      fields(out, item.referral.warnings, i);
      out += '}';
    }
    out += "]}";
    return out;
  }

  void count(const std::vector<Item>& items) {
    std::map<std::string, std::uint64_t> by;
    for (const auto& item : items) ++by[item.outcome];
    for (const auto& [outcome, n] : by) ctx_->metrics().count("referrals_" + outcome, n);
  }

  sdk::Status forgetOldDeliveries() {
    const std::string before = sdk::rfc3339(ctx_->clock().now() - kDeliveryRetention);
    return ctx_->storage().write([&](sdk::Tx& tx) -> sdk::Status {
      auto done = tx.exec("DELETE FROM p_referrals_deliveries WHERE created_at < $1", {before});
      return done.ok() ? sdk::Status() : sdk::Status(done.error());
    });
  }

  // ---- the admin API (scope partners:admin)

  HttpResponse listPartners(const HttpRequest&) {
    Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
    {
      std::shared_lock lock(partnersMutex_);
      for (const auto& [key, partner] : partners_) data->add(partnerToJson(*partner));
    }
    JsonObject out = jsonObject();
    out->set("data", data);
    return jsonAnswer(200, out);
  }

  HttpResponse getPartner(const HttpRequest& r) {
    const PartnerPtr partner = find(r.params.at("partner"));
    if (!partner) return unknownPartner(r.params.at("partner"));
    return jsonAnswer(200, partnerToJson(*partner));
  }

  // The partner `key` as the API may change it, or the answer saying why not.
  std::variant<PartnerPtr, HttpResponse> changeable(const std::string& key) {
    const PartnerPtr partner = find(key);
    if (!partner) return unknownPartner(key);
    if (partner->from_config)
      return sdk::problem(
          {sdk::ErrorKind::kConflict,
           "partner " + key + " is defined in the configuration file; change it there",
           {},
           "defined-in-configuration"});
    return partner;
  }

  HttpResponse createPartner(const HttpRequest& r) {
    auto o = parseJsonObject(r.body, 8);
    if (!o.ok()) return sdk::problem(o.error());
    Partner partner;
    const auto key = o.value()->get("key");
    partner.key = key.isString() ? key.extract<std::string>() : "";
    if (!sdk::isKey(partner.key))
      return invalid("The partner has invalid settings.",
                     {{"/key", "is required: 1 to 64 characters of a-z, 0-9, - and _"}});
    if (auto st = applyPartnerJson(partner, *o.value()); !st.ok()) return sdk::problem(st.error());
    const std::string now = sdk::rfc3339(ctx_->clock().now());
    const std::string secret = newSecret();
    partner.secrets.push_back({"1", secret, now});

    std::lock_guard writing(writeMutex_);
    if (find(partner.key))
      return sdk::problem(
          {sdk::ErrorKind::kConflict, "there is already a partner " + partner.key, {}, {}});
    auto st = ctx_->storage().write([&](sdk::Tx& tx) -> sdk::Status {
      auto done = tx.exec(
          "INSERT INTO p_referrals_partners (partner_key, doc, created_at, updated_at) "
          "VALUES ($1, $2, $3, $3)",
          {partner.key, toJson(partnerSettings(partner)), now});
      if (!done.ok()) return done.error();
      return keepSecret(tx, partner.key, partner.secrets.back());
    });
    if (!st.ok()) return sdk::problem(st.error());
    auto stored = std::make_shared<const Partner>(partner);
    {
      std::unique_lock lock(partnersMutex_);
      partners_[partner.key] = stored;
    }
    JsonObject out = partnerToJson(*stored);
    out->set("secret", secret);  // shown this once
    return jsonAnswer(201, out);
  }

  sdk::Status keepSecret(sdk::Tx& tx, const std::string& key, const PartnerSecret& s) {
    auto done = tx.exec(
        "INSERT INTO p_referrals_secrets (partner_key, id, sealed, created_at) "
        "VALUES ($1, $2, $3, $4)",
        {key, s.id, ctx_->crypto().seal(s.secret), s.created_at});
    return done.ok() ? sdk::Status() : sdk::Status(done.error());
  }

  HttpResponse updatePartner(const HttpRequest& r) {
    auto o = parseJsonObject(r.body, 8);
    if (!o.ok()) return sdk::problem(o.error());
    std::lock_guard writing(writeMutex_);
    auto found = changeable(r.params.at("partner"));
    if (auto* refused = std::get_if<HttpResponse>(&found)) return *refused;
    Partner partner = *std::get<PartnerPtr>(found);
    const auto key = o.value()->get("key");
    if (!key.isEmpty() && (!key.isString() || key.extract<std::string>() != partner.key))
      return invalid("The partner has invalid settings.", {{"/key", "cannot be changed"}});
    if (auto st = applyPartnerJson(partner, *o.value()); !st.ok()) return sdk::problem(st.error());
    return replace(std::move(partner), [&](sdk::Tx& tx, const Partner& p) -> sdk::Status {
      auto done = tx.exec(
          "UPDATE p_referrals_partners SET doc = $2, updated_at = $3 WHERE partner_key = $1",
          {p.key, toJson(partnerSettings(p)), sdk::rfc3339(ctx_->clock().now())});
      return done.ok() ? sdk::Status() : sdk::Status(done.error());
    });
  }

  // Stores a change and then serves the changed partner; the caller holds writeMutex_.
  HttpResponse replace(Partner partner,
                       const std::function<sdk::Status(sdk::Tx&, const Partner&)>& change,
                       int status = 200, JsonObject out = nullptr) {
    auto st = ctx_->storage().write([&](sdk::Tx& tx) { return change(tx, partner); });
    if (!st.ok()) return sdk::problem(st.error());
    auto stored = std::make_shared<const Partner>(std::move(partner));
    {
      std::unique_lock lock(partnersMutex_);
      partners_[stored->key] = stored;
    }
    return jsonAnswer(status, out ? out : partnerToJson(*stored));
  }

  HttpResponse deletePartner(const HttpRequest& r) {
    std::lock_guard writing(writeMutex_);
    auto found = changeable(r.params.at("partner"));
    if (auto* refused = std::get_if<HttpResponse>(&found)) return *refused;
    const std::string key = std::get<PartnerPtr>(found)->key;
    auto st = ctx_->storage().write([&](sdk::Tx& tx) -> sdk::Status {
      for (const char* sql : {"DELETE FROM p_referrals_secrets WHERE partner_key = $1",
                              "DELETE FROM p_referrals_partners WHERE partner_key = $1"}) {
        if (auto done = tx.exec(sql, {key}); !done.ok()) return done.error();
      }
      return sdk::Status();
    });
    if (!st.ok()) return sdk::problem(st.error());
    {
      std::unique_lock lock(partnersMutex_);
      partners_.erase(key);
    }
    return HttpResponse{204, "", "", {}};
  }

  // A new secret beside the current ones: the partner moves to it, then the old one goes.
  HttpResponse addSecret(const HttpRequest& r) {
    std::lock_guard writing(writeMutex_);
    auto found = changeable(r.params.at("partner"));
    if (auto* refused = std::get_if<HttpResponse>(&found)) return *refused;
    Partner partner = *std::get<PartnerPtr>(found);
    if (partner.secrets.size() >= kMaxSecrets)
      return sdk::problem({sdk::ErrorKind::kConflict,
                           "a partner has at most " + std::to_string(kMaxSecrets) +
                               " secrets; remove an old one first",
                           {},
                           {}});
    int next = 1;
    for (const auto& s : partner.secrets) next = std::max(next, std::stoi(s.id) + 1);
    const PartnerSecret secret{std::to_string(next), newSecret(),
                               sdk::rfc3339(ctx_->clock().now())};
    partner.secrets.push_back(secret);
    JsonObject out = jsonObject();
    out->set("id", secret.id);
    out->set("secret", secret.secret);  // shown this once
    out->set("created_at", secret.created_at);
    return replace(
        std::move(partner),
        [&](sdk::Tx& tx, const Partner& p) { return keepSecret(tx, p.key, secret); }, 201, out);
  }

  HttpResponse removeSecret(const HttpRequest& r) {
    std::lock_guard writing(writeMutex_);
    auto found = changeable(r.params.at("partner"));
    if (auto* refused = std::get_if<HttpResponse>(&found)) return *refused;
    Partner partner = *std::get<PartnerPtr>(found);
    const std::string id = r.params.at("secret");
    auto it = std::find_if(partner.secrets.begin(), partner.secrets.end(),
                           [&](const PartnerSecret& s) { return s.id == id; });
    if (it == partner.secrets.end())
      return sdk::problem(404, "not-found", "Not found", "the partner has no such secret");
    if (partner.secrets.size() == 1)
      return sdk::problem({sdk::ErrorKind::kConflict,
                           "this is the partner's only secret; add its successor first",
                           {},
                           {}});
    partner.secrets.erase(it);
    auto answer = replace(std::move(partner), [&](sdk::Tx& tx, const Partner& p) -> sdk::Status {
      auto done = tx.exec("DELETE FROM p_referrals_secrets WHERE partner_key = $1 AND id = $2",
                          {p.key, id});
      return done.ok() ? sdk::Status() : sdk::Status(done.error());
    });
    return answer.status == 200 ? HttpResponse{204, "", "", {}} : answer;
  }

  // ---- kept feeds

  HttpResponse listFeeds(const HttpRequest& r) {
    const std::string key = r.params.at("partner");
    if (!find(key)) return unknownPartner(key);
    Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
    auto st = ctx_->storage().read([&](sdk::Tx& tx) -> sdk::Status {
      auto rows = tx.query(
          "SELECT id, webhook_id, received_at, row_count FROM p_referrals_feeds "
          "WHERE partner_key = $1 ORDER BY received_at DESC, id LIMIT 200",
          {key});
      if (!rows.ok()) return rows.error();
      for (const auto& row : rows.value()) {
        JsonObject o = jsonObject();
        o->set("id", std::get<std::string>(row[0]));
        o->set("webhook_id", std::get<std::string>(row[1]));
        o->set("received_at", std::get<std::string>(row[2]));
        const auto* n = std::get_if<long long>(&row[3]);
        o->set("rows", n ? Poco::Dynamic::Var(*n) : Poco::Dynamic::Var());
        data->add(o);
      }
      return sdk::Status();
    });
    if (!st.ok()) return sdk::problem(st.error());
    JsonObject out = jsonObject();
    out->set("data", data);
    return jsonAnswer(200, out);
  }

  // The feed as it was received (text/csv), or its report with Accept: application/json.
  HttpResponse getFeed(const HttpRequest& r) {
    const std::string key = r.params.at("partner");
    std::optional<HttpResponse> answer;
    auto st = ctx_->storage().read([&](sdk::Tx& tx) -> sdk::Status {
      auto rows =
          tx.query("SELECT body, report FROM p_referrals_feeds WHERE partner_key = $1 AND id = $2",
                   {key, r.params.at("feed")});
      if (!rows.ok()) return rows.error();
      if (rows.value().empty()) return sdk::Status();
      const auto& row = rows.value().front();
      if (r.header("Accept").find("application/json") != std::string::npos) {
        const auto* report = std::get_if<std::string>(&row[1]);
        answer = report ? HttpResponse{200, "application/json", *report, {}}
                        : sdk::problem(409, "feed-in-progress", "Conflict",
                                       "the feed's rows are still being carried out");
      } else {
        answer = HttpResponse{200, "text/csv; charset=utf-8", std::get<std::string>(row[0]), {}};
      }
      return sdk::Status();
    });
    if (!st.ok()) return sdk::problem(st.error());
    if (!answer) return sdk::problem(404, "not-found", "Not found", "there is no such feed");
    return *answer;
  }

  sdk::Context* ctx_ = nullptr;
  mutable std::shared_mutex partnersMutex_;
  std::map<std::string, PartnerPtr> partners_;
  std::mutex writeMutex_;
  InFlight inFlight_;
};

}  // namespace

}  // namespace ciclo::plugins::referrals

CICLO_PLUGIN(ciclo::plugins::referrals::Referrals, "referrals", "1.0.0")
