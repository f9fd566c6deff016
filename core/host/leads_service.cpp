#include "host/leads_service.h"

#include <Poco/JSON/Array.h>

#include <charconv>

#include "ciclo/text.h"
#include "host/adapters.h"
#include "host/http.h"
#include "store/journal.h"
#include "store/lead_json.h"
#include "store/lead_store.h"

namespace ciclo::host {

namespace {

constexpr std::string_view kDefaultRegion = "IT";
constexpr std::size_t kMaxCustomFields = 50;

Poco::JSON::Array::Ptr names(const std::vector<std::string>& v) {
  Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
  for (const auto& n : v) a->add(n);
  return a;
}

bool text(const std::string& s) {
  return isValidUtf8(s) && std::none_of(s.begin(), s.end(), [](char c) {
           const auto u = static_cast<unsigned char>(c);
           return (u < 0x20 && c != '\n' && c != '\r' && c != '\t') || u == 0x7f;
         });
}

}  // namespace

namespace {

// The profile part of an input, normalised; errors appended to `errors`.
LeadProfile profileOf(Services& s, const sdk::LeadInput& in, std::vector<FieldError>& errors,
                      const std::function<std::string(const std::string&)>& fieldName,
                      bool& shapesOk) {
  auto fail = [&](const std::string& field, const std::string& message) {
    errors.push_back({fieldName(field), message});
  };
  LeadProfile p;

  struct Limit {
    const char* name;
    const std::string* value;
    std::size_t max;
    bool multiline;
  };
  const Limit limits[] = {
      {"email", &in.email, 320, false},
      {"phone", &in.phone, 64, false},
      {"first_name", &in.first_name, 200, false},
      {"last_name", &in.last_name, 200, false},
      {"job_title", &in.job_title, 200, false},
      {"company", &in.company, 200, false},
      {"website", &in.website, 2048, false},
      {"industry", &in.industry, 200, false},
      {"country", &in.country, 2, false},
      {"city", &in.city, 200, false},
      {"needs", &in.needs, 5000, true},
      {"partner", &in.partner, 64, false},
      {"channel", &in.channel, 200, false},
      {"page_url", &in.page_url, 2048, false},
      {"utm_source", &in.utm_source, 200, false},
      {"utm_medium", &in.utm_medium, 200, false},
      {"utm_campaign", &in.utm_campaign, 200, false},
      {"utm_term", &in.utm_term, 200, false},
      {"utm_content", &in.utm_content, 200, false},
      {"consent_text", &in.consent_text, 5000, true},
      {"consent_source", &in.consent_source, 200, false},
      {"consent_ip", &in.consent_ip, 64, false},
      {"consent_page", &in.consent_page, 2048, false},
      {"owner", &in.owner, 200, false},
      {"persona", &in.persona, 200, false},
  };
  shapesOk = true;
  for (const auto& l : limits) {
    if (l.value->size() > l.max) {
      fail(l.name, "must be at most " + std::to_string(l.max) + " bytes");
      shapesOk = false;
    } else if (!(l.multiline ? text(*l.value) : sdk::isOneLine(*l.value))) {
      fail(l.name,
           l.multiline ? "must be text without control characters" : "must be one line of text");
      shapesOk = false;
    }
  }
  if (!shapesOk) return p;

  if (!trim(in.email).empty()) {
    auto email = normalizeEmail(in.email, s.domains);
    if (email.ok()) {
      p.email = email.value();
    } else {
      fail("email", email.error().message);
    }
  }
  if (!trim(in.phone).empty()) {
    auto phone = s.phones.toE164(in.phone, kDefaultRegion);
    if (phone.ok()) {
      p.phone = phone.value();
    } else {
      fail("phone", phone.error().message);
    }
  }
  p.first_name = std::string(trim(in.first_name));
  p.last_name = std::string(trim(in.last_name));
  p.job_title = std::string(trim(in.job_title));
  p.company = std::string(trim(in.company));
  p.website = std::string(trim(in.website));
  p.industry = std::string(trim(in.industry));
  p.city = std::string(trim(in.city));
  p.needs = in.needs;
  if (!in.country.empty()) {
    if (in.country.size() == 2 && std::isupper(static_cast<unsigned char>(in.country[0])) &&
        std::isupper(static_cast<unsigned char>(in.country[1]))) {
      p.country = in.country;
    } else {
      fail("country", "must be an ISO 3166-1 alpha-2 code in upper case, e.g. IT");
    }
  }
  if (in.employees) {
    if (*in.employees < 0 || *in.employees > 10'000'000) {
      fail("employees", "must be an integer from 0 to 10000000");
    } else {
      p.employees = *in.employees;
    }
  }
  if (!in.annual_revenue.empty() || !in.revenue_currency.empty()) {
    if (in.annual_revenue.empty()) fail("annual_revenue", "is required with a currency");
    if (in.revenue_currency.empty()) fail("revenue_currency", "is required with an amount");
    if (!in.annual_revenue.empty() && !in.revenue_currency.empty()) {
      auto money = Money::parse(in.annual_revenue, in.revenue_currency);
      if (!money.ok()) {
        const bool currency =
            !money.error().fields.empty() && money.error().fields[0].field == "currency";
        fail(
            currency ? "revenue_currency" : "annual_revenue",
            money.error().fields.empty() ? money.error().message : money.error().fields[0].message);
      } else if (money.value().minor() < 0) {
        fail("annual_revenue", "must not be negative");
      } else {
        p.annual_revenue = money.value();
      }
    }
  }
  return p;
}

}  // namespace

Result<LeadProfile> normalizeProfile(
    Services& s, const sdk::LeadInput& input,
    const std::function<std::string(const std::string&)>& fieldName) {
  std::vector<FieldError> errors;
  bool shapesOk = true;
  LeadProfile p = profileOf(s, input, errors, fieldName, shapesOk);
  if (!errors.empty()) return Error::invalid("The lead has invalid fields.", std::move(errors));
  return p;
}

Result<LeadCapture> buildCapture(Services& s, const sdk::LeadInput& in, const std::string& clientIp,
                                 const std::function<std::string(const std::string&)>& fieldName) {
  std::vector<FieldError> errors;
  auto fail = [&](const std::string& field, const std::string& message) {
    errors.push_back({fieldName(field), message});
  };
  LeadCapture c;
  bool shapesOk = true;
  c.profile = profileOf(s, in, errors, fieldName, shapesOk);
  if (!shapesOk) return Error::invalid("The lead has invalid fields.", std::move(errors));
  const auto& p = c.profile;
  const Timestamp now = s.clock.now();
  if (auto source = leadSourceFrom(in.source)) {
    c.touch.source = *source;
  } else {
    fail("source", "must be one of web_form, referral, import, manual, email, api");
  }
  c.touch.partner = in.partner;
  c.touch.channel = in.channel;
  c.touch.page_url = in.page_url;
  c.touch.utm = {in.utm_source, in.utm_medium, in.utm_campaign, in.utm_term, in.utm_content};
  c.touch.at = now;
  if (in.consent_granted) {
    if (trim(in.consent_text).empty()) {
      fail("consent_text", "is required: the wording the person agreed to");
    } else {
      c.consent = Consent{true,
                          in.consent_text,
                          now,
                          in.consent_source.empty() ? in.channel : in.consent_source,
                          in.consent_ip.empty() ? clientIp : in.consent_ip,
                          in.consent_page.empty() ? in.page_url : in.consent_page};
    }
  }
  c.owner = in.owner;
  c.persona = in.persona;
  if (in.custom.size() > kMaxCustomFields) {
    fail("custom", "has more than " + std::to_string(kMaxCustomFields) + " fields");
  } else {
    for (const auto& [key, value] : in.custom) {
      if (!sdk::isCustomFieldName(key)) {
        fail("custom", "field names are 1 to 64 characters of a-z, 0-9 and _");
        break;
      }
      if (value.size() > 1000 || !text(value)) {
        fail("custom." + key, "must be text of at most 1000 bytes");
        continue;
      }
      c.custom[key] = value;
    }
  }
  if (errors.empty() && p.email.empty() && p.phone.empty()) {
    fail("email", "an email or a phone is required to identify the lead");
  }
  if (!errors.empty()) return Error::invalid("The lead has invalid fields.", std::move(errors));
  return c;
}

std::string actorOf(const Request& r) {
  return r.principal ? r.principal->name : "anonymous";
}

Result<Lead> loadLead(store::Connection& c, const std::string& id) {
  if (!isValidId("lead", id))
    return Error::notFound("there is no lead " + (isValidUtf8(id) ? id.substr(0, 40) : "?"));
  auto lead = store::findLead(c, id);
  if (!lead) return Error::notFound("there is no lead " + id);
  return std::move(*lead);
}

std::string leadCompanyDomain(const LeadProfile& p) {
  std::string domain = companyDomainOfEmail(p.email);
  if (domain.empty()) domain = companyDomainOfWebsite(p.website);
  return domain;
}

std::string captureAnswer(const Captured& captured) {
  return captured.doc.substr(0, captured.doc.size() - 1) + ",\"outcome\":\"" +
         std::string(toString(captured.outcome)) + "\"}";
}

void recordChange(Services& s, store::Connection& c, const std::string& recordId,
                  const std::string& kind, const std::string& actor, const std::string& summary,
                  const std::string& data, const std::string& eventType,
                  const std::string& partner) {
  const Timestamp now = s.clock.now();
  store::appendTimeline(c, {0, recordId, now, kind, actor, summary, data});
  if (!eventType.empty())
    store::appendEvent(c, {0, s.ids.next("evt"), eventType, recordId, partner, now, data});
}

Reprofiled reprofile(Services& s, Lead& lead) {
  Reprofiled r;
  r.previousPersona = lead.persona;
  const Profiled profiled = profileLead(s.config.profiling, lead);
  r.changed = profiled.changed;
  if (profiled.verdict != ProfilingVerdict::kNone) {
    const bool discard = profiled.verdict == ProfilingVerdict::kDiscard;
    const LeadCommandInput command =
        discard ? LeadCommandInput{LeadCommand::kDisqualify, Actor::kSystem, "profiling",
                                   DisqualifyReason::kNoFit, "fits no buyer persona"}
                : LeadCommandInput{LeadCommand::kReactivate, Actor::kSystem, "profiling",
                                   std::nullopt, "fits buyer persona " + lead.persona};
    // The verdict is for a status the table lets the system leave; anything else is a bug.
    r.status = applyCommand(lead, command, s.clock.now()).value();
  }
  return r;
}

void recordReprofiled(Services& s, store::Connection& c, const Lead& lead, const Reprofiled& r) {
  if (r.changed) {
    auto data = store::jsonObject();
    data->set("lead", store::leadToJson(lead));
    if (r.previousPersona.empty()) {
      data->set("previous_persona", Poco::Dynamic::Var());
    } else {
      data->set("previous_persona", r.previousPersona);
    }
    const std::string summary =
        lead.persona.empty()
            ? "fits no buyer persona"
            : "buyer persona " + lead.persona +
                  (lead.persona_match ? " (" + std::to_string(lead.persona_match->score) + "%)"
                                      : std::string());
    recordChange(s, c, lead.id, "lead.profiled", "profiling", summary, store::toJsonText(data),
                 "lead.profiled", lead.first_touch.partner);
  }
  if (r.status) recordStatusChange(s, c, lead, *r.status, "profiling");
}

void recordStatusChange(Services& s, store::Connection& c, const Lead& lead,
                        const StatusChange& change, const std::string& actor) {
  auto data = store::jsonObject();
  data->set("lead", store::leadToJson(lead));
  data->set("from", std::string(toString(change.from)));
  data->set("to", std::string(toString(change.to)));
  data->set("command", std::string(toString(change.command)));
  if (change.reason) data->set("reason", std::string(toString(*change.reason)));
  const std::string text = store::toJsonText(data);
  recordChange(s, c, lead.id, "lead.status_changed", actor,
               std::string(toString(change.from)) + " -> " + std::string(toString(change.to)), text,
               "lead.status_changed", lead.first_touch.partner);
  if (change.to == LeadStatus::kQualified || change.to == LeadStatus::kDisqualified) {
    store::appendEvent(
        c, {0, s.ids.next("evt"),
            change.to == LeadStatus::kQualified ? "lead.qualified" : "lead.disqualified", lead.id,
            lead.first_touch.partner, s.clock.now(), text});
  }
}

PreparedCapture prepareCapture(Services& s, LeadCapture capture) {
  PreparedCapture p{std::move(capture), {}, {}, {}, s.ids.next("evt"), {}};
  p.candidate = newLeadFromCapture(s.ids.next("lead"), p.capture,
                                   leadCompanyDomain(p.capture.profile), s.clock.now());
  p.candidate.version = 1;
  p.profiled = reprofile(s, p.candidate);
  p.candidateDoc = store::leadToJsonText(p.candidate);
  // The lead itself is on its record; its timeline entry says how it arrived.
  p.createdEntry =
      "{\"outcome\":\"created\",\"touch\":" + store::touchToJsonText(p.candidate.first_touch) + "}";
  return p;
}

Captured captureLead(Services& s, store::Connection& c, const PreparedCapture& prepared,
                     const std::string& actor, const std::string& into) {
  const LeadCapture& capture = prepared.capture;
  const Timestamp now = s.clock.now();
  std::optional<Lead> existing;
  if (!into.empty()) {
    existing = store::findLead(c, into);
    if (existing && existing->status == LeadStatus::kDisqualified &&
        existing->disqualify_reason == DisqualifyReason::kDuplicate)
      existing.reset();
  }
  if (!existing && !capture.profile.email.empty())
    existing = store::findLeadByEmail(c, capture.profile.email);
  if (!existing && !capture.profile.phone.empty())
    existing = store::findLeadByPhone(c, capture.profile.phone);
  if (existing) {
    Lead lead = std::move(*existing);
    const MergeReport report = mergeCapture(lead, capture, now);
    if (lead.company_domain.empty()) lead.company_domain = leadCompanyDomain(lead.profile);
    const Reprofiled profiled = reprofile(s, lead);
    if (!store::updateLead(c, lead))
      throw std::runtime_error("lead changed during its own transaction");
    auto json = store::leadToJson(lead);
    auto data = store::jsonObject();
    data->set("lead", json);
    data->set("outcome", report.changed() ? "merged" : "unchanged");
    data->set("filled", names(report.filled));
    data->set("conflicts", names(report.conflicts));
    data->set("touch", json->getObject("latest_touch"));
    recordChange(s, c, lead.id, "lead.captured", actor,
                 report.changed() ? "captured again; data added" : "captured again; nothing new",
                 store::toJsonText(data), "lead.captured", lead.first_touch.partner);
    recordReprofiled(s, c, lead, profiled);
    return {std::move(lead), store::toJsonText(json),
            report.changed() ? CaptureOutcome::kMerged : CaptureOutcome::kUnchanged};
  }
  Lead lead = prepared.candidate;
  std::string doc = prepared.candidateDoc;
  if (!lead.company_domain.empty()) {
    if (auto account = store::findAccountByDomain(c, lead.company_domain)) {
      lead.account_id = account->id;
      doc = store::leadToJsonText(lead);
    }
  }
  store::insertLead(c, lead, doc);
  const Timestamp at = s.clock.now();
  store::appendTimeline(c, {0, lead.id, at, "lead.captured", actor,
                            "captured from " + std::string(toString(lead.first_touch.source)),
                            prepared.createdEntry});
  store::appendEvent(c, {0, prepared.eventId, "lead.captured", lead.id, lead.first_touch.partner,
                         at, "{\"lead\":" + doc + ",\"outcome\":\"created\"}"});
  // A new lead's persona is on its record already; only a discard is news.
  if (prepared.profiled.status)
    recordStatusChange(s, c, lead, *prepared.profiled.status, "profiling");
  return {std::move(lead), std::move(doc), CaptureOutcome::kCreated};
}

Result<Enriched> enrichLeadRecord(Services& s, store::Connection& c, const std::string& leadId,
                                  const std::string& source, const std::string& reference,
                                  const std::map<std::string, std::string>& fields,
                                  const std::string& actor) {
  std::vector<FieldError> errors;
  if (!sdk::isCustomFieldName(source) || source.size() > 32)
    errors.push_back({"source", "must be 1 to 32 characters of a-z, 0-9 and _"});
  if (reference.size() > 500 || !sdk::isOneLine(reference))
    errors.push_back({"reference", "must be one line of at most 500 bytes"});
  sdk::LeadInput input;
  std::string range;
  for (const auto& [name, value] : fields) {
    if (name == "company" || name == "website" || name == "industry" || name == "country" ||
        name == "city") {
      *sdk::profileText(input, name) = value;
    } else if (name == "employees") {
      long long n = -1;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 0)
        errors.push_back({name, "must be a whole number"});
      else
        input.employees = n;
    } else if (name == "employees_range") {
      if (value.size() > 32 || !employeesBand(value))
        errors.push_back({name, "must be a band such as 51-200 or 10001+"});
      range = value;
    } else {
      errors.push_back({name.substr(0, 64), "is not a field enrichment may fill"});
    }
  }
  if (!errors.empty())
    return Error::invalid("The enrichment has invalid fields.", std::move(errors));
  auto normalized = normalizeProfile(s, input, [](const std::string& f) { return f; });
  if (!normalized.ok()) return normalized.error();
  LeadProfile offered = std::move(normalized).value();
  offered.employees_range = range;

  auto loaded = loadLead(c, leadId);
  if (!loaded.ok()) return loaded.error();
  Enriched out{std::move(loaded).value(), {}, {}};
  Lead& lead = out.lead;
  if (lead.status == LeadStatus::kQualified)
    return Error::conflict("a qualified lead is closed", "illegal-transition");
  const Timestamp now = s.clock.now();
  out.report = enrichLead(lead, offered, FieldSource{source, reference, now});
  if (!out.report.changed()) {
    out.doc = store::leadToJsonText(lead);
    return out;
  }
  if (lead.company_domain.empty()) lead.company_domain = leadCompanyDomain(lead.profile);
  const Reprofiled profiled = reprofile(s, lead);
  lead.updated_at = now;
  if (!store::updateLead(c, lead))
    return Error::conflict("the lead changed meanwhile; retry", "version-mismatch");
  auto json = store::leadToJson(lead);
  auto data = store::jsonObject();
  data->set("lead", json);
  data->set("source", source);
  data->set("reference", store::textOrNull(reference));
  data->set("filled", names(out.report.filled));
  data->set("updated", names(out.report.updated));
  data->set("kept", names(out.report.kept));
  std::string summary = "enriched from " + source + ":";
  for (const auto* list : {&out.report.filled, &out.report.updated}) {
    for (const auto& f : *list) summary += " " + f;
  }
  recordChange(s, c, lead.id, "lead.enriched", actor, summary, store::toJsonText(data),
               "lead.enriched", lead.first_touch.partner);
  recordReprofiled(s, c, lead, profiled);
  out.doc = store::toJsonText(json);
  return out;
}

}  // namespace ciclo::host
