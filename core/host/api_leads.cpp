// /v1/leads: capture (create or merge), read, list, update, status commands, manual merge,
// and the timeline. Every change commits the lead, a timeline entry and a domain event in
// one transaction before the client is answered.

#include <Poco/JSON/Array.h>

#include "domain/activity.h"
#include "host/adapters.h"
#include "host/api.h"
#include "host/input.h"
#include "host/leads_service.h"
#include "store/activity_store.h"
#include "store/journal.h"
#include "store/lead_json.h"
#include "store/lead_store.h"

namespace ciclo::host {

namespace {

constexpr std::size_t kShortText = 200;
constexpr std::size_t kLongText = 5000;

// A capture's error fields, named as JSON Pointers into the request body.
std::string pointerOf(const std::string& field) {
  if (field.starts_with("utm_")) return "/utm/" + field.substr(4);
  if (field.starts_with("consent_")) return "/consent/" + field.substr(8);
  if (field == "annual_revenue") return "/annual_revenue/amount";
  if (field == "revenue_currency") return "/annual_revenue/currency";
  if (field.starts_with("custom.")) return "/custom/" + field.substr(7);
  return "/" + field;
}

// Reads text fields generously: their limits and normalisation are the capture's.
constexpr std::size_t kAnyText = 1 << 20;

// The profile fields of a lead body into `out`; `present` gets the names that had a value.
void readProfile(JsonInput& in, sdk::LeadInput& out, std::vector<std::string>& present) {
  for (const std::string_view name : sdk::kProfileTextFields) {
    if (auto v = in.text(std::string(name), kAnyText, true)) {
      *sdk::profileText(out, name) = *v;
      present.emplace_back(name);
    }
  }
  if (auto employees = in.integer("employees", std::numeric_limits<long long>::min() / 2,
                                  std::numeric_limits<long long>::max() / 2)) {
    out.employees = *employees;
    present.emplace_back("employees");
  }
  if (auto revenue = in.object("annual_revenue")) {
    std::vector<FieldError> inner;
    JsonInput r(*revenue, "", inner);
    out.annual_revenue = r.text("amount", 64).value_or("");
    out.revenue_currency = r.text("currency", 8).value_or("");
    r.rejectUnknown();
    for (auto& e : inner) in.fail("annual_revenue" + e.field, e.message);
    present.emplace_back("annual_revenue");
  }
}

std::map<std::string, std::string> readCustom(JsonInput& in) {
  std::map<std::string, std::string> out;
  auto custom = in.object("custom");
  if (!custom) return out;
  for (const auto& [key, value] : *custom) {
    if (!value.isString()) {
      in.fail("custom/" + (isValidUtf8(key) ? key.substr(0, 64) : std::string("?")),
              "must be a string");
      continue;
    }
    out[key] = value.extract<std::string>();
  }
  return out;
}

Result<LeadCapture> readCapture(const Request& r, Services& s) {
  auto body = parseJsonObject(r.body);
  if (!body.ok()) return body.error();
  std::vector<FieldError> errors;
  JsonInput in(*body.value(), "", errors);
  sdk::LeadInput input;
  std::vector<std::string> present;
  readProfile(in, input, present);
  input.source = in.text("source", 64).value_or("api");
  input.partner = in.text("partner", kAnyText).value_or("");
  input.page_url = in.text("page_url", kAnyText).value_or("");
  input.channel = actorOf(r);
  if (auto utm = in.object("utm")) {
    JsonInput u(*utm, in.pointer("utm"), errors);
    input.utm_source = u.text("source", kAnyText).value_or("");
    input.utm_medium = u.text("medium", kAnyText).value_or("");
    input.utm_campaign = u.text("campaign", kAnyText).value_or("");
    input.utm_term = u.text("term", kAnyText).value_or("");
    input.utm_content = u.text("content", kAnyText).value_or("");
    u.rejectUnknown();
  }
  if (auto consent = in.object("consent")) {
    JsonInput k(*consent, in.pointer("consent"), errors);
    const auto granted = k.boolean("granted");
    if (!granted && errors.empty()) k.fail("granted", "is required");
    input.consent_granted = granted.value_or(false);
    input.consent_text = k.text("text", kAnyText, true).value_or("");
    input.consent_source = k.text("source", kAnyText).value_or("api:" + actorOf(r));
    input.consent_ip = k.text("ip", kAnyText).value_or("");
    input.consent_page = k.text("page", kAnyText).value_or("");
    k.rejectUnknown();
  }
  input.owner = in.text("owner", kAnyText).value_or("");
  input.custom = readCustom(in);
  in.rejectUnknown();
  if (!errors.empty()) return Error::invalid("The lead has invalid fields.", std::move(errors));
  return buildCapture(s, input, r.client_ip, pointerOf);
}

Poco::JSON::Array::Ptr names(const std::vector<std::string>& v) {
  Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
  for (const auto& n : v) a->add(n);
  return a;
}

Response leadResponse(int status, const Lead& lead) {
  return jsonResponse(status, store::leadToJson(lead));
}

Response createLead(Request& r, Services& s) {
  auto idem = idempotencyOf(r);
  if (!idem.ok()) return problemResponse(idem.error());
  auto capture = readCapture(r, s);
  if (!capture.ok()) return problemResponse(capture.error());
  return writeIdempotentLater(
      s, std::move(idem).value(),
      // Held by pointer: the work is moved from the handler to the writer a few times.
      [&s,
       prepared =
           std::make_shared<const PreparedCapture>(prepareCapture(s, std::move(capture).value())),
       actor = actorOf(r)](store::Connection& c) -> Result<Response> {
        auto captured = captureLead(s, c, *prepared, actor);
        const bool created = captured.outcome == CaptureOutcome::kCreated;
        Response response{created ? 201 : 200, "application/json", captureAnswer(captured), {}, {}};
        if (created) response.headers.emplace_back("Location", "/v1/leads/" + captured.lead.id);
        return response;
      },
      store::Repeat::kRepeatable);
}

Response getLead(Request& r, Services& s) {
  return readResponse(s, [&](store::Connection& c) -> Result<Response> {
    auto lead = loadLead(c, r.params["id"]);
    if (!lead.ok()) return lead.error();
    return leadResponse(200, lead.value());
  });
}

Response listLeads(Request& r, Services& s) {
  auto page = readPageQuery(r, "lead", {"email", "status", "source", "partner", "updated_after"});
  if (!page.ok()) return problemResponse(page.error());
  const auto& q = page.value().filters;
  std::vector<FieldError> errors;
  store::LeadFilter f;
  f.limit = page.value().limit;
  f.after_id = page.value().cursor;
  if (auto it = q.find("email"); it != q.end()) {
    auto email = normalizeEmail(it->second, s.domains);
    if (email.ok()) {
      f.email = email.value();
    } else {
      errors.push_back({"email", email.error().message});
    }
  }
  if (auto it = q.find("status"); it != q.end()) {
    if (leadStatusFrom(it->second)) {
      f.status = it->second;
    } else {
      errors.push_back(
          {"status",
           "must be one of new, working, nurturing, sales_ready, qualified, disqualified"});
    }
  }
  if (auto it = q.find("source"); it != q.end()) {
    if (leadSourceFrom(it->second)) {
      f.source = it->second;
    } else {
      errors.push_back({"source", "must be one of web_form, referral, import, manual, email, api"});
    }
  }
  if (auto it = q.find("partner"); it != q.end()) {
    if (it->second.empty() || it->second.size() > 64) {
      errors.push_back({"partner", "must be 1 to 64 characters"});
    } else {
      f.partner = it->second;
    }
  }
  if (auto it = q.find("updated_after"); it != q.end()) {
    Timestamp t;
    if (parseTimestamp(it->second, t)) {
      f.updated_after = formatTimestamp(t);
    } else {
      errors.push_back({"updated_after", "must be an RFC 3339 timestamp"});
    }
  }
  if (!errors.empty()) {
    return problemResponse(Error::invalid("The query has invalid parameters.", std::move(errors)));
  }
  std::vector<Lead> leads;
  Status st = s.store.read([&](store::Connection& c) {
    leads = store::listLeads(c, f);
    return Status();
  });
  if (!st.ok()) return problemResponse(st.error());
  const bool more = leads.size() > static_cast<std::size_t>(f.limit);
  if (more) leads.pop_back();
  Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
  for (const auto& l : leads) data->add(store::leadToJson(l));
  return pageResponse(data, more, more ? leads.back().id : "");
}

Response updateLead(Request& r, Services& s) {
  auto body = parseJsonObject(r.body);
  if (!body.ok()) return problemResponse(body.error());
  std::vector<FieldError> errors;
  JsonInput in(*body.value(), "", errors);
  sdk::LeadInput input;
  std::vector<std::string> present;
  readProfile(in, input, present);
  const auto owner = in.text("owner", kShortText);
  const auto custom = readCustom(in);
  for (const auto& [k, v] : custom) input.custom[k] = v;
  const auto expectedVersion = in.integer("version", 1, std::numeric_limits<std::int32_t>::max());
  // Fields sent as null are cleared.
  std::vector<std::string> cleared;
  for (const auto& [key, value] : *body.value()) {
    if (value.isEmpty() && key != "version") cleared.push_back(key);
  }
  in.rejectUnknown();
  if (!errors.empty())
    return problemResponse(Error::invalid("The lead has invalid fields.", std::move(errors)));
  auto normalized = normalizeProfile(s, input, pointerOf);
  if (!normalized.ok()) return problemResponse(normalized.error());
  const LeadProfile& patch = normalized.value();
  if (present.empty() && cleared.empty() && !owner && custom.empty()) {
    return problemResponse(
        Error::invalid("Nothing to change.", {{"", "send at least one field to change"}}));
  }
  return writeIdempotent(s, std::nullopt, [&](store::Connection& c) -> Result<Response> {
    auto loaded = loadLead(c, r.params["id"]);
    if (!loaded.ok()) return loaded.error();
    Lead lead = std::move(loaded).value();
    if (expectedVersion && *expectedVersion != lead.version) {
      return Error::conflict("the lead is at version " + std::to_string(lead.version) + ", not " +
                                 std::to_string(*expectedVersion),
                             "version-mismatch");
    }
    if (lead.status == LeadStatus::kQualified)
      return Error::conflict("a qualified lead is closed", "illegal-transition");
    const Lead before = lead;
    auto& p = lead.profile;
    for (const auto& key : present) {
      copyProfileField(p, patch, key);
      claimProfileField(lead, key);
    }
    for (const auto& key : cleared) {
      if (copyProfileField(p, LeadProfile{}, key)) {
        claimProfileField(lead, key);
        continue;
      }
      if (key == "owner") lead.owner.clear();
      if (key == "custom") lead.custom.clear();
    }
    if (owner) lead.owner = *owner;
    for (const auto& [k, v] : custom) lead.custom[k] = v;
    if (p.email.empty() && p.phone.empty()) {
      return Error::invalid("The lead has invalid fields.",
                            {{"/email", "a lead keeps an email or a phone"}});
    }
    if (p.email != before.profile.email && !p.email.empty()) {
      if (auto other = store::findLeadByEmail(c, p.email); other && other->id != lead.id) {
        return Error::conflict("lead " + other->id + " has this email; merge the two leads instead",
                               "duplicate-lead");
      }
    }
    lead.company_domain = leadCompanyDomain(p);
    const Reprofiled profiled = reprofile(s, lead);
    if (lead == before) return leadResponse(200, lead);
    lead.updated_at = s.clock.now();
    if (!store::updateLead(c, lead))
      return Error::conflict("the lead changed meanwhile; retry", "version-mismatch");
    auto data = store::jsonObject();
    data->set("lead", store::leadToJson(lead));
    std::vector<std::string> changedFields = present;
    changedFields.insert(changedFields.end(), cleared.begin(), cleared.end());
    if (owner) changedFields.emplace_back("owner");
    for (const auto& [k, v] : custom) changedFields.push_back("custom." + k);
    data->set("fields", names(changedFields));
    recordChange(s, c, lead.id, "lead.updated", actorOf(r), "profile updated",
                 store::toJsonText(data), "lead.updated", lead.first_touch.partner);
    recordReprofiled(s, c, lead, profiled);
    return leadResponse(200, lead);
  });
}

Response commandLead(Request& r, Services& s) {
  auto body = parseJsonObject(r.body);
  if (!body.ok()) return problemResponse(body.error());
  std::vector<FieldError> errors;
  JsonInput in(*body.value(), "", errors);
  const auto commandName = in.text("command", 32);
  const auto reasonName = in.text("reason", 32);
  const auto note = in.text("note", kLongText, true);
  in.rejectUnknown();
  std::optional<LeadCommand> command;
  if (!commandName) {
    if (errors.empty()) in.fail("command", "is required");
  } else if (!(command = leadCommandFrom(*commandName))) {
    in.fail(
        "command",
        "must be one of start_work, nurture, mark_sales_ready, qualify, disqualify, reactivate");
  }
  std::optional<DisqualifyReason> reason;
  if (reasonName && !(reason = disqualifyReasonFrom(*reasonName))) {
    in.fail("reason",
            "must be one of no_fit, no_interest, no_budget, lost_to_competitor, unreachable, "
            "duplicate, spam, other");
  }
  if (command && *command != LeadCommand::kDisqualify && reasonName)
    in.fail("reason", "is only for disqualify");
  if (!errors.empty())
    return problemResponse(Error::invalid("The command has invalid fields.", std::move(errors)));
  return writeIdempotent(s, std::nullopt, [&](store::Connection& c) -> Result<Response> {
    auto loaded = loadLead(c, r.params["id"]);
    if (!loaded.ok()) return loaded.error();
    Lead lead = std::move(loaded).value();
    auto change = applyCommand(
        lead, {*command, Actor::kPerson, actorOf(r), reason, note.value_or("")}, s.clock.now());
    if (!change.ok()) {
      Error e = change.error();
      if (e.kind == ErrorKind::kInvalid) {
        for (auto& f : e.fields) f.field = "/" + f.field;
      }
      return e;
    }
    if (!store::updateLead(c, lead))
      return Error::conflict("the lead changed meanwhile; retry", "version-mismatch");
    recordStatusChange(s, c, lead, change.value(), actorOf(r));
    return leadResponse(200, lead);
  });
}

Response mergeLead(Request& r, Services& s) {
  auto body = parseJsonObject(r.body);
  if (!body.ok()) return problemResponse(body.error());
  std::vector<FieldError> errors;
  JsonInput in(*body.value(), "", errors);
  const auto duplicate = in.text("duplicate_id", 64);
  in.rejectUnknown();
  if (!duplicate && errors.empty()) in.fail("duplicate_id", "is required");
  if (duplicate && !isValidId("lead", *duplicate)) in.fail("duplicate_id", "is not a lead id");
  if (!errors.empty())
    return problemResponse(Error::invalid("The merge has invalid fields.", std::move(errors)));
  return writeIdempotent(s, std::nullopt, [&](store::Connection& c) -> Result<Response> {
    auto winner = loadLead(c, r.params["id"]);
    if (!winner.ok()) return winner.error();
    auto loser = loadLead(c, *duplicate);
    if (!loser.ok()) {
      return Error::invalid("The merge has invalid fields.",
                            {{"/duplicate_id", "there is no such lead"}});
    }
    Lead w = std::move(winner).value(), l = std::move(loser).value();
    auto report = mergeLeads(w, l, actorOf(r), s.clock.now());
    if (!report.ok()) {
      if (report.error().kind != ErrorKind::kInvalid) return report.error();
      return Error::invalid("The merge has invalid fields.",
                            {{"/duplicate_id", report.error().message}});
    }
    const Reprofiled profiled = reprofile(s, w);
    // The loser gives up its identity before the winner may take its email or phone.
    if (!store::updateLead(c, l, w.id) || !store::updateLead(c, w)) {
      return Error::conflict("a lead changed meanwhile; retry", "version-mismatch");
    }
    store::recordLeadMerge(c, l.id, w.id, actorOf(r), s.clock.now());
    auto data = store::jsonObject();
    data->set("lead", store::leadToJson(w));
    data->set("merged_id", l.id);
    data->set("filled", names(report.value().filled));
    data->set("conflicts", names(report.value().conflicts));
    recordChange(s, c, w.id, "lead.merged", actorOf(r), "merged " + l.id + " into this lead",
                 store::toJsonText(data), "lead.merged", w.first_touch.partner);
    recordReprofiled(s, c, w, profiled);
    return leadResponse(200, w);
  });
}

Response leadTimeline(Request& r, Services& s) {
  auto page = readPageQuery(r, "");
  if (!page.ok()) return problemResponse(page.error());
  std::int64_t after = 0;
  if (const auto& t = page.value().cursor; !t.empty()) {
    if (t.size() > 18 || !std::all_of(t.begin(), t.end(), ::isdigit)) {
      return problemResponse(Error::invalidField("cursor", "is not a cursor this API returned"));
    }
    after = std::stoll(t);
  }
  const int limit = page.value().limit;
  return readResponse(s, [&](store::Connection& c) -> Result<Response> {
    auto lead = loadLead(c, r.params["id"]);
    if (!lead.ok()) return lead.error();
    auto entries = store::listTimeline(c, lead.value().id, after, limit);
    const bool more = entries.size() > static_cast<std::size_t>(limit);
    if (more) entries.pop_back();
    Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
    for (const auto& e : entries) {
      auto o = store::jsonObject();
      o->set("seq", e.seq);
      o->set("at", formatTimestamp(e.at));
      o->set("kind", e.kind);
      o->set("actor", e.actor);
      o->set("summary", e.summary);
      o->set("data", parseJsonObject(e.data).value());
      data->add(o);
    }
    return pageResponse(data, more, more ? std::to_string(entries.back().seq) : "");
  });
}

std::optional<Timestamp> readTime(JsonInput& in, const std::string& key) {
  auto text = in.text(key, 40);
  if (!text) return std::nullopt;
  Timestamp t;
  if (!parseTimestamp(*text, t)) {
    in.fail(key, "must be an RFC 3339 timestamp");
    return std::nullopt;
  }
  return t;
}

// Records a seller's activity (or a reply to a post) on a lead: the activity, a timeline
// entry and an activity.created event, together.
Response addActivity(Request& r, Services& s, bool isReply) {
  auto idem = idempotencyOf(r);
  if (!idem.ok()) return problemResponse(idem.error());
  auto body = parseJsonObject(r.body);
  if (!body.ok()) return problemResponse(body.error());
  std::vector<FieldError> errors;
  JsonInput in(*body.value(), "", errors);
  Activity a;
  if (isReply) {
    a.type = ActivityType::kReply;
    a.parent_id = r.params["activity_id"];
  } else if (auto type = in.text("type", 16)) {
    if (auto parsed = activityTypeFrom(*type); parsed && *parsed != ActivityType::kReply) {
      a.type = *parsed;
    } else {
      in.fail("type", "must be note, call, appointment or post");
    }
  } else if (errors.empty()) {
    in.fail("type", "is required: note, call, appointment or post");
  }
  a.subject = in.text("subject", kShortText).value_or("");
  a.body = in.text("body", kLongText, true).value_or("");
  if (!isReply) {
    if (auto direction = in.text("direction", 16)) {
      a.direction = callDirectionFrom(*direction);
      if (!a.direction) in.fail("direction", "must be inbound or outbound");
    }
    a.outcome = in.text("outcome", kShortText).value_or("");
    a.starts_at = readTime(in, "starts_at");
    a.ends_at = readTime(in, "ends_at");
    a.location = in.text("location", kShortText).value_or("");
  }
  const auto occurred = readTime(in, "occurred_at");
  in.rejectUnknown();
  if (!errors.empty())
    return problemResponse(Error::invalid("The activity has invalid fields.", std::move(errors)));
  const Timestamp now = s.clock.now();
  a.by = actorOf(r);
  a.occurred_at = occurred.value_or(now);
  a.created_at = now;
  if (auto valid = validateActivity(a); !valid.ok()) return problemResponse(valid.error());
  return writeIdempotent(s, idem.value(), [&](store::Connection& c) -> Result<Response> {
    auto lead = loadLead(c, r.params["id"]);
    if (!lead.ok()) return lead.error();
    if (isReply) {
      auto parent =
          isValidId("act", a.parent_id) ? store::findActivity(c, a.parent_id) : std::nullopt;
      if (!parent || parent->record_id != lead.value().id)
        return Error::notFound("there is no such post on this lead");
      if (parent->type != ActivityType::kPost) {
        return Error::conflict(
            "only posts take replies; this is a " + std::string(toString(parent->type)),
            "not-a-post");
      }
    }
    a.id = s.ids.next("act");
    a.record_id = lead.value().id;
    store::insertActivity(c, a);
    auto json = store::activityToJson(a);
    auto data = store::jsonObject();
    data->set("activity", json);
    const std::string summary =
        std::string(toString(a.type)) + (a.subject.empty() ? "" : ": " + a.subject);
    recordChange(s, c, a.record_id, "activity." + std::string(toString(a.type)), a.by, summary,
                 store::toJsonText(data), "activity.created", lead.value().first_touch.partner);
    Response response = jsonResponse(201, json);
    response.headers.emplace_back("Location", "/v1/leads/" + a.record_id + "/activities/" + a.id);
    return response;
  });
}

Response listLeadActivities(Request& r, Services& s) {
  auto page = readPageQuery(r, "act");
  if (!page.ok()) return problemResponse(page.error());
  const int limit = page.value().limit;
  return readResponse(s, [&](store::Connection& c) -> Result<Response> {
    auto lead = loadLead(c, r.params["id"]);
    if (!lead.ok()) return lead.error();
    auto items = store::listActivities(c, lead.value().id, page.value().cursor, limit);
    const bool more = items.size() > static_cast<std::size_t>(limit);
    if (more) items.pop_back();
    Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
    for (const auto& a : items) data->add(store::activityToJson(a));
    return pageResponse(data, more, more ? items.back().id : "");
  });
}

}  // namespace

void addLeadRoutes(Router& router, Services& s) {
  const RouteOptions read{"leads:read", 0};
  const RouteOptions write{"leads:write", 64 * 1024};
  // A capture answers once committed (Response::later) and waits for nothing before that.
  RouteOptions capture = write;
  capture.quick = true;
  router.add("POST", "/v1/leads", capture, [&s](Request& r) { return createLead(r, s); });
  router.add("GET", "/v1/leads", read, [&s](Request& r) { return listLeads(r, s); });
  router.add("GET", "/v1/leads/{id}", read, [&s](Request& r) { return getLead(r, s); });
  router.add("PATCH", "/v1/leads/{id}", write, [&s](Request& r) { return updateLead(r, s); });
  router.add("POST", "/v1/leads/{id}/commands", write,
             [&s](Request& r) { return commandLead(r, s); });
  router.add("POST", "/v1/leads/{id}/merge", write, [&s](Request& r) { return mergeLead(r, s); });
  router.add("GET", "/v1/leads/{id}/timeline", read,
             [&s](Request& r) { return leadTimeline(r, s); });
  router.add("POST", "/v1/leads/{id}/activities", write,
             [&s](Request& r) { return addActivity(r, s, false); });
  router.add("GET", "/v1/leads/{id}/activities", read,
             [&s](Request& r) { return listLeadActivities(r, s); });
  router.add("POST", "/v1/leads/{id}/activities/{activity_id}/replies", write,
             [&s](Request& r) { return addActivity(r, s, true); });
}

}  // namespace ciclo::host
