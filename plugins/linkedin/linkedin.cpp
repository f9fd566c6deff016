// The linkedin plugin: enriches leads with what LinkedIn's Organization Lookup API says of
// their company - name, website, headquarters, and at administrator access industry and
// staff count range - found by the company's email domain or its LinkedIn vanity name.
//
// Capture never waits for it: lead.captured only queues the lead (p_linkedin_jobs), and
// the plugin's own worker thread looks the company up, so neither the request nor the
// daemon's event and job threads ever wait on LinkedIn. Answers are cached per domain or
// vanity name; a daily quota bounds the calls; a 429 stops all calls until its Retry-After;
// failures are tried again with growing delays for `retry_for`. Enrichment never overwrites
// what the lead or a person entered (sdk::Tx::enrich keeps provenance per field).

#include <Poco/JSON/Array.h>
#include <Poco/URI.h>
#include <pthread.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "ciclo/text.h"
#include "organization.h"
#include "support/json.h"
#include "support/sql.h"

namespace ciclo::plugins::linkedin {
namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;
using sdk::Status;
using Clock = std::chrono::sys_time<std::chrono::milliseconds>;

const std::vector<std::pair<int, std::vector<std::string>>> kMigrations = {
    {1,
     {
         // Leads waiting for a lookup, one row per lead: `lookup` is "domain:acme.it" or
         // "vanity:acme".
         "CREATE TABLE p_linkedin_jobs (lead_id TEXT PRIMARY KEY, lookup TEXT NOT NULL, due_at "
         "TEXT NOT NULL, attempts INTEGER NOT NULL, queued_at TEXT NOT NULL, last_error TEXT)",
         "CREATE INDEX p_linkedin_jobs_due ON p_linkedin_jobs (due_at)",
         // What LinkedIn answered, per lookup, until `expires_at`: the profile fields found
         // (JSON) and the organization's URN, or found = 0 for no organization.
         "CREATE TABLE p_linkedin_cache (lookup TEXT PRIMARY KEY, found INTEGER NOT NULL, "
         "reference TEXT, fields TEXT NOT NULL, fetched_at TEXT NOT NULL, expires_at TEXT NOT "
         "NULL)",
         // Industry names by id and locale: the taxonomy changes with LinkedIn's versions only.
         "CREATE TABLE p_linkedin_industries (id_locale TEXT PRIMARY KEY, name TEXT NOT NULL, "
         "fetched_at TEXT NOT NULL)",
         // Calls made per UTC day (LinkedIn's daily limits reset at midnight UTC).
         "CREATE TABLE p_linkedin_quota (day TEXT PRIMARY KEY, used INTEGER NOT NULL)",
     }},
};

struct Settings {
  std::string base_url = "https://api.linkedin.com/rest";
  std::string access_token;
  std::string version = "202411";
  Access access = Access::kMember;
  std::string locale = "en_US";
  bool on_capture = true;
  std::chrono::seconds cache_ttl = std::chrono::hours(24 * 30);
  std::chrono::seconds not_found_ttl = std::chrono::hours(24 * 7);
  long long daily_quota = 500;
  std::chrono::seconds timeout{10};
  int attempts = 3;
  std::string proxy;
  std::vector<std::string> allowed_hosts;
  std::chrono::seconds retry_for = std::chrono::hours(24 * 3);
};

Settings readSettings(sdk::ConfigSection& c) {
  Settings s;
  s.base_url = c.text("base_url", s.base_url);
  while (!s.base_url.empty() && s.base_url.back() == '/') s.base_url.pop_back();
  if (!s.base_url.starts_with("https://") && !s.base_url.starts_with("http://"))
    c.fail("base_url", "must be an http(s) URL, e.g. https://api.linkedin.com/rest");
  s.access_token = c.text("access_token", "");
  if (s.access_token.empty())
    c.fail("access_token", "is required: the OAuth 2.0 access token (e.g. ${LINKEDIN_TOKEN})");
  else if (!sdk::isOneLine(s.access_token) || s.access_token.find(' ') != std::string::npos)
    c.fail("access_token", "must be one token without spaces");
  s.version = c.text("version", s.version);
  if (s.version.size() != 6 ||
      !std::all_of(s.version.begin(), s.version.end(), [](char ch) { return std::isdigit(ch); }))
    c.fail("version", "must be a LinkedIn API version, YYYYMM (e.g. 202411)");
  const std::string access = c.text("access", "member");
  if (access == "admin")
    s.access = Access::kAdmin;
  else if (access != "member")
    c.fail("access",
           "must be member (name, website, headquarters) or admin (also industry and "
           "staff count range)");
  s.locale = c.text("locale", s.locale);
  s.on_capture = c.boolean("on_capture", s.on_capture);
  s.cache_ttl = sdk::configDuration(c, "cache_ttl", s.cache_ttl);
  s.not_found_ttl = sdk::configDuration(c, "not_found_ttl", s.not_found_ttl);
  s.daily_quota = c.integer("daily_quota", s.daily_quota, 0, 10'000'000);
  s.timeout = sdk::configDuration(c, "timeout", s.timeout);
  if (s.timeout.count() < 1 || s.timeout.count() > 120) c.fail("timeout", "must be 1s to 120s");
  s.attempts = static_cast<int>(c.integer("attempts", s.attempts, 1, 10));
  s.proxy = c.text("proxy", "");
  if (!s.proxy.empty() && !s.proxy.starts_with("http://"))
    c.fail("proxy", "must be an http:// proxy URL");
  s.allowed_hosts = c.list("allowed_hosts");
  if (s.allowed_hosts.empty()) {
    try {
      s.allowed_hosts.push_back(Poco::URI(s.base_url).getHost());
    } catch (const Poco::Exception&) {
      c.fail("base_url", "is not a URL");
    }
  }
  s.retry_for = sdk::configDuration(c, "retry_for", s.retry_for);
  return s;
}

// The UTC day of `t`, "2026-11-24".
std::string dayOf(Clock t) {
  return sdk::rfc3339(t).substr(0, 10);
}

Clock nextUtcMidnight(Clock t) {
  return std::chrono::floor<std::chrono::days>(t) + std::chrono::days(1);
}

// What one lookup came to.
struct Lookup {
  enum class Kind {
    kFound,     // an organization: `fields` and `reference`
    kNotFound,  // LinkedIn knows no organization for it
    kLimited,   // the daily quota or LinkedIn's rate limit: try after `retry_at`
    kFailed,    // a failure worth another try later: `error`
  };
  Kind kind = Kind::kFailed;
  std::map<std::string, std::string> fields;
  std::string reference;
  bool cached = false;
  Clock retry_at{};
  std::string error;
};

// What one call on LinkedIn answered.
struct Reply {
  enum class Kind {
    kOk,        // 2xx: `body`
    kNotFound,  // 404
    kLimited,   // the daily quota or LinkedIn's rate limit: not before `retry_at`
    kFailed,    // unreachable, or another status: `error`
  };
  Kind kind = Kind::kFailed;
  std::string body;
  Clock retry_at{};
  std::string error;
};

std::string fieldsJson(const std::map<std::string, std::string>& fields) {
  auto o = jsonObject();
  for (const auto& [k, v] : fields) o->set(k, v);
  return toJson(o);
}

std::map<std::string, std::string> fieldsFromJson(const std::string& text) {
  std::map<std::string, std::string> out;
  if (const auto o = parseObject(text)) {
    for (const auto& [k, v] : *o) out[k] = v.convert<std::string>();
  }
  return out;
}

class LinkedInPlugin final : public sdk::Plugin {
 public:
  Status start(sdk::Context& c) override {
    ctx_ = &c;
    settings_ = readSettings(c.config());
    c.config().finish();
    if (auto st = c.storage().migrate(kMigrations); !st.ok()) return st;
    const sdk::RoutePolicy write{"leads:write", 4096, {"application/json"}};
    const sdk::RoutePolicy read{"leads:read", 0, {}};
    for (auto st : {
             c.routes().add("POST", "/v1/leads/{id}/enrichment", write,
                            [this](const HttpRequest& r) { return enrichNow(r); }),
             c.routes().add("GET", "/v1/linkedin/status", read,
                            [this](const HttpRequest&) { return status(); }),
         }) {
      if (!st.ok()) return st;
    }
    if (settings_.on_capture) {
      if (auto st = c.events().subscribe("enrich", {"lead.captured"},
                                         [this](const sdk::Event& e) { return queue(e); });
          !st.ok())
        return st;
    }
    worker_ = std::thread([this] {
      ::pthread_setname_np(::pthread_self(), "ciclo-linkedin");
      work();
    });
    return Status();
  }

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

 private:
  Clock now() const { return ctx_->clock().now(); }

  // ---- the queue: lead.captured adds the lead when its company can be looked up
  Status queue(const sdk::Event& e) {
    const auto data = parseObject(e.data);
    const auto lead = data ? data->getObject("lead") : nullptr;
    if (!lead) return Status();  // not a lead event this plugin can read: nothing to do
    // Already enriched from LinkedIn: a repeat capture has nothing new to look up.
    if (auto provenance = lead->getObject("provenance")) {
      for (const auto& [field, from] : *provenance) {
        auto f = provenance->getObject(field);
        if (f && jsonText(*f, "source") == "linkedin") return Status();
      }
    }
    const std::string leadId = jsonText(*lead, "id");
    const std::string lookup =
        lookupFor(jsonText(*lead, "website"), jsonText(*lead, "company_domain"));
    if (leadId.empty() || lookup.empty()) return Status();
    const std::string at = sdk::rfc3339(now());
    Status st = ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      auto done = tx.exec(
          "INSERT INTO p_linkedin_jobs (lead_id, lookup, due_at, attempts, queued_at) VALUES "
          "($1, $2, $3, 0, $3) ON CONFLICT (lead_id) DO NOTHING",
          {leadId, lookup, at});
      return done.ok() ? Status() : Status(done.error());
    });
    if (st.ok()) {
      {
        std::lock_guard lock(mutex_);
        queued_ = true;
      }
      wake_.notify_one();
    }
    return st;
  }

  // "vanity:acme" for a LinkedIn company page given as the website, else "domain:acme.it".
  static std::string lookupFor(const std::string& website, const std::string& domain) {
    if (const auto vanity = vanityNameOf(website); !vanity.empty()) return "vanity:" + vanity;
    if (!domain.empty()) return "domain:" + domain;
    return {};
  }

  // ---- the worker: due jobs, one at a time, off every thread of the daemon's
  void work() {
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        // A queued lead wakes it; the clock (which tests move) is looked at every second.
        wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || queued_; });
        if (stopping_) return;
        queued_ = false;
      }
      if (now() < blockedUntil()) continue;
      struct Job {
        std::string lead_id, lookup, queued_at;
        long long attempts;
      };
      std::vector<Job> jobs;
      (void)ctx_->storage().read([&](sdk::Tx& tx) -> Status {
        auto rows = tx.query(
            "SELECT lead_id, lookup, queued_at, attempts FROM p_linkedin_jobs WHERE due_at <= $1 "
            "ORDER BY due_at, lead_id LIMIT 20",
            {sdk::rfc3339(now())});
        if (!rows.ok()) return rows.error();
        for (const auto& r : rows.value())
          jobs.push_back({columnText(r, 0), columnText(r, 1), columnText(r, 2), columnInt(r, 3)});
        return Status();
      });
      for (const auto& job : jobs) {
        {
          std::lock_guard lock(mutex_);
          if (stopping_) return;
        }
        const Lookup found = lookup(job.lookup, false);
        finish(job.lead_id, job.lookup, job.queued_at, job.attempts, found);
        if (found.kind == Lookup::Kind::kLimited) break;  // the rest would be limited too
      }
    }
  }

  // Applies what a lookup found to the job's lead, or plans the job's next try.
  void finish(const std::string& leadId, const std::string& lookupKey, const std::string& queuedAt,
              long long attempts, const Lookup& found) {
    const Clock t = now();
    Status st = ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      auto remove = [&]() -> Status {
        auto done = tx.exec("DELETE FROM p_linkedin_jobs WHERE lead_id = $1", {leadId});
        return done.ok() ? Status() : Status(done.error());
      };
      switch (found.kind) {
        case Lookup::Kind::kFound: {
          auto enriched = tx.enrich({leadId, "linkedin", found.reference, found.fields});
          if (!enriched.ok()) {
            const auto kind = enriched.error().kind;
            // A lead that is gone or closed has nothing left to enrich.
            if (kind != sdk::ErrorKind::kNotFound && kind != sdk::ErrorKind::kConflict &&
                kind != sdk::ErrorKind::kInvalid)
              return enriched.error();
            // The same cached answer would be refused again: the job ends here.
            if (kind == sdk::ErrorKind::kInvalid)
              ctx_->log().warning("linkedin: " + invalidAnswer(enriched.error()) + " (" + leadId +
                                  ", " + lookupKey + ")");
          }
          return remove();
        }
        case Lookup::Kind::kNotFound:
          return remove();
        case Lookup::Kind::kLimited:
        case Lookup::Kind::kFailed: {
          // RFC 3339 UTC times of one format compare as text.
          if (found.kind == Lookup::Kind::kFailed &&
              queuedAt < sdk::rfc3339(t - settings_.retry_for)) {
            ctx_->log().warning("linkedin: gave up enriching " + leadId + " (" + lookupKey +
                                "): " + found.error);
            ctx_->metrics().count("gave_up");
            return remove();
          }
          const Clock due =
              found.kind == Lookup::Kind::kLimited ? found.retry_at : t + backoff(attempts + 1);
          auto done = tx.exec(
              "UPDATE p_linkedin_jobs SET due_at = $1, attempts = $2, last_error = $3 WHERE "
              "lead_id = $4",
              {sdk::rfc3339(due), attempts + (found.kind == Lookup::Kind::kFailed ? 1 : 0),
               textOrNull(found.error.substr(0, 300)), leadId});
          return done.ok() ? Status() : Status(done.error());
        }
      }
      return Status();
    });
    if (!st.ok())
      ctx_->log().warning("linkedin: cannot record the lookup of " + leadId + ": " +
                          st.error().message);
  }

  // The enrichment's refusal of LinkedIn's answer, naming the fields.
  static std::string invalidAnswer(const sdk::Error& e) {
    std::string text = "LinkedIn's answer has fields Ciclo does not take:";
    for (const auto& f : e.fields) text += " " + f.field + " (" + f.message + ")";
    return text;
  }

  // One minute doubling per try up to six hours, with full jitter.
  static std::chrono::milliseconds backoff(long long attempt) {
    const auto ceiling = std::min<std::chrono::milliseconds>(
        std::chrono::hours(6), std::chrono::minutes(1) * (1LL << std::min(attempt, 12LL)));
    thread_local std::mt19937_64 random{std::random_device{}()};
    return std::chrono::milliseconds(
        std::uniform_int_distribution<long long>(ceiling.count() / 2, ceiling.count())(random));
  }

  // ---- one lookup: the cache, then the quota and LinkedIn
  Lookup lookup(const std::string& key, bool refresh) {
    const Clock t = now();
    Lookup out;
    if (!refresh) {
      bool hit = false;
      (void)ctx_->storage().read([&](sdk::Tx& tx) -> Status {
        auto rows = tx.query(
            "SELECT found, reference, fields FROM p_linkedin_cache WHERE lookup = $1 AND "
            "expires_at > $2",
            {key, sdk::rfc3339(t)});
        if (!rows.ok() || rows.value().empty()) return Status();
        hit = true;
        const auto& r = rows.value()[0];
        out.kind = columnInt(r, 0) ? Lookup::Kind::kFound : Lookup::Kind::kNotFound;
        out.reference = columnText(r, 1);
        out.fields = fieldsFromJson(columnText(r, 2));
        return Status();
      });
      if (hit) {
        out.cached = true;
        ctx_->metrics().count("cache_hits");
        return out;
      }
    }
    const auto colon = key.find(':');
    const std::string finder = key.substr(0, colon) == "vanity" ? "vanityName" : "emailDomain";
    const Reply reply = call("/organizations?q=" + finder + "&" + finder + "=" +
                             sdk::percentEncode(key.substr(colon + 1)));
    if (reply.kind != Reply::Kind::kOk) return failed(reply);
    const FinderAnswer answer = readFinder(reply.body, settings_.access);
    if (!answer.ok) {
      out.error = "LinkedIn's answer was not understood: " + answer.error;
      return out;
    }
    if (answer.organization) {
      const Organization& org = *answer.organization;
      std::string industry;
      if (!org.industries.empty()) {
        const Reply name = industryName(org.industries.front());
        if (name.kind != Reply::Kind::kOk) return failed(name);
        industry = name.body;
      }
      out.kind = Lookup::Kind::kFound;
      out.reference = org.urn();
      out.fields = profileFields(org, industry);
    } else {
      out.kind = Lookup::Kind::kNotFound;
    }
    const auto ttl =
        out.kind == Lookup::Kind::kFound ? settings_.cache_ttl : settings_.not_found_ttl;
    Status cached = ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      auto done = tx.exec(
          "INSERT INTO p_linkedin_cache (lookup, found, reference, fields, fetched_at, expires_at) "
          "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (lookup) DO UPDATE SET found = "
          "excluded.found, reference = excluded.reference, fields = excluded.fields, fetched_at = "
          "excluded.fetched_at, expires_at = excluded.expires_at",
          {key, out.kind == Lookup::Kind::kFound ? 1LL : 0LL, textOrNull(out.reference),
           fieldsJson(out.fields), sdk::rfc3339(t), sdk::rfc3339(t + ttl)});
      return done.ok() ? Status() : Status(done.error());
    });
    if (!cached.ok())
      ctx_->log().warning("linkedin: cannot cache the answer for " + key + ": " +
                          cached.error().message);
    return out;
  }

  // The name of industry `id` in the configured locale, from the store or else the
  // taxonomy: kOk with the name as `body` ("" when LinkedIn has none for it).
  Reply industryName(long long id) {
    const std::string key = std::to_string(id) + ":" + settings_.locale;
    Reply out;
    out.kind = Reply::Kind::kOk;
    bool hit = false;
    (void)ctx_->storage().read([&](sdk::Tx& tx) -> Status {
      auto rows = tx.query("SELECT name FROM p_linkedin_industries WHERE id_locale = $1", {key});
      if (rows.ok() && !rows.value().empty()) {
        hit = true;
        out.body = columnText(rows.value()[0], 0);
      }
      return Status();
    });
    if (hit) return out;
    const Reply reply = call("/industryTaxonomyVersions/DEFAULT/industries/" + std::to_string(id));
    if (reply.kind == Reply::Kind::kNotFound) return out;
    if (reply.kind != Reply::Kind::kOk) return reply;
    const auto name = readIndustryName(reply.body, settings_.locale);
    out.body = name.value_or("");
    if (name) {
      (void)ctx_->storage().write([&](sdk::Tx& tx) -> Status {
        auto done = tx.exec(
            "INSERT INTO p_linkedin_industries (id_locale, name, fetched_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (id_locale) DO NOTHING",
            {key, *name, sdk::rfc3339(now())});
        return done.ok() ? Status() : Status(done.error());
      });
    }
    return out;
  }

  // A lookup that stopped at a call that did not answer with data.
  static Lookup failed(const Reply& reply) {
    Lookup out;
    out.kind = reply.kind == Reply::Kind::kLimited ? Lookup::Kind::kLimited : Lookup::Kind::kFailed;
    out.retry_at = reply.retry_at;
    out.error = reply.kind == Reply::Kind::kNotFound ? "LinkedIn answered 404" : reply.error;
    return out;
  }

  // ---- a GET on LinkedIn, within the quota and outside a rate limit
  Reply call(const std::string& pathAndQuery) {
    Reply out;
    const Clock t = now();
    if (t < blockedUntil()) {
      out.kind = Reply::Kind::kLimited;
      out.retry_at = blockedUntil();
      out.error = "LinkedIn asked to wait";
      return out;
    }
    if (!takeQuota(t)) {
      out.kind = Reply::Kind::kLimited;
      out.retry_at = nextUtcMidnight(t);
      out.error = "the daily quota of " + std::to_string(settings_.daily_quota) +
                  " LinkedIn calls is used up";
      ctx_->metrics().count("quota_exhausted");
      return out;
    }
    sdk::OutboundRequest request;
    request.method = "GET";
    request.url = settings_.base_url + pathAndQuery;
    request.headers = {{"Authorization", "Bearer " + settings_.access_token},
                       {"LinkedIn-Version", settings_.version},
                       {"X-Restli-Protocol-Version", "2.0.0"},
                       {"Accept", "application/json"}};
    request.timeout = settings_.timeout;
    request.max_response_bytes = 256 * 1024;
    request.allowed_hosts = settings_.allowed_hosts;
    request.proxy = settings_.proxy;
    request.attempts = settings_.attempts;
    request.max_retry_wait = std::chrono::seconds(5);  // longer waits are planned, not slept
    ctx_->metrics().count("calls");
    const auto response = ctx_->http().send(request);
    if (response.kind != sdk::OutboundResponse::Kind::kResponse) {
      out.error = "LinkedIn could not be reached: " + response.error;
      return out;
    }
    if (response.status >= 200 && response.status < 300) {
      out.kind = Reply::Kind::kOk;
      out.body = response.body;
      return out;
    }
    if (response.status == 404) {
      out.kind = Reply::Kind::kNotFound;
      return out;
    }
    out.error = errorSummary(response.status, response.body);
    if (response.status == 429) {
      // LinkedIn's application and member limits are daily: without a Retry-After, wait
      // an hour before asking again.
      out.kind = Reply::Kind::kLimited;
      out.retry_at = t + response.retry_after.value_or(std::chrono::hours(1));
      {
        std::lock_guard lock(mutex_);
        blockedUntil_ = out.retry_at;
      }
      ctx_->metrics().count("rate_limited");
      ctx_->log().warning("linkedin: rate limited until " + sdk::rfc3339(out.retry_at) + " (" +
                          out.error + ")");
      return out;
    }
    if (response.status == 401 || response.status == 403 || response.status == 426)
      ctx_->log().error("linkedin: " + out.error +
                        " - check access_token, its permissions "
                        "and version");
    return out;
  }

  // Counts one call against today's quota; false when it is used up.
  bool takeQuota(Clock t) {
    bool granted = false;
    const std::string day = dayOf(t);
    Status st = ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      auto made = tx.exec(
          "INSERT INTO p_linkedin_quota (day, used) VALUES ($1, 0) ON CONFLICT (day) DO NOTHING",
          {day});
      if (!made.ok()) return made.error();
      auto taken =
          tx.exec("UPDATE p_linkedin_quota SET used = used + 1 WHERE day = $1 AND used < $2",
                  {day, settings_.daily_quota});
      if (!taken.ok()) return taken.error();
      granted = taken.value() == 1;
      return Status();
    });
    return st.ok() && granted;
  }

  Clock blockedUntil() const {
    std::lock_guard lock(mutex_);
    return blockedUntil_;
  }

  // ---- the API
  // POST /v1/leads/{id}/enrichment: looks the lead's company up now (from the cache unless
  // "refresh"), by its email domain or website, or by "vanity_name".
  HttpResponse enrichNow(const HttpRequest& r) {
    bool refresh = false;
    std::string vanity;
    if (!r.body.empty()) {
      auto body = parseJsonObject(r.body, 4);
      if (!body.ok()) return sdk::problem(body.error());
      std::vector<sdk::FieldError> errors;
      for (const auto& [key, value] : *body.value()) {
        if (key == "refresh") {
          if (!value.isBoolean())
            errors.push_back({"refresh", "must be true or false"});
          else
            refresh = value.extract<bool>();
        } else if (key == "vanity_name") {
          if (!value.isString()) {
            errors.push_back({"vanity_name", "must be text"});
            continue;
          }
          vanity = value.extract<std::string>();
          if (vanityNameOf("https://www.linkedin.com/company/" + vanity) != vanity)
            errors.push_back(
                {"vanity_name",
                 "must be the name in a company page's URL: letters, digits, - and _"});
        } else {
          errors.push_back({key.substr(0, 64), "is not a field of this request"});
        }
      }
      if (!errors.empty())
        return sdk::problem(422, "invalid", "Unprocessable Content",
                            "The request has invalid fields.", errors);
    }
    const std::string leadId = r.params.at("id");
    auto lead = ctx_->leads().get(leadId);
    if (!lead.ok()) return sdk::problem(lead.error());
    std::string key;
    if (!vanity.empty()) {
      key = "vanity:" + vanity;
    } else {
      if (const auto o = parseObject(lead.value().json))
        key = lookupFor(jsonText(*o, "website"), jsonText(*o, "company_domain"));
    }
    if (key.empty())
      return sdk::problem(422, "nothing-to-look-up", "Unprocessable Content",
                          "The lead has no company email domain or website to look up; give "
                          "vanity_name.",
                          {{"vanity_name", "is required for this lead"}});
    const Lookup found = lookup(key, refresh);
    if (found.kind == Lookup::Kind::kLimited) {
      auto answer = sdk::problem(429, "rate-limited", "Too Many Requests", found.error);
      const auto wait = std::chrono::duration_cast<std::chrono::seconds>(found.retry_at - now());
      answer.headers.emplace_back("Retry-After",
                                  std::to_string(std::max<long long>(1, wait.count())));
      return answer;
    }
    if (found.kind == Lookup::Kind::kFailed)
      return sdk::problem(502, "upstream-failed", "Bad Gateway", found.error);
    auto out = jsonObject();
    out->set("lead_id", lead.value().id);
    out->set("lookup", key);
    out->set("found", found.kind == Lookup::Kind::kFound);
    out->set("cached", found.cached);
    if (found.kind == Lookup::Kind::kFound) {
      sdk::EnrichmentResult result;
      bool refused = false;  // LinkedIn's answer, not the request, was invalid
      Status st = ctx_->storage().write([&](sdk::Tx& tx) -> Status {
        auto enriched = tx.enrich({lead.value().id, "linkedin", found.reference, found.fields});
        if (!enriched.ok()) {
          refused = enriched.error().kind == sdk::ErrorKind::kInvalid;
          return enriched.error();
        }
        result = std::move(enriched).value();
        // Done now: a queued lookup for this lead has nothing left to do.
        auto done = tx.exec("DELETE FROM p_linkedin_jobs WHERE lead_id = $1", {result.lead_id});
        return done.ok() ? Status() : Status(done.error());
      });
      if (refused)
        return sdk::problem(502, "upstream-failed", "Bad Gateway", invalidAnswer(st.error()));
      if (!st.ok()) return sdk::problem(st.error());
      out->set("lead_id", result.lead_id);
      out->set("reference", found.reference);
      auto fields = jsonObject();
      for (const auto& [k, v] : found.fields) fields->set(k, v);
      out->set("organization", fields);
      auto list = [](const std::vector<std::string>& names) {
        Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
        for (const auto& n : names) a->add(n);
        return a;
      };
      out->set("filled", list(result.filled));
      out->set("updated", list(result.updated));
      out->set("kept", list(result.kept));
    }
    return jsonAnswer(200, out);
  }

  // GET /v1/linkedin/status: today's quota, a rate limit in force, and the queue.
  HttpResponse status() {
    const Clock t = now();
    long long used = 0, pending = 0, retrying = 0;
    std::string oldest;
    Status st = ctx_->storage().read([&](sdk::Tx& tx) -> Status {
      auto quota = tx.query("SELECT used FROM p_linkedin_quota WHERE day = $1", {dayOf(t)});
      if (!quota.ok()) return quota.error();
      if (!quota.value().empty()) used = columnInt(quota.value()[0], 0);
      auto jobs = tx.query(
          "SELECT COUNT(*), SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), MIN(queued_at) FROM "
          "p_linkedin_jobs");
      if (!jobs.ok()) return jobs.error();
      pending = columnInt(jobs.value()[0], 0);
      retrying = columnInt(jobs.value()[0], 1);
      oldest = columnText(jobs.value()[0], 2);
      return Status();
    });
    if (!st.ok()) return sdk::problem(st.error());
    auto out = jsonObject();
    auto quota = jsonObject();
    quota->set("day", dayOf(t));
    quota->set("used", used);
    quota->set("limit", settings_.daily_quota);
    out->set("quota", quota);
    const Clock blocked = blockedUntil();
    if (blocked > t)
      out->set("rate_limited_until", sdk::rfc3339(blocked));
    else
      out->set("rate_limited_until", Poco::Dynamic::Var());
    auto queue = jsonObject();
    queue->set("pending", pending);
    queue->set("retrying", retrying);
    queue->set("oldest_queued_at",
               oldest.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(oldest));
    out->set("queue", queue);
    out->set("access", settings_.access == Access::kAdmin ? "admin" : "member");
    return jsonAnswer(200, out);
  }

  sdk::Context* ctx_ = nullptr;
  Settings settings_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool queued_ = false;  // a lead was queued since the worker last looked
  Clock blockedUntil_{};
  std::thread worker_;
};

}  // namespace
}  // namespace ciclo::plugins::linkedin

CICLO_PLUGIN(ciclo::plugins::linkedin::LinkedInPlugin, "linkedin", "1.0.0")
