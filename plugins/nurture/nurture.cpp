// The nurture plugin: enrols leads in email sequences, sends each step through the host's
// SMTP relay (with consent, never to a suppressed address, outside quiet hours, within the
// per-domain rate), retries deferred emails with the same Message-ID, handles bounces, and
// serves the public tracking and unsubscribe links of CONTRACT.md section 6.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "ciclo/mail.h"
#include "ciclo/text.h"
#include "email.h"
#include "inbound.h"
#include "sequence.h"
#include "support/html.h"
#include "support/json.h"
#include "support/rate_limiter.h"
#include "support/sql.h"

namespace ciclo::plugins::nurture {

namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;
using sdk::SqlRow;
using sdk::Status;

std::string columnText(const SqlRow& row, std::size_t i) {
  const auto* s = std::get_if<std::string>(&row.at(i));
  return s ? *s : std::string();
}
long long columnInt(const SqlRow& row, std::size_t i) {
  const auto* n = std::get_if<long long>(&row.at(i));
  return n ? *n : 0;
}
sdk::SqlValue textOrNull(const std::string& s) {
  return s.empty() ? sdk::SqlValue() : sdk::SqlValue(s);
}
// JSON null for "" (an absent column).
Poco::Dynamic::Var nullIfEmpty(const std::string& s) {
  return s.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(s);
}
// {"data": [...]}
HttpResponse dataAnswer(const Poco::JSON::Array::Ptr& data) {
  auto out = jsonObject();
  out->set("data", data);
  return jsonAnswer(200, out);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string domainOf(const std::string& address) {
  const auto at = address.rfind('@');
  return at == std::string::npos ? "" : lower(address.substr(at + 1));
}

HttpResponse notFound(const std::string& what) {
  return sdk::problem(404, "not-found", "Not Found", what);
}

// A 1x1 transparent GIF.
const std::string kPixel(
    "GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff\x21\xf9\x04\x01\x00\x00\x00\x00"
    "\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b",
    43);

const std::vector<std::pair<int, std::vector<std::string>>> kMigrations = {
    {1,
     {
         // The plugin's secret for signing tracking tokens, sealed by the host.
         "CREATE TABLE p_nurture_keys (name TEXT PRIMARY KEY, sealed TEXT NOT NULL)",
         // A lead in a sequence: the next step and when it is due.
         "CREATE TABLE p_nurture_enrolments (id TEXT PRIMARY KEY, lead_id TEXT NOT NULL, "
         "sequence TEXT NOT NULL, status TEXT NOT NULL, next_step INTEGER NOT NULL, due_at TEXT, "
         "stop_reason TEXT, enrolled_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
         "UNIQUE (lead_id, sequence))",
         "CREATE INDEX p_nurture_enrolments_due ON p_nurture_enrolments (status, due_at)",
         "CREATE INDEX p_nurture_enrolments_lead ON p_nurture_enrolments (lead_id)",
         // Every email, rendered once: a retry sends the same bytes with the same Message-ID.
         "CREATE TABLE p_nurture_emails (id TEXT PRIMARY KEY, enrolment_id TEXT NOT NULL, "
         "lead_id TEXT NOT NULL, sequence TEXT NOT NULL, step TEXT NOT NULL, message_id TEXT NOT "
         "NULL UNIQUE, address TEXT NOT NULL, to_name TEXT NOT NULL, status TEXT NOT NULL, "
         "attempts INTEGER NOT NULL, next_attempt_at TEXT, give_up_at TEXT NOT NULL, subject TEXT "
         "NOT NULL, text_body TEXT NOT NULL, html_body TEXT NOT NULL, links TEXT NOT NULL, "
         "clicked_links TEXT NOT NULL, last_code INTEGER, last_detail TEXT, created_at TEXT NOT "
         "NULL, sent_at TEXT, opened_at TEXT, clicked_at TEXT)",
         "CREATE INDEX p_nurture_emails_retry ON p_nurture_emails (status, next_attempt_at)",
         "CREATE INDEX p_nurture_emails_enrolment ON p_nurture_emails (enrolment_id, created_at)",
         // The consent ledger: every grant and withdrawal, with its proof.
         "CREATE TABLE p_nurture_consents (id TEXT PRIMARY KEY, address TEXT NOT NULL, lead_id "
         "TEXT, action TEXT NOT NULL, text TEXT, source TEXT NOT NULL, ip TEXT, page TEXT, at TEXT "
         "NOT NULL, recorded_at TEXT NOT NULL)",
         "CREATE INDEX p_nurture_consents_address ON p_nurture_consents (address, at)",
         // Suppressed addresses, by a keyed hash of the address: the list outlives the
         // erasure of the person and holds no address itself.
         "CREATE TABLE p_nurture_suppressions (address_hash TEXT PRIMARY KEY, reason TEXT NOT "
         "NULL, at TEXT NOT NULL)",
         "CREATE TABLE p_nurture_bounces (address_hash TEXT PRIMARY KEY, soft INTEGER NOT NULL, "
         "last_at TEXT NOT NULL)",
     }},
    {2,
     {
         "ALTER TABLE p_nurture_emails ADD COLUMN replied_at TEXT",
         // Every message POST /v1/mail/inbound took, by a digest of its Message-ID (of its
         // bytes without one), and what was done with it; not the message itself.
         "CREATE TABLE p_nurture_inbound (id TEXT PRIMARY KEY, digest TEXT NOT NULL UNIQUE, kind "
         "TEXT NOT NULL, email_id TEXT, lead_id TEXT, from_address TEXT, subject TEXT, detail "
         "TEXT, received_at TEXT NOT NULL)",
         "CREATE INDEX p_nurture_inbound_received ON p_nurture_inbound (received_at, id)",
     }},
};

class NurturePlugin final : public sdk::Plugin {
 public:
  Status start(sdk::Context& c) override {
    ctx_ = &c;
    settings_ = readSettings(c.config());
    c.config().finish();
    if (auto st = c.storage().migrate(kMigrations); !st.ok()) return st;
    if (auto st = loadKey(); !st.ok()) return st;

    // Public: the links in every email (CONTRACT.md section 6).
    auto& routes = c.routes();
    const sdk::RoutePolicy link{"", 0, {}};
    const sdk::RoutePolicy oneClick{
        "", 4096, {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}};
    // The website's own pages report what the visitor does, as JSON (navigator.sendBeacon
    // sends text/plain, which needs no CORS preflight).
    const sdk::RoutePolicy tracked{"", 4096, {"application/json", "text/plain"}};
    const sdk::RoutePolicy read{"nurture:read", 0, {}};
    const sdk::RoutePolicy write{"nurture:write", 8192, {"application/json"}};
    // Raw RFC 5322 messages: within the daemon's server.max_body_bytes too.
    const sdk::RoutePolicy inboundMail{"mail:inbound", 32 << 20, {"message/rfc822"}};
    for (auto st : {
             routes.add("GET", "/t/o/{token}", link,
                        [this](const HttpRequest& r) { return opened(r); }),
             routes.add("GET", "/t/c/{token}", link,
                        [this](const HttpRequest& r) { return clicked(r); }),
             routes.add("POST", "/t/i/{token}", tracked,
                        [this](const HttpRequest& r) { return trackVisit(r, false); }),
             routes.add("GET", "/t/p/{token}", link,
                        [this](const HttpRequest& r) { return trackVisit(r, true); }),
             routes.add("POST", "/v1/nurture/visitor-tokens", write,
                        [this](const HttpRequest& r) { return visitorToken(r); }),
             routes.add("GET", "/u/{token}", link,
                        [this](const HttpRequest& r) { return unsubscribePage(r); }),
             routes.add("POST", "/u/{token}", oneClick,
                        [this](const HttpRequest& r) { return unsubscribeNow(r); }),
             routes.add("POST", "/v1/mail/inbound", inboundMail,
                        [this](const HttpRequest& r) { return inbound(r); }),
             routes.add("GET", "/v1/nurture/inbound", read,
                        [this](const HttpRequest& r) { return listInbound(r); }),
             routes.add("GET", "/v1/nurture/sequences", read,
                        [this](const HttpRequest&) { return listSequences(); }),
             routes.add("GET", "/v1/nurture/enrolments", read,
                        [this](const HttpRequest& r) { return listEnrolments(r); }),
             routes.add("POST", "/v1/nurture/enrolments", write,
                        [this](const HttpRequest& r) { return enrolByApi(r); }),
             routes.add("GET", "/v1/nurture/consents", read,
                        [this](const HttpRequest& r) { return listConsents(r); }),
             routes.add("POST", "/v1/nurture/consents", write,
                        [this](const HttpRequest& r) { return recordConsentByApi(r); }),
             routes.add("GET", "/v1/nurture/suppressions", read,
                        [this](const HttpRequest& r) { return suppressionOf(r); }),
             routes.add("POST", "/v1/nurture/suppressions", write,
                        [this](const HttpRequest& r) { return suppressByApi(r); }),
         }) {
      if (!st.ok()) return st;
    }
    if (auto st = c.events().subscribe("enrol",
                                       {"lead.captured", "lead.updated", "lead.profiled",
                                        "lead.scored", "lead.status_changed", "lead.merged"},
                                       [this](const sdk::Event& e) { return onLead(e); });
        !st.ok())
      return st;
    return c.scheduler().every("send", settings_.send_every, [this] { return sendDue(); });
  }

  void stop() override {}

 private:
  // ---- keys and tokens
  Status loadKey() {
    return ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      auto rows = tx.query("SELECT sealed FROM p_nurture_keys WHERE name = $1", {"tokens"});
      if (!rows.ok()) return rows.error();
      if (!rows.value().empty()) {
        auto key = ctx_->crypto().open(columnText(rows.value()[0], 0));
        if (!key.ok()) return key.error();
        key_ = key.value();
        return Status();
      }
      key_ = ctx_->crypto().randomToken(32);
      auto done = tx.exec("INSERT INTO p_nurture_keys (name, sealed) VALUES ($1, $2)",
                          {"tokens", ctx_->crypto().seal(key_)});
      return done.ok() ? Status() : Status(done.error());
    });
  }
  Hmac hmac() {
    return [this](const std::string& data) { return ctx_->crypto().hmacSha256(key_, data); };
  }
  Equals equals() {
    return [this](const std::string& a, const std::string& b) {
      return ctx_->crypto().constantTimeEquals(a, b);
    };
  }
  std::string linkFor(TokenKind kind, const std::string& emailId, int link = -1) {
    const char* path = kind == TokenKind::kOpen    ? "/t/o/"
                       : kind == TokenKind::kClick ? "/t/c/"
                                                   : "/u/";
    return settings_.public_url + path + makeToken(hmac(), kind, emailId, link);
  }
  std::string addressHash(const std::string& address) {
    return hex(ctx_->crypto().hmacSha256("ciclo-nurture-suppression", lower(address)));
  }
  const Sequence* sequence(const std::string& key) const {
    for (const auto& s : settings_.sequences)
      if (s.key == key) return &s;
    return nullptr;
  }
  std::string now() { return sdk::rfc3339(ctx_->clock().now()); }

  // ---- consent and suppression, inside a transaction
  // Whether the address's latest consent entry is a grant; `pendingGrantAt`, when given, is
  // a grant about to be recorded at that time.
  sdk::Result<bool> consentActive(sdk::Tx& tx, const std::string& address,
                                  const std::string& pendingGrantAt = "") {
    auto rows = tx.query(
        "SELECT action, at FROM p_nurture_consents WHERE address = $1 ORDER BY at DESC, "
        "recorded_at DESC LIMIT 1",
        {lower(address)});
    if (!rows.ok()) return rows.error();
    if (rows.value().empty()) return !pendingGrantAt.empty();
    if (!pendingGrantAt.empty() && pendingGrantAt >= columnText(rows.value()[0], 1)) return true;
    return columnText(rows.value()[0], 0) == "grant";
  }
  sdk::Result<bool> suppressed(sdk::Tx& tx, const std::string& address) {
    auto rows = tx.query("SELECT 1 FROM p_nurture_suppressions WHERE address_hash = $1",
                         {addressHash(address)});
    if (!rows.ok()) return rows.error();
    return !rows.value().empty();
  }
  Status recordConsent(sdk::Tx& tx, const std::string& address, const std::string& leadId,
                       const std::string& action, const std::string& text,
                       const std::string& source, const std::string& ip, const std::string& page,
                       const std::string& at) {
    auto done = tx.exec(
        "INSERT INTO p_nurture_consents (id, address, lead_id, action, text, source, ip, page, "
        "at, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        {"cns_" + ctx_->crypto().randomToken(12), lower(address), textOrNull(leadId), action,
         textOrNull(text), source, textOrNull(ip), textOrNull(page), at, now()});
    return done.ok() ? Status() : Status(done.error());
  }
  Status suppress(sdk::Tx& tx, const std::string& address, const std::string& reason) {
    auto exists = suppressed(tx, address);
    if (!exists.ok()) return exists.error();
    if (exists.value()) return Status();
    auto done =
        tx.exec("INSERT INTO p_nurture_suppressions (address_hash, reason, at) VALUES ($1, $2, $3)",
                {addressHash(address), reason, now()});
    ctx_->metrics().count("suppressed");
    return done.ok() ? Status() : Status(done.error());
  }
  // Stops the lead's active enrolments whose sequences stop on `rule` (all of them when
  // `rule` is empty), with `reason`.
  Status stopEnrolments(sdk::Tx& tx, const std::string& leadId, std::optional<StopRule> rule,
                        const std::string& reason) {
    auto rows = tx.query(
        "SELECT id, sequence FROM p_nurture_enrolments WHERE lead_id = $1 AND status = "
        "'active'",
        {leadId});
    if (!rows.ok()) return rows.error();
    for (const auto& row : rows.value()) {
      const Sequence* seq = sequence(columnText(row, 1));
      if (rule && seq && !seq->stop.contains(*rule)) continue;
      auto done = tx.exec(
          "UPDATE p_nurture_enrolments SET status = 'stopped', stop_reason = $2, due_at = NULL, "
          "updated_at = $3 WHERE id = $1",
          {columnText(row, 0), reason, now()});
      if (!done.ok()) return done.error();
    }
    return Status();
  }

  // ---- enrolment, on every change of a lead

  // What a change of a lead calls for: its capture consent into the ledger, enrolments its
  // status stops, sequences to enrol it in.
  struct LeadPlan {
    bool recordConsent = false;
    std::vector<std::pair<std::string, StopRule>> stops;  // enrolment id, why
    std::vector<const Sequence*> enrolments;
    bool empty() const { return !recordConsent && stops.empty() && enrolments.empty(); }
  };

  sdk::Result<LeadPlan> planFor(sdk::Tx& tx, const LeadFacts& lead) {
    LeadPlan plan;
    if (!lead.email.empty() && lead.consent) {
      // The consent given at capture enters the ledger once.
      auto known = tx.query(
          "SELECT 1 FROM p_nurture_consents WHERE address = $1 AND action = 'grant' AND at = $2 "
          "AND source = $3",
          {lower(lead.email), lead.consent_at, lead.consent_source});
      if (!known.ok()) return known.error();
      plan.recordConsent = known.value().empty();
    }
    auto rows = tx.query("SELECT id, sequence, status FROM p_nurture_enrolments WHERE lead_id = $1",
                         {lead.id});
    if (!rows.ok()) return rows.error();
    std::set<std::string> enrolled;
    for (const auto& row : rows.value()) {
      enrolled.insert(columnText(row, 1));
      const Sequence* seq = sequence(columnText(row, 1));
      if (columnText(row, 2) != "active" || !seq) continue;
      if (auto rule = stopForStatus(*seq, lead.status))
        plan.stops.emplace_back(columnText(row, 0), *rule);
    }
    for (const auto& seq : settings_.sequences) {
      if (!enrolled.contains(seq.key) && shouldEnrol(seq, lead)) plan.enrolments.push_back(&seq);
    }
    if (!plan.enrolments.empty()) {
      auto consent = consentActive(tx, lead.email, plan.recordConsent ? lead.consent_at : "");
      if (!consent.ok()) return consent.error();
      auto blocked = suppressed(tx, lead.email);
      if (!blocked.ok()) return blocked.error();
      if (!consent.value() || blocked.value()) plan.enrolments.clear();
    }
    return plan;
  }

  // Most changes of a lead call for nothing here: that is found out on a read connection,
  // and only a change that does something asks the writer, which plans again.
  Status onLead(const sdk::Event& e) {
    if (e.type == "lead.merged") {
      if (auto st = stopMergedAway(e); !st.ok()) return st;
    }
    auto view = ctx_->leads().get(e.subject_id);
    if (!view.ok()) {
      return view.error().kind == sdk::ErrorKind::kNotFound ? Status() : Status(view.error());
    }
    const auto lead = leadFacts(view.value().json);
    if (!lead) return Status();
    bool anything = false;
    Status read = ctx_->storage().read([&](sdk::Tx& tx) -> Status {
      auto plan = planFor(tx, *lead);
      if (!plan.ok()) return plan.error();
      anything = !plan.value().empty();
      return Status();
    });
    if (!read.ok() || !anything) return read;
    return ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      auto plan = planFor(tx, *lead);
      if (!plan.ok()) return plan.error();
      if (plan.value().recordConsent) {
        if (auto st = recordConsent(tx, lead->email, lead->id, "grant", lead->consent_text,
                                    lead->consent_source, lead->consent_ip, lead->consent_page,
                                    lead->consent_at);
            !st.ok())
          return st;
      }
      for (const auto& [enrolment, rule] : plan.value().stops) {
        auto done = tx.exec(
            "UPDATE p_nurture_enrolments SET status = 'stopped', stop_reason = $2, due_at = NULL, "
            "updated_at = $3 WHERE id = $1",
            {enrolment, std::string(toString(rule)), now()});
        if (!done.ok()) return done.error();
      }
      for (const Sequence* seq : plan.value().enrolments) {
        if (auto st = insertEnrolment(tx, lead->id, *seq); !st.ok()) return st;
      }
      return Status();
    });
  }

  // A lead merged into another stops its sequences: the surviving lead is enrolled on its own.
  Status stopMergedAway(const sdk::Event& e) {
    std::string mergedId;
    try {
      Poco::JSON::Parser parser;
      auto data = parser.parse(e.data).extract<Poco::JSON::Object::Ptr>();
      mergedId = data->optValue<std::string>("merged_id", "");
    } catch (const Poco::Exception&) {
      return Status();  // not ours to judge: the host wrote it
    }
    if (mergedId.empty()) return Status();
    return ctx_->storage().write(
        [&](sdk::Tx& tx) { return stopEnrolments(tx, mergedId, std::nullopt, "merged"); });
  }

  // POST /v1/nurture/enrolments: kConflict when the lead was in the sequence already,
  // kInvalid without consent or for a suppressed address.
  Status enrolByHand(sdk::Tx& tx, const LeadFacts& lead, const Sequence& seq) {
    auto known = tx.query("SELECT 1 FROM p_nurture_enrolments WHERE lead_id = $1 AND sequence = $2",
                          {lead.id, seq.key});
    if (!known.ok()) return known.error();
    if (!known.value().empty()) {
      return sdk::Error{
          sdk::ErrorKind::kConflict, "the lead is already enrolled in " + seq.key, {}, {}};
    }
    auto blocked = suppressed(tx, lead.email);
    if (!blocked.ok()) return blocked.error();
    if (blocked.value())
      return sdk::Error{sdk::ErrorKind::kInvalid, "the lead's address is suppressed", {}, {}};
    auto consent = consentActive(tx, lead.email);
    if (!consent.ok()) return consent.error();
    if (!consent.value()) {
      return sdk::Error{
          sdk::ErrorKind::kInvalid, "the lead has not given consent to marketing email", {}, {}};
    }
    return insertEnrolment(tx, lead.id, seq);
  }

  Status insertEnrolment(sdk::Tx& tx, const std::string& leadId, const Sequence& seq) {
    const std::string at = now();
    const std::string due = sdk::rfc3339(ctx_->clock().now() + seq.steps.front().delay);
    auto done = tx.exec(
        "INSERT INTO p_nurture_enrolments (id, lead_id, sequence, status, next_step, due_at, "
        "enrolled_at, updated_at) VALUES ($1, $2, $3, 'active', 0, $4, $5, $5)",
        {"enr_" + ctx_->crypto().randomToken(12), leadId, seq.key, due, at});
    if (!done.ok()) return done.error();
    ctx_->metrics().count("enrolled");
    return Status();
  }

  // ---- sending
  Status sendDue() {
    std::lock_guard lock(sendMutex_);
    if (!resumed_) {
      // An email left "sending" was cut off by a stop: it goes again, as the same message.
      Status st = ctx_->storage().write([&](sdk::Tx& tx) -> Status {
        auto done = tx.exec(
            "UPDATE p_nurture_emails SET status = 'retrying', next_attempt_at = $1 WHERE status = "
            "'sending'",
            {now()});
        return done.ok() ? Status() : Status(done.error());
      });
      if (!st.ok()) return st;
      resumed_ = true;
    }
    std::vector<std::string> retries;
    std::vector<SqlRow> due;
    Status read = ctx_->storage().read([&](sdk::Tx& tx) -> Status {
      auto r = tx.query(
          "SELECT id FROM p_nurture_emails WHERE status = 'retrying' AND next_attempt_at <= $1 "
          "ORDER BY next_attempt_at LIMIT 100",
          {now()});
      if (!r.ok()) return r.error();
      for (const auto& row : r.value()) retries.push_back(columnText(row, 0));
      auto d = tx.query(
          "SELECT id, lead_id, sequence, next_step FROM p_nurture_enrolments WHERE status = "
          "'active' AND due_at <= $1 ORDER BY due_at LIMIT 100",
          {now()});
      if (!d.ok()) return d.error();
      due = std::move(d).value();
      return Status();
    });
    if (!read.ok()) return read;
    for (const auto& id : retries) {
      if (auto st = attempt(id); !st.ok()) return st;
    }
    for (const auto& row : due) {
      std::string emailId;
      if (auto st = advance(columnText(row, 0), columnText(row, 1), columnText(row, 2),
                            columnInt(row, 3), emailId);
          !st.ok())
        return st;
      if (!emailId.empty()) {
        if (auto st = attempt(emailId); !st.ok()) return st;
      }
    }
    return Status();
  }

  // Takes an enrolment's due step: stops or completes the enrolment, skips the step, puts it
  // off (quiet hours, domain rate), or writes its email (`emailId`) and moves on.
  Status advance(const std::string& enrolmentId, const std::string& leadId,
                 const std::string& sequenceKey, long long stepIndex, std::string& emailId) {
    const Sequence* seq = sequence(sequenceKey);
    auto view = ctx_->leads().get(leadId);
    if (!view.ok() && view.error().kind != sdk::ErrorKind::kNotFound) return view.error();
    const auto lead = view.ok() ? leadFacts(view.value().json) : std::nullopt;
    const Time t = ctx_->clock().now();
    return ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      auto setEnrolment = [&](const std::string& status, const std::string& reason, long long next,
                              std::optional<Time> dueAt) -> Status {
        auto done = tx.exec(
            "UPDATE p_nurture_enrolments SET status = $2, stop_reason = $3, next_step = $4, "
            "due_at = $5, updated_at = $6 WHERE id = $1 AND status = 'active'",
            {enrolmentId, status, textOrNull(reason), next,
             dueAt ? sdk::SqlValue(sdk::rfc3339(*dueAt)) : sdk::SqlValue(), now()});
        return done.ok() ? Status() : Status(done.error());
      };
      auto stopWith = [&](const std::string& reason) {
        return setEnrolment("stopped", reason, stepIndex, std::nullopt);
      };
      if (!seq) return stopWith("sequence_removed");
      if (!lead || lead->email.empty()) return stopWith("lead_gone");
      if (auto rule = stopForStatus(*seq, lead->status))
        return stopWith(std::string(toString(*rule)));
      if (stepIndex >= static_cast<long long>(seq->steps.size()))
        return setEnrolment("completed", "", stepIndex, std::nullopt);
      auto moveOn = [&]() {
        const long long next = stepIndex + 1;
        if (next >= static_cast<long long>(seq->steps.size()))
          return setEnrolment("completed", "", next, std::nullopt);
        return setEnrolment("active", "", next, t + seq->steps[next].delay);
      };
      const Step& step = seq->steps[stepIndex];
      auto previous = tx.query(
          "SELECT opened_at, clicked_at FROM p_nurture_emails WHERE enrolment_id = $1 ORDER BY "
          "created_at DESC LIMIT 1",
          {enrolmentId});
      if (!previous.ok()) return previous.error();
      const bool opened = !previous.value().empty() && !columnText(previous.value()[0], 0).empty();
      const bool clicked = !previous.value().empty() && !columnText(previous.value()[0], 1).empty();
      if (!stepApplies(step.when, opened, clicked)) return moveOn();

      auto consent = consentActive(tx, lead->email);
      if (!consent.ok()) return consent.error();
      if (!consent.value()) return stopWith("no_consent");
      auto blocked = suppressed(tx, lead->email);
      if (!blocked.ok()) return blocked.error();
      if (blocked.value()) return stopWith("suppressed");
      const Time allowed = outsideQuietHours(t, timeZoneFor(*lead, settings_.default_time_zone),
                                             settings_.quiet_start, settings_.quiet_end);
      if (allowed > t) return setEnrolment("active", "", stepIndex, allowed);
      if (auto wait = domainRate_.take(domainOf(lead->email),
                                       Rate::perHour(settings_.per_domain_per_hour), t))
        return setEnrolment("active", "", stepIndex, t + *wait);

      const std::string id = "eml_" + ctx_->crypto().randomToken(18);
      const Rendered body = render(
          step, *lead,
          TrackingUrls{
              linkFor(TokenKind::kOpen, id), linkFor(TokenKind::kUnsubscribe, id),
              [&](std::size_t i) { return linkFor(TokenKind::kClick, id, static_cast<int>(i)); }});
      Poco::JSON::Array links;
      for (const auto& l : body.links) links.add(l);
      std::ostringstream linksJson;
      links.stringify(linksJson);
      std::string toName = lead->first_name;
      if (!lead->last_name.empty()) toName += (toName.empty() ? "" : " ") + lead->last_name;
      auto done = tx.exec(
          "INSERT INTO p_nurture_emails (id, enrolment_id, lead_id, sequence, step, message_id, "
          "address, to_name, status, attempts, next_attempt_at, give_up_at, subject, text_body, "
          "html_body, links, clicked_links, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
          "'sending', 0, NULL, $9, $10, $11, $12, $13, '', $14)",
          {id, enrolmentId, lead->id, seq->key, step.key,
           "<" + id + "@" + settings_.message_id_domain + ">", lead->email, toName,
           sdk::rfc3339(t + settings_.retry_for), body.subject, body.text, body.html,
           linksJson.str(), now()});
      if (!done.ok()) return done.error();
      emailId = id;
      return moveOn();
    });
  }

  // One attempt at an email: sent, retried later, bounced or given up.
  Status attempt(const std::string& emailId) {
    std::optional<SqlRow> row;
    bool blocked = false;
    Status read = ctx_->storage().read([&](sdk::Tx& tx) -> Status {
      auto r = tx.query(
          "SELECT id, lead_id, message_id, address, to_name, subject, text_body, html_body, "
          "attempts, give_up_at, created_at FROM p_nurture_emails WHERE id = $1 AND status IN "
          "('sending', 'retrying')",
          {emailId});
      if (!r.ok()) return r.error();
      if (r.value().empty()) return Status();  // sent, bounced or cancelled meanwhile
      row = r.value()[0];
      auto s = suppressed(tx, columnText(*row, 3));
      if (!s.ok()) return s.error();
      blocked = s.value();
      return Status();
    });
    if (!read.ok() || !row) return read;
    const std::string leadId = columnText(*row, 1), address = columnText(*row, 3);
    if (blocked)
      return setEmail(emailId, "cancelled", columnInt(*row, 8), std::nullopt, 0, "suppressed");

    sdk::MailMessage m;
    m.message_id = columnText(*row, 2);
    m.from = settings_.from;
    m.envelope_from = settings_.envelope_from;
    m.to = address;
    m.to_name = columnText(*row, 4);
    m.subject = columnText(*row, 5);
    m.text = columnText(*row, 6);
    m.html = columnText(*row, 7);
    m.date = parseUtc(columnText(*row, 10)).value_or(ctx_->clock().now());
    const std::string unsubscribeUrl = linkFor(TokenKind::kUnsubscribe, emailId);
    m.headers = {
        {"List-Unsubscribe", "<" + unsubscribeUrl + ">, <mailto:" + settings_.unsubscribe_mailto +
                                 "?subject=unsubscribe%20" + emailId + ">"},
        {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
        {"X-Ciclo-Email", emailId}};
    if (!settings_.reply_to.empty()) m.headers.emplace_back("Reply-To", settings_.reply_to);
    const auto result = ctx_->mail().send(m);
    const long long attempts = columnInt(*row, 8) + 1;
    const Time t = ctx_->clock().now();
    using K = sdk::MailResult::Kind;
    switch (result.kind) {
      case K::kSent:
        ctx_->metrics().count("sent");
        return ctx_->storage().write([&](sdk::Tx& tx) -> Status {
          auto done = tx.exec(
              "UPDATE p_nurture_emails SET status = 'sent', attempts = $2, sent_at = $3, "
              "next_attempt_at = NULL, last_code = $4, last_detail = $5 WHERE id = $1",
              {emailId, attempts, now(), static_cast<long long>(result.code), result.detail});
          if (!done.ok()) return done.error();
          auto reset = tx.exec("DELETE FROM p_nurture_bounces WHERE address_hash = $1",
                               {addressHash(address)});
          return reset.ok() ? Status() : Status(reset.error());
        });
      case K::kRetry:
        if (sdk::rfc3339(t) >= columnText(*row, 9)) {
          ctx_->log().warning("email " + emailId + " given up after " + std::to_string(attempts) +
                              " attempts: " + result.detail);
          return bounce(emailId, leadId, address, false, attempts, result, "failed");
        }
        ctx_->metrics().count("deferred");
        ctx_->log().info("email " + emailId + " deferred: " + result.detail);
        return setEmail(emailId, "retrying", attempts, retryAt(t, static_cast<int>(attempts)),
                        result.code, result.detail);
      case K::kBounce:
        return bounce(emailId, leadId, address, result.hard, attempts, result, "bounced");
      case K::kInvalid:
        ctx_->log().error("email " + emailId + " cannot be sent: " + result.detail);
        return setEmail(emailId, "invalid", attempts, std::nullopt, 0, result.detail);
    }
    return Status();
  }

  Status setEmail(const std::string& emailId, const std::string& status, long long attempts,
                  std::optional<Time> next, int code, const std::string& detail) {
    return ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      auto done = tx.exec(
          "UPDATE p_nurture_emails SET status = $2, attempts = $3, next_attempt_at = $4, "
          "last_code = $5, last_detail = $6 WHERE id = $1",
          {emailId, status, attempts, next ? sdk::SqlValue(sdk::rfc3339(*next)) : sdk::SqlValue(),
           code ? sdk::SqlValue(static_cast<long long>(code)) : sdk::SqlValue(), detail});
      return done.ok() ? Status() : Status(done.error());
    });
  }

  // A bounce (or an email given up): a hard one, or the soft one that reaches the limit,
  // suppresses the address and stops the sequences that stop on bounces.
  Status bounce(const std::string& emailId, const std::string& leadId, const std::string& address,
                bool hard, long long attempts, const sdk::MailResult& result,
                const std::string& status) {
    ctx_->metrics().count(hard ? "bounced_hard" : "bounced_soft");
    return ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      auto done = tx.exec(
          "UPDATE p_nurture_emails SET status = $2, attempts = $3, next_attempt_at = NULL, "
          "last_code = $4, last_detail = $5 WHERE id = $1",
          {emailId, status, attempts, static_cast<long long>(result.code), result.detail});
      if (!done.ok()) return done.error();
      std::string title = hard ? "hard bounce" : "soft bounce";
      if (result.code) title += " " + std::to_string(result.code);
      if (!result.enhanced.empty()) title += " " + result.enhanced;
      return recordBounce(tx, leadId, address, hard, title);
    });
  }

  // `title` says what bounced, for the lead's timeline.
  Status recordBounce(sdk::Tx& tx, const std::string& leadId, const std::string& address, bool hard,
                      const std::string& title) {
    long long soft = 0;
    if (!hard) {
      auto rows = tx.query("SELECT soft FROM p_nurture_bounces WHERE address_hash = $1",
                           {addressHash(address)});
      if (!rows.ok()) return rows.error();
      soft = (rows.value().empty() ? 0 : columnInt(rows.value()[0], 0)) + 1;
      auto done = rows.value().empty()
                      ? tx.exec(
                            "INSERT INTO p_nurture_bounces (address_hash, soft, last_at) VALUES "
                            "($1, $2, $3)",
                            {addressHash(address), soft, now()})
                      : tx.exec(
                            "UPDATE p_nurture_bounces SET soft = $2, last_at = $3 WHERE "
                            "address_hash = $1",
                            {addressHash(address), soft, now()});
      if (!done.ok()) return done.error();
    }
    if (hard || soft >= settings_.soft_bounce_limit) {
      if (auto st = suppress(tx, address, hard ? "hard_bounce" : "soft_bounces"); !st.ok())
        return st;
      if (auto st = stopEnrolments(tx, leadId, StopRule::kBounced, "bounced"); !st.ok()) return st;
    }
    auto recorded = tx.interact({leadId, "email_bounced", "", "", title});
    if (!recorded.ok() && recorded.error().kind != sdk::ErrorKind::kNotFound)
      return recorded.error();
    return Status();
  }

  // ---- public links
  std::optional<SqlRow> emailRow(sdk::Tx& tx, const std::string& emailId) {
    auto r = tx.query(
        "SELECT id, lead_id, address, subject, links, opened_at, clicked_at, clicked_links FROM "
        "p_nurture_emails WHERE id = $1",
        {emailId});
    if (!r.ok() || r.value().empty()) return std::nullopt;
    return r.value()[0];
  }

  // Records the first open of an email (a click implies one).
  Status markOpened(sdk::Tx& tx, const SqlRow& email) {
    if (!columnText(email, 5).empty()) return Status();
    auto done = tx.exec("UPDATE p_nurture_emails SET opened_at = $2 WHERE id = $1",
                        {columnText(email, 0), now()});
    if (!done.ok()) return done.error();
    auto recorded = tx.interact({columnText(email, 1), "email_opened", "", "",
                                 std::string(sdk::utf8Prefix(columnText(email, 3), 500))});
    if (!recorded.ok() && recorded.error().kind != sdk::ErrorKind::kNotFound)
      return recorded.error();
    ctx_->metrics().count("opened");
    return Status();
  }

  HttpResponse opened(const HttpRequest& r) {
    auto claims = readToken(hmac(), equals(), TokenKind::kOpen, r.params.at("token"));
    if (!claims) return notFound("there is no such email link");
    Status st = ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      auto email = emailRow(tx, claims->email_id);
      return email ? markOpened(tx, *email) : Status();
    });
    if (!st.ok()) return sdk::problem(st.error());
    return HttpResponse{200, "image/gif", kPixel, {{"Cache-Control", "no-store, max-age=0"}}};
  }

  HttpResponse clicked(const HttpRequest& r) {
    auto claims = readToken(hmac(), equals(), TokenKind::kClick, r.params.at("token"));
    if (!claims) return notFound("there is no such email link");
    std::string target, leadId;
    Status st = ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      auto email = emailRow(tx, claims->email_id);
      if (!email) return Status();
      leadId = columnText(*email, 1);
      Poco::JSON::Parser parser;
      auto links = parser.parse(columnText(*email, 4)).extract<Poco::JSON::Array::Ptr>();
      if (claims->link < 0 || static_cast<std::size_t>(claims->link) >= links->size())
        return Status();
      target = links->getElement<std::string>(static_cast<unsigned>(claims->link));
      if (auto s = markOpened(tx, *email); !s.ok()) return s;
      const std::string mark = "," + std::to_string(claims->link) + ",";
      const std::string clickedLinks = columnText(*email, 7);
      if (("," + clickedLinks).find(mark) != std::string::npos) return Status();
      auto done = tx.exec(
          "UPDATE p_nurture_emails SET clicked_at = COALESCE(clicked_at, $2), clicked_links = $3 "
          "WHERE id = $1",
          {columnText(*email, 0), now(), clickedLinks + std::to_string(claims->link) + ","});
      if (!done.ok()) return done.error();
      auto recorded = tx.interact({columnText(*email, 1), "email_clicked", "", target,
                                   std::string(sdk::utf8Prefix(columnText(*email, 3), 500))});
      if (!recorded.ok() && recorded.error().kind != sdk::ErrorKind::kNotFound)
        return recorded.error();
      ctx_->metrics().count("clicked");
      return Status();
    });
    if (!st.ok()) return sdk::problem(st.error());
    if (target.empty()) return notFound("there is no such email link");
    if (!settings_.visitor_param.empty())
      target = withQueryParam(target, settings_.visitor_param, visitorTokenFor(leadId));
    return HttpResponse{
        302, "text/plain", "", {{"Location", target}, {"Cache-Control", "no-store"}}};
  }

  // ---- the website: what a visitor known by a token does there
  std::string visitorTokenFor(const std::string& leadId) {
    const auto expires = std::chrono::duration_cast<std::chrono::seconds>(
        (ctx_->clock().now() + settings_.visitor_token_ttl).time_since_epoch());
    return makeVisitorToken(hmac(), leadId, expires.count());
  }

  // POST /t/i/{token} {"type", "url", "title"}, or GET /t/p/{token}?type=&url=&title= (an
  // image): one page visit, download, video or event of the token's lead.
  HttpResponse trackVisit(const HttpRequest& r, bool pixel) {
    static const std::set<std::string> kTypes{"page_visited", "content_downloaded", "video_watched",
                                              "event_attended"};
    const std::vector<std::pair<std::string, std::string>> cors{
        {"Access-Control-Allow-Origin", "*"}, {"Cache-Control", "no-store"}};
    auto answer = [&](HttpResponse response) {
      for (const auto& h : cors) response.headers.push_back(h);
      return response;
    };
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(ctx_->clock().now().time_since_epoch());
    const auto leadId = readVisitorToken(hmac(), equals(), r.params.at("token"), now.count());
    if (!leadId) return answer(notFound("there is no such tracking link, or it expired"));
    std::map<std::string, std::string> v;
    std::vector<sdk::FieldError> errors;
    if (pixel) {
      for (const char* name : {"type", "url", "title"}) v[name] = queryParam(r.query, name);
    } else {
      auto body = parseJsonObject(r.body, 2);
      if (!body.ok()) return answer(sdk::problem(body.error()));
      for (const auto& name : body.value()->getNames()) {
        if (name != "type" && name != "url" && name != "title") {
          errors.push_back({"/" + name, "is not a known field"});
        } else if (!body.value()->get(name).isString()) {
          errors.push_back({"/" + name, "must be a string"});
        } else {
          v[name] = body.value()->getValue<std::string>(name);
        }
      }
    }
    if (!kTypes.contains(v["type"]))
      errors.push_back(
          {"/type", "must be page_visited, content_downloaded, video_watched or event_attended"});
    const std::string& url = v["url"];
    if (url.size() > 2048 || !sdk::isOneLine(url) ||
        (!url.empty() && !url.starts_with("https://") && !url.starts_with("http://")))
      errors.push_back({"/url", "must be an http(s) URL of at most 2048 bytes"});
    if (v["title"].size() > 500 || !sdk::isOneLine(v["title"]))
      errors.push_back({"/title", "must be one line of at most 500 bytes"});
    if (!errors.empty())
      return answer(sdk::problem(422, "invalid", "Unprocessable Content",
                                 "The tracked action has invalid fields.", errors));
    if (auto wait = visitRate_.take(*leadId, Rate::perHour(settings_.visits_per_hour),
                                    ctx_->clock().now())) {
      auto limited = sdk::problem(429, "rate-limited", "Too Many Requests",
                                  "too many tracked actions for this visitor; try later");
      limited.headers.emplace_back("Retry-After", std::to_string(wait->count()));
      return answer(limited);
    }
    bool found = true;
    Status st = ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      auto recorded = tx.interact({*leadId, v["type"], "", url, v["title"]});
      if (!recorded.ok() && recorded.error().kind == sdk::ErrorKind::kNotFound) {
        found = false;
        return Status();
      }
      return recorded.ok() ? Status() : Status(recorded.error());
    });
    if (!st.ok()) return answer(sdk::problem(st.error()));
    if (!found) return answer(notFound("there is no such tracking link, or it expired"));
    ctx_->metrics().count("visits");
    return answer(pixel ? HttpResponse{200, "image/gif", kPixel, {}}
                        : HttpResponse{204, "text/plain", "", {}});
  }

  // POST /v1/nurture/visitor-tokens {"lead_id"}: a token for the website to report what the
  // lead does there (the click redirect adds one itself when link_param is set).
  HttpResponse visitorToken(const HttpRequest& r) {
    auto body = parseJsonObject(r.body, 2);
    if (!body.ok()) return sdk::problem(body.error());
    const auto& o = *body.value();
    std::vector<sdk::FieldError> errors;
    for (const auto& name : o.getNames()) {
      if (name != "lead_id") errors.push_back({"/" + name, "is not a known field"});
    }
    if (!o.has("lead_id") || !o.get("lead_id").isString())
      errors.push_back({"/lead_id", "is required (a string)"});
    if (!errors.empty())
      return sdk::problem(422, "invalid", "Unprocessable Content",
                          "The request has invalid fields.", errors);
    auto view = ctx_->leads().get(o.getValue<std::string>("lead_id"));
    if (!view.ok()) return sdk::problem(view.error());
    const auto lead = leadFacts(view.value().json);
    if (!lead) return notFound("there is no such lead");
    const std::string token = visitorTokenFor(lead->id);
    auto out = jsonObject();
    out->set("lead_id", lead->id);
    out->set("token", token);
    out->set("expires_at", sdk::rfc3339(ctx_->clock().now() + settings_.visitor_token_ttl));
    out->set("track_url", settings_.public_url + "/t/i/" + token);
    out->set("pixel_url", settings_.public_url + "/t/p/" + token);
    return jsonAnswer(201, out);
  }

  static HttpResponse page(int status, const std::string& title, const std::string& body) {
    return HttpResponse{
        status,
        "text/html; charset=utf-8",
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
        "content=\"width=device-width\"><meta name=\"robots\" content=\"noindex\"><title>" +
            htmlEscape(title) + "</title></head><body><main><h1>" + htmlEscape(title) + "</h1>" +
            body + "</main></body></html>",
        {{"Cache-Control", "no-store"}, {"Referrer-Policy", "no-referrer"}}};
  }

  // GET /u/{token}: a confirmation page; it unsubscribes nobody by itself, since link
  // scanners follow every link in an email.
  HttpResponse unsubscribePage(const HttpRequest& r) {
    const std::string token = r.params.at("token");
    if (!readToken(hmac(), equals(), TokenKind::kUnsubscribe, token))
      return notFound("there is no such unsubscribe link");
    return page(200, "Unsubscribe",
                "<p>Do you want to stop receiving these emails?</p><form method=\"post\" "
                "action=\"/u/" +
                    htmlEscape(token) +
                    "\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
                    "<button type=\"submit\">Unsubscribe</button></form>");
  }

  // POST /u/{token}: RFC 8058 one-click unsubscribe, at once.
  HttpResponse unsubscribeNow(const HttpRequest& r) {
    auto claims = readToken(hmac(), equals(), TokenKind::kUnsubscribe, r.params.at("token"));
    if (!claims) return notFound("there is no such unsubscribe link");
    Status st = ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      auto email = emailRow(tx, claims->email_id);
      if (!email) return Status();
      return unsubscribe(tx, columnText(*email, 1), columnText(*email, 2), "one_click", r.client_ip,
                         "unsubscribed");
    });
    if (!st.ok()) return sdk::problem(st.error());
    return page(200, "You are unsubscribed", "<p>You will receive no more of these emails.</p>");
  }

  // Withdraws consent, suppresses the address (for `reason`) and stops the lead's
  // sequences; once.
  Status unsubscribe(sdk::Tx& tx, const std::string& leadId, const std::string& address,
                     const std::string& source, const std::string& ip, const std::string& reason) {
    auto active = consentActive(tx, address);
    if (!active.ok()) return active.error();
    auto blocked = suppressed(tx, address);
    if (!blocked.ok()) return blocked.error();
    if (!active.value() && blocked.value()) return Status();  // already done
    if (active.value()) {
      if (auto st = recordConsent(tx, address, leadId, "withdraw", "", source, ip, "", now());
          !st.ok())
        return st;
    }
    if (auto st = suppress(tx, address, reason); !st.ok()) return st;
    if (auto st = stopEnrolments(tx, leadId, std::nullopt, "unsubscribed"); !st.ok()) return st;
    auto recorded = tx.interact({leadId, "unsubscribed", "", "", source});
    if (!recorded.ok() && recorded.error().kind != sdk::ErrorKind::kNotFound)
      return recorded.error();
    ctx_->metrics().count("unsubscribed");
    return Status();
  }

  // ---- mail that comes back: POST /v1/mail/inbound
  struct EmailRef {
    std::string id, lead_id, address, subject, status;
  };
  // The newest email `where` ("id = $1", ...) picks.
  sdk::Result<std::optional<EmailRef>> emailWhere(sdk::Tx& tx, const char* where,
                                                  const std::string& value) {
    if (value.empty()) return std::optional<EmailRef>();
    auto rows = tx.query(std::string("SELECT id, lead_id, address, subject, status FROM "
                                     "p_nurture_emails WHERE ") +
                             where + " ORDER BY created_at DESC LIMIT 1",
                         {value});
    if (!rows.ok()) return rows.error();
    if (rows.value().empty()) return std::optional<EmailRef>();
    const auto& row = rows.value()[0];
    return std::optional<EmailRef>(EmailRef{columnText(row, 0), columnText(row, 1),
                                            columnText(row, 2), columnText(row, 3),
                                            columnText(row, 4)});
  }

  struct InboundOutcome {
    std::string kind = "unmatched";  // reply, auto_reply, bounce, delayed, report, complaint,
                                     // unsubscribe, unmatched
    std::string email_id, lead_id, detail;
  };

  // The email a delivery report or a complaint is about: the X-Ciclo-Email or Message-ID of
  // the headers it returns, else the last email to the recipient that failed.
  sdk::Result<std::optional<EmailRef>> reportedEmail(sdk::Tx& tx, const InboundMail& m,
                                                     const std::string& recipient) {
    for (auto [where, value] : {std::pair{"id = $1", m.original_email_id},
                                std::pair{"message_id = $1", m.original_message_id},
                                std::pair{"lower(address) = $1", recipient}}) {
      auto email = emailWhere(tx, where, value);
      if (!email.ok() || email.value()) return email;
    }
    return std::optional<EmailRef>();
  }

  sdk::Result<InboundOutcome> handleInbound(sdk::Tx& tx, const InboundMail& m) {
    InboundOutcome out;
    using Kind = InboundMail::Kind;
    if (m.kind != Kind::kMessage) {
      const DeliveryStatus* failed = nullptr;
      bool delayed = false;
      for (const auto& d : m.statuses) {
        if (d.action == "failed" && !failed) failed = &d;
        delayed = delayed || d.action == "delayed";
      }
      auto email = reportedEmail(tx, m, failed ? failed->recipient : "");
      if (!email.ok()) return email.error();
      if (!email.value()) {
        out.detail = "a report about no email of ours";
        return out;
      }
      const EmailRef& e = *email.value();
      out.email_id = e.id;
      out.lead_id = e.lead_id;
      if (m.kind == Kind::kComplaint) {
        out.kind = "complaint";
        if (auto st = unsubscribe(tx, e.lead_id, e.address, "complaint", "", "complaint"); !st.ok())
          return st.error();
        ctx_->metrics().count("complaints");
        return out;
      }
      if (!failed) {
        out.kind = delayed ? "delayed" : "report";
        return out;
      }
      // A permanent failure of an address that is wrong is hard; one given up after
      // temporary failures (4.x.x) is soft.
      const bool hard =
          !failed->status.starts_with("4") && sdk::isHardBounce(failed->code, failed->status);
      out.kind = "bounce";
      out.detail = std::string(hard ? "hard" : "soft") + " bounce" +
                   (failed->status.empty() ? "" : " " + failed->status) +
                   (failed->diagnostic.empty() ? "" : ": " + failed->diagnostic);
      if (e.status == "bounced") return out;  // reported already
      ctx_->metrics().count(hard ? "bounced_hard" : "bounced_soft");
      auto done = tx.exec(
          "UPDATE p_nurture_emails SET status = 'bounced', next_attempt_at = NULL, last_code = $2, "
          "last_detail = $3 WHERE id = $1",
          {e.id,
           failed->code ? sdk::SqlValue(static_cast<long long>(failed->code)) : sdk::SqlValue(),
           out.detail});
      if (!done.ok()) return done.error();
      std::string title = std::string(hard ? "hard bounce" : "soft bounce") +
                          (failed->status.empty() ? "" : " " + failed->status) +
                          " (delivery report)";
      if (auto st = recordBounce(tx, e.lead_id, e.address, hard, title); !st.ok())
        return st.error();
      return out;
    }

    // Mail to the List-Unsubscribe mailto address: its subject names the email.
    if (std::find(m.recipients.begin(), m.recipients.end(), lower(settings_.unsubscribe_mailto)) !=
        m.recipients.end()) {
      std::string emailId;
      if (const auto at = m.subject.find("eml_"); at != std::string::npos) {
        const auto end = m.subject.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", at + 4);
        emailId = m.subject.substr(at, end == std::string::npos ? end : end - at);
      }
      auto email = emailWhere(tx, "id = $1", emailId);
      if (email.ok() && !email.value()) email = emailWhere(tx, "lower(address) = $1", m.from);
      if (!email.ok()) return email.error();
      if (!email.value()) {
        out.detail = "an unsubscribe request from an address we never wrote to";
        return out;
      }
      const EmailRef& e = *email.value();
      out.kind = "unsubscribe";
      out.email_id = e.id;
      out.lead_id = e.lead_id;
      if (auto st = unsubscribe(tx, e.lead_id, e.address, "mailto", "", "unsubscribed"); !st.ok())
        return st.error();
      return out;
    }

    // A reply: to the newest of our emails it refers to.
    for (const auto& ref : m.references) {
      auto email = emailWhere(tx, "message_id = $1", ref);
      if (!email.ok()) return email.error();
      if (!email.value()) continue;
      const EmailRef& e = *email.value();
      out.email_id = e.id;
      out.lead_id = e.lead_id;
      if (m.automatic) {
        out.kind = "auto_reply";  // an out-of-office answer is not the lead speaking
        return out;
      }
      out.kind = "reply";
      auto done =
          tx.exec("UPDATE p_nurture_emails SET replied_at = COALESCE(replied_at, $2) WHERE id = $1",
                  {e.id, now()});
      if (!done.ok()) return done.error();
      if (auto st = stopEnrolments(tx, e.lead_id, StopRule::kReplied, "replied"); !st.ok())
        return st.error();
      auto recorded = tx.interact(
          {e.lead_id, "email_replied", "", "",
           std::string(sdk::utf8Prefix(m.subject.empty() ? e.subject : m.subject, 500))});
      if (!recorded.ok() && recorded.error().kind != sdk::ErrorKind::kNotFound)
        return recorded.error();
      ctx_->metrics().count("replied");
      return out;
    }
    out.detail =
        m.references.empty() ? "not a reply to an email of ours" : "a reply to no email of ours";
    return out;
  }

  // POST /v1/mail/inbound?recipient=ADDRESS: one raw message (message/rfc822); `recipient`
  // is the envelope recipient when the MTA passes it. A message taken before (the same
  // Message-ID, or the same bytes without one) gets the first answer again.
  HttpResponse inbound(const HttpRequest& r) {
    std::string error;
    auto mail = readInbound(r.body, error);
    if (!mail)
      return sdk::problem(422, "invalid", "Unprocessable Content",
                          "The body is not an RFC 5322 message: " + error + ".");
    if (const auto recipient = queryParam(r.query, "recipient"); !recipient.empty())
      mail->recipients.push_back(lower(recipient));
    const std::string digest = hex(ctx_->crypto().hmacSha256(
        "ciclo-nurture-inbound", mail->message_id.empty() ? r.body : mail->message_id));
    auto out = jsonObject();
    auto answer = [&](const std::string& id, const InboundOutcome& o, bool duplicate) {
      out->set("id", id);
      out->set("kind", o.kind);
      out->set("email_id", nullIfEmpty(o.email_id));
      out->set("lead_id", nullIfEmpty(o.lead_id));
      out->set("detail", nullIfEmpty(o.detail));
      out->set("duplicate", duplicate);
    };
    Status st = ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      auto known = tx.query(
          "SELECT id, kind, email_id, lead_id, detail FROM p_nurture_inbound WHERE digest = $1",
          {digest});
      if (!known.ok()) return known.error();
      if (!known.value().empty()) {
        const auto& row = known.value()[0];
        answer(columnText(row, 0),
               {columnText(row, 1), columnText(row, 2), columnText(row, 3), columnText(row, 4)},
               true);
        return Status();
      }
      auto outcome = handleInbound(tx, *mail);
      if (!outcome.ok()) return outcome.error();
      const std::string id = "inb_" + ctx_->crypto().randomToken(12);
      const InboundOutcome& o = outcome.value();
      auto done = tx.exec(
          "INSERT INTO p_nurture_inbound (id, digest, kind, email_id, lead_id, from_address, "
          "subject, detail, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
          {id, digest, o.kind, textOrNull(o.email_id), textOrNull(o.lead_id),
           textOrNull(mail->from), textOrNull(mail->subject), textOrNull(o.detail), now()});
      if (!done.ok()) return done.error();
      answer(id, o, false);
      return Status();
    });
    if (!st.ok()) return sdk::problem(st.error());
    ctx_->log().info("inbound mail " + out->getValue<std::string>("id") + ": " +
                     out->getValue<std::string>("kind"));
    return jsonAnswer(200, out);
  }

  // GET /v1/nurture/inbound?kind=K&limit=N: the newest messages taken, and what each was.
  HttpResponse listInbound(const HttpRequest& r) {
    static const std::set<std::string> kKinds{"reply",  "auto_reply", "bounce",      "delayed",
                                              "report", "complaint",  "unsubscribe", "unmatched"};
    const std::string kind = queryParam(r.query, "kind");
    const std::string limitText = queryParam(r.query, "limit");
    std::vector<sdk::FieldError> errors;
    if (!kind.empty() && !kKinds.contains(kind))
      errors.push_back({"kind",
                        "must be one of reply, auto_reply, bounce, delayed, report, "
                        "complaint, unsubscribe, unmatched"});
    long long limit = 50;
    if (!limitText.empty()) {
      const bool digits =
          limitText.size() <= 3 && std::all_of(limitText.begin(), limitText.end(), ::isdigit);
      limit = digits ? std::stoll(limitText) : 0;
      if (limit < 1 || limit > 100) errors.push_back({"limit", "must be from 1 to 100"});
    }
    if (!errors.empty())
      return sdk::problem(422, "invalid", "Unprocessable Content", "The query is invalid.", errors);
    Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
    Status st = ctx_->storage().read([&](sdk::Tx& tx) -> Status {
      const std::string select =
          "SELECT id, kind, email_id, lead_id, from_address, subject, detail, received_at FROM "
          "p_nurture_inbound ";
      const std::string order =
          " ORDER BY received_at DESC, id DESC LIMIT " + std::to_string(limit);
      auto rows = kind.empty() ? tx.query(select + order)
                               : tx.query(select + "WHERE kind = $1" + order, {kind});
      if (!rows.ok()) return rows.error();
      for (const auto& row : rows.value()) {
        auto o = jsonObject();

        o->set("id", columnText(row, 0));
        o->set("kind", columnText(row, 1));
        o->set("email_id", nullIfEmpty(columnText(row, 2)));
        o->set("lead_id", nullIfEmpty(columnText(row, 3)));
        o->set("from", nullIfEmpty(columnText(row, 4)));
        o->set("subject", nullIfEmpty(columnText(row, 5)));
        o->set("detail", nullIfEmpty(columnText(row, 6)));
        o->set("received_at", columnText(row, 7));
        data->add(o);
      }
      return Status();
    });
    if (!st.ok()) return sdk::problem(st.error());
    return dataAnswer(data);
  }

  // ---- admin API
  // A query parameter's value; "" when it is absent or not one line of UTF-8.
  static std::string queryParam(std::string_view query, std::string_view name) {
    while (!query.empty()) {
      const auto item = query.substr(0, query.find('&'));
      query.remove_prefix(std::min(query.size(), item.size() + 1));
      if (item.size() <= name.size() || !item.starts_with(name) || item[name.size()] != '=')
        continue;
      auto value = sdk::percentDecode(item.substr(name.size() + 1), true);
      return value && sdk::isOneLine(*value) ? *value : std::string();
    }
    return "";
  }

  HttpResponse listSequences() {
    Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
    for (const auto& seq : settings_.sequences) {
      auto o = jsonObject();
      o->set("key", seq.key);
      o->set("name", seq.name);
      Poco::JSON::Array::Ptr personas = new Poco::JSON::Array;
      for (const auto& p : seq.enrol.personas) personas->add(p);
      o->set("personas", personas);
      Poco::JSON::Array::Ptr stop = new Poco::JSON::Array;
      for (auto rule : seq.stop) stop->add(std::string(toString(rule)));
      o->set("stop", stop);
      Poco::JSON::Array::Ptr steps = new Poco::JSON::Array;
      for (const auto& step : seq.steps) {
        auto s = jsonObject();
        s->set("key", step.key);
        s->set("delay_seconds", step.delay.count());
        s->set("subject", step.subject);
        steps->add(s);
      }
      o->set("steps", steps);
      data->add(o);
    }
    return dataAnswer(data);
  }

  // GET /v1/nurture/enrolments?lead_id=...: the lead's enrolments with their emails.
  HttpResponse listEnrolments(const HttpRequest& r) {
    const std::string leadId = queryParam(r.query, "lead_id");
    if (leadId.empty())
      return sdk::problem(422, "invalid", "Unprocessable Content", "lead_id is required",
                          {{"lead_id", "is required"}});
    return enrolmentsOf(leadId);
  }
  HttpResponse enrolmentsOf(const std::string& leadId) {
    Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
    Status st = ctx_->storage().read([&](sdk::Tx& tx) -> Status {
      auto rows = tx.query(
          "SELECT id, sequence, status, next_step, due_at, stop_reason, enrolled_at FROM "
          "p_nurture_enrolments WHERE lead_id = $1 ORDER BY enrolled_at, id",
          {leadId});
      if (!rows.ok()) return rows.error();
      for (const auto& row : rows.value()) {
        auto o = jsonObject();
        o->set("id", columnText(row, 0));
        o->set("lead_id", leadId);
        o->set("sequence", columnText(row, 1));
        o->set("status", columnText(row, 2));
        o->set("next_step", columnInt(row, 3));
        o->set("due_at", nullIfEmpty(columnText(row, 4)));
        o->set("stop_reason", nullIfEmpty(columnText(row, 5)));
        o->set("enrolled_at", columnText(row, 6));
        auto emails = tx.query(
            "SELECT id, step, message_id, status, attempts, sent_at, opened_at, clicked_at, "
            "last_code, last_detail, subject, replied_at FROM p_nurture_emails WHERE "
            "enrolment_id = $1 ORDER "
            "BY created_at, id",
            {columnText(row, 0)});
        if (!emails.ok()) return emails.error();
        Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
        for (const auto& e : emails.value()) {
          auto m = jsonObject();

          m->set("id", columnText(e, 0));
          m->set("step", columnText(e, 1));
          m->set("message_id", columnText(e, 2));
          m->set("subject", columnText(e, 10));
          m->set("status", columnText(e, 3));
          m->set("attempts", columnInt(e, 4));
          m->set("sent_at", nullIfEmpty(columnText(e, 5)));
          m->set("opened_at", nullIfEmpty(columnText(e, 6)));
          m->set("clicked_at", nullIfEmpty(columnText(e, 7)));
          m->set("replied_at", nullIfEmpty(columnText(e, 11)));
          m->set("last_code",
                 columnInt(e, 8) ? Poco::Dynamic::Var(columnInt(e, 8)) : Poco::Dynamic::Var());
          m->set("last_detail", nullIfEmpty(columnText(e, 9)));
          list->add(m);
        }
        o->set("emails", list);
        data->add(o);
      }
      return Status();
    });
    if (!st.ok()) return sdk::problem(st.error());
    return dataAnswer(data);
  }

  // POST /v1/nurture/enrolments {"lead_id", "sequence"}
  HttpResponse enrolByApi(const HttpRequest& r) {
    auto body = parseJsonObject(r.body, 4);
    if (!body.ok()) return sdk::problem(body.error());
    const auto& o = *body.value();
    std::vector<sdk::FieldError> errors;
    auto field = [&](const std::string& name) {
      if (!o.has(name) || !o.get(name).isString()) {
        errors.push_back({"/" + name, "is required (a string)"});
        return std::string();
      }
      return o.getValue<std::string>(name);
    };
    const std::string leadId = field("lead_id");
    const std::string key = field("sequence");
    for (const auto& name : o.getNames()) {
      if (name != "lead_id" && name != "sequence")
        errors.push_back({"/" + name, "is not a known field"});
    }
    const Sequence* seq = key.empty() ? nullptr : sequence(key);
    if (!key.empty() && !seq)
      errors.push_back({"/sequence", "there is no sequence " + key.substr(0, 64)});
    if (!errors.empty())
      return sdk::problem(422, "invalid", "Unprocessable Content",
                          "The enrolment has invalid fields.", errors);
    auto view = ctx_->leads().get(leadId);
    if (!view.ok()) return sdk::problem(view.error());
    const auto lead = leadFacts(view.value().json);
    if (!lead || lead->email.empty())
      return sdk::problem(422, "invalid", "Unprocessable Content", "the lead has no email address",
                          {{"/lead_id", "the lead has no email address"}});
    Status st = ctx_->storage().write([&](sdk::Tx& tx) { return enrolByHand(tx, *lead, *seq); });
    if (!st.ok()) return sdk::problem(st.error());
    auto answer = enrolmentsOf(leadId);
    answer.status = 201;
    return answer;
  }

  HttpResponse listConsents(const HttpRequest& r) {
    const std::string address = lower(queryParam(r.query, "email"));
    if (address.empty())
      return sdk::problem(422, "invalid", "Unprocessable Content", "email is required",
                          {{"email", "is required"}});
    return consentsOf(address);
  }
  HttpResponse consentsOf(const std::string& address) {
    Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
    bool active = false;
    Status st = ctx_->storage().read([&](sdk::Tx& tx) -> Status {
      auto rows = tx.query(
          "SELECT id, lead_id, action, text, source, ip, page, at, recorded_at FROM "
          "p_nurture_consents WHERE address = $1 ORDER BY at, recorded_at",
          {address});
      if (!rows.ok()) return rows.error();
      for (const auto& row : rows.value()) {
        auto o = jsonObject();

        o->set("id", columnText(row, 0));
        o->set("lead_id", nullIfEmpty(columnText(row, 1)));
        o->set("action", columnText(row, 2));
        o->set("text", nullIfEmpty(columnText(row, 3)));
        o->set("source", columnText(row, 4));
        o->set("ip", nullIfEmpty(columnText(row, 5)));
        o->set("page", nullIfEmpty(columnText(row, 6)));
        o->set("at", columnText(row, 7));
        o->set("recorded_at", columnText(row, 8));
        data->add(o);
      }
      auto a = consentActive(tx, address);
      if (!a.ok()) return a.error();
      active = a.value();
      return Status();
    });
    if (!st.ok()) return sdk::problem(st.error());
    auto out = jsonObject();
    out->set("email", address);
    out->set("consent", active);
    out->set("data", data);
    return jsonAnswer(200, out);
  }

  // POST /v1/nurture/consents: a grant or withdrawal recorded elsewhere (a CRM, a call).
  HttpResponse recordConsentByApi(const HttpRequest& r) {
    auto body = parseJsonObject(r.body, 4);
    if (!body.ok()) return sdk::problem(body.error());
    const auto& o = *body.value();
    std::vector<sdk::FieldError> errors;
    std::map<std::string, std::string> v;
    for (const auto& name : o.getNames()) {
      static const std::set<std::string> kKnown{"email", "action", "text", "source",
                                                "ip",    "page",   "at",   "lead_id"};
      if (!kKnown.contains(name)) {
        errors.push_back({"/" + name, "is not a known field"});
      } else if (!o.get(name).isString() || o.getValue<std::string>(name).size() > 2000) {
        errors.push_back({"/" + name, "must be a string of at most 2000 characters"});
      } else {
        v[name] = o.getValue<std::string>(name);
      }
    }
    if (v["email"].find('@') == std::string::npos || v["email"].size() > 254)
      errors.push_back({"/email", "must be an email address"});
    if (v["action"] != "grant" && v["action"] != "withdraw")
      errors.push_back({"/action", "must be grant or withdraw"});
    if (v["source"].empty()) errors.push_back({"/source", "is required"});
    if (v["action"] == "grant" && v["text"].empty())
      errors.push_back({"/text", "is required for a grant: the wording agreed to"});
    // Kept in the one form the ledger's order by time compares correctly.
    if (v["at"].empty()) {
      v["at"] = now();
    } else if (auto at = parseUtc(v["at"]);
               !at || *at > ctx_->clock().now() + std::chrono::minutes(5)) {
      errors.push_back({"/at", "must be an RFC 3339 UTC time, not in the future"});
    } else {
      v["at"] = sdk::rfc3339(*at);
    }
    for (const auto& [name, value] : v) {
      if (value.find_first_of("\r\n") != std::string::npos && name != "text")
        errors.push_back({"/" + name, "must be one line"});
    }
    if (!errors.empty())
      return sdk::problem(422, "invalid", "Unprocessable Content",
                          "The consent has invalid fields.", errors);
    Status st = ctx_->storage().write([&](sdk::Tx& tx) -> Status {
      if (v["action"] == "withdraw" && !v["lead_id"].empty()) {
        if (auto s = stopEnrolments(tx, v["lead_id"], std::nullopt, "unsubscribed"); !s.ok())
          return s;
      }
      return recordConsent(tx, v["email"], v["lead_id"], v["action"], v["text"], v["source"],
                           v["ip"], v["page"], v["at"]);
    });
    if (!st.ok()) return sdk::problem(st.error());
    auto answer = consentsOf(lower(v["email"]));
    answer.status = 201;
    return answer;
  }

  HttpResponse suppressionOf(const HttpRequest& r) {
    const std::string address = queryParam(r.query, "email");
    if (address.empty())
      return sdk::problem(422, "invalid", "Unprocessable Content", "email is required",
                          {{"email", "is required"}});
    return suppressionAnswer(address);
  }
  HttpResponse suppressionAnswer(const std::string& address) {
    auto out = jsonObject();
    Status st = ctx_->storage().read([&](sdk::Tx& tx) -> Status {
      auto rows = tx.query("SELECT reason, at FROM p_nurture_suppressions WHERE address_hash = $1",
                           {addressHash(address)});
      if (!rows.ok()) return rows.error();
      out->set("email", lower(address));
      out->set("suppressed", !rows.value().empty());
      out->set("reason", rows.value().empty() ? Poco::Dynamic::Var()
                                              : Poco::Dynamic::Var(columnText(rows.value()[0], 0)));
      out->set("at", rows.value().empty() ? Poco::Dynamic::Var()
                                          : Poco::Dynamic::Var(columnText(rows.value()[0], 1)));
      return Status();
    });
    if (!st.ok()) return sdk::problem(st.error());
    return jsonAnswer(200, out);
  }

  // POST /v1/nurture/suppressions {"email", "reason"}: e.g. a complaint, a do-not-contact.
  HttpResponse suppressByApi(const HttpRequest& r) {
    auto body = parseJsonObject(r.body, 4);
    if (!body.ok()) return sdk::problem(body.error());
    const auto& o = *body.value();
    std::vector<sdk::FieldError> errors;
    for (const auto& name : o.getNames()) {
      if (name != "email" && name != "reason")
        errors.push_back({"/" + name, "is not a known field"});
    }
    const std::string address =
        o.has("email") && o.get("email").isString() ? o.getValue<std::string>("email") : "";
    const std::string reason = o.has("reason") && o.get("reason").isString()
                                   ? o.getValue<std::string>("reason")
                                   : "manual";
    if (address.find('@') == std::string::npos || address.size() > 254)
      errors.push_back({"/email", "must be an email address"});
    if (!sdk::isKey(reason)) errors.push_back({"/reason", "must be a short key such as complaint"});
    if (!errors.empty())
      return sdk::problem(422, "invalid", "Unprocessable Content",
                          "The suppression has invalid fields.", errors);
    Status st = ctx_->storage().write([&](sdk::Tx& tx) { return suppress(tx, address, reason); });
    if (!st.ok()) return sdk::problem(st.error());
    auto answer = suppressionAnswer(address);
    answer.status = 201;
    return answer;
  }

  sdk::Context* ctx_ = nullptr;
  Settings settings_;
  std::string key_;
  TokenBuckets domainRate_;  // emails per recipient domain
  TokenBuckets visitRate_;   // tracked website actions per lead
  std::mutex sendMutex_;
  bool resumed_ = false;
};

}  // namespace

}  // namespace ciclo::plugins::nurture

CICLO_PLUGIN(ciclo::plugins::nurture::NurturePlugin, "nurture", "1.0.0")
