#include "store/lead_json.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

#include "ciclo/json.h"

namespace ciclo::store {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

void putText(Object& o, const std::string& key, const std::string& value) {
  o.set(key, textOrNull(value));
}

std::string getText(const Object& o, const std::string& key) {
  if (!o.has(key) || o.isNull(key)) return {};
  return o.getValue<std::string>(key);
}

Timestamp getTime(const Object& o, const std::string& key) {
  Timestamp t{};
  parseTimestamp(getText(o, key), t);
  return t;
}

}  // namespace

Object::Ptr touchToJson(const Touch& t) {
  auto o = jsonObject();
  o->set("source", std::string(toString(t.source)));
  putText(*o, "partner", t.partner);
  putText(*o, "channel", t.channel);
  putText(*o, "page_url", t.page_url);
  auto utm = jsonObject();
  putText(*utm, "source", t.utm.source);
  putText(*utm, "medium", t.utm.medium);
  putText(*utm, "campaign", t.utm.campaign);
  putText(*utm, "term", t.utm.term);
  putText(*utm, "content", t.utm.content);
  o->set("utm", utm);
  o->set("at", formatTimestamp(t.at));
  return o;
}

namespace {

Touch touchFromJson(const Object& o) {
  Touch t;
  t.source = leadSourceFrom(getText(o, "source")).value_or(LeadSource::kApi);
  t.partner = getText(o, "partner");
  t.channel = getText(o, "channel");
  t.page_url = getText(o, "page_url");
  if (auto utm = o.getObject("utm")) {
    t.utm = {getText(*utm, "source"), getText(*utm, "medium"), getText(*utm, "campaign"),
             getText(*utm, "term"), getText(*utm, "content")};
  }
  t.at = getTime(o, "at");
  return t;
}

}  // namespace

Poco::JSON::Object::Ptr leadToJson(const Lead& lead) {
  auto o = jsonObject();
  const auto& p = lead.profile;
  o->set("id", lead.id);
  o->set("status", std::string(toString(lead.status)));
  putText(*o, "email", p.email);
  putText(*o, "first_name", p.first_name);
  putText(*o, "last_name", p.last_name);
  putText(*o, "phone", p.phone);
  putText(*o, "job_title", p.job_title);
  putText(*o, "company", p.company);
  putText(*o, "website", p.website);
  putText(*o, "industry", p.industry);
  if (p.employees) {
    o->set("employees", *p.employees);
  } else {
    o->set("employees", Poco::Dynamic::Var());
  }
  putText(*o, "employees_range", p.employees_range);
  if (p.annual_revenue) {
    auto m = jsonObject();
    m->set("amount", p.annual_revenue->toDecimal());
    m->set("currency", p.annual_revenue->currency());
    o->set("annual_revenue", m);
  } else {
    o->set("annual_revenue", Poco::Dynamic::Var());
  }
  putText(*o, "country", p.country);
  putText(*o, "city", p.city);
  putText(*o, "needs", p.needs);
  putText(*o, "company_domain", lead.company_domain);
  putText(*o, "account_id", lead.account_id);
  o->set("first_touch", touchToJson(lead.first_touch));
  o->set("latest_touch", touchToJson(lead.latest_touch));
  if (lead.consent) {
    auto c = jsonObject();
    c->set("granted", lead.consent->granted);
    putText(*c, "text", lead.consent->text);
    c->set("at", formatTimestamp(lead.consent->at));
    putText(*c, "source", lead.consent->source);
    putText(*c, "ip", lead.consent->ip);
    putText(*c, "page", lead.consent->page);
    o->set("consent", c);
  } else {
    o->set("consent", Poco::Dynamic::Var());
  }
  putText(*o, "persona", lead.persona);
  if (const auto& m = lead.persona_match) {
    auto match = jsonObject();
    match->set("score", m->score);
    Poco::JSON::Array::Ptr matched = new Array, unmatched = new Array;
    for (const auto& n : m->matched) matched->add(n);
    for (const auto& n : m->unmatched) unmatched->add(n);
    match->set("matched", matched);
    match->set("unmatched", unmatched);
    o->set("persona_match", match);
  } else {
    o->set("persona_match", Poco::Dynamic::Var());
  }
  o->set("score", lead.score);
  o->set("fit_score", lead.fit_score);
  o->set("engagement_score", lead.engagement_score);
  if (lead.scored_at) {
    o->set("scored_at", formatTimestamp(*lead.scored_at));
  } else {
    o->set("scored_at", Poco::Dynamic::Var());
  }
  putText(*o, "owner", lead.owner);
  if (lead.disqualify_reason) {
    o->set("disqualify_reason", std::string(toString(*lead.disqualify_reason)));
  } else {
    o->set("disqualify_reason", Poco::Dynamic::Var());
  }
  auto custom = jsonObject();
  for (const auto& [k, v] : lead.custom) custom->set(k, v);
  o->set("custom", custom);
  auto provenance = jsonObject();
  for (const auto& [field, from] : lead.provenance) {
    auto f = jsonObject();
    f->set("source", from.source);
    putText(*f, "reference", from.reference);
    f->set("at", formatTimestamp(from.at));
    provenance->set(field, f);
  }
  o->set("provenance", provenance);
  Poco::JSON::Array::Ptr merged = new Array;
  for (const auto& id : lead.merged_from) merged->add(id);
  o->set("merged_from", merged);
  Poco::JSON::Array::Ptr history = new Array;
  for (const auto& h : lead.history) {
    auto e = jsonObject();
    e->set("from", std::string(toString(h.from)));
    e->set("to", std::string(toString(h.to)));
    e->set("command", std::string(toString(h.command)));
    e->set("actor", std::string(toString(h.actor)));
    putText(*e, "by", h.by);
    if (h.reason) e->set("reason", std::string(toString(*h.reason)));
    putText(*e, "note", h.note);
    e->set("at", formatTimestamp(h.at));
    history->add(e);
  }
  o->set("status_history", history);
  o->set("created_at", formatTimestamp(lead.created_at));
  o->set("updated_at", formatTimestamp(lead.updated_at));
  o->set("version", lead.version);
  return o;
}

Lead leadFromJson(const Poco::JSON::Object& o) {
  Lead lead;
  auto& p = lead.profile;
  lead.id = getText(o, "id");
  lead.status = leadStatusFrom(getText(o, "status")).value_or(LeadStatus::kNew);
  p.email = getText(o, "email");
  p.first_name = getText(o, "first_name");
  p.last_name = getText(o, "last_name");
  p.phone = getText(o, "phone");
  p.job_title = getText(o, "job_title");
  p.company = getText(o, "company");
  p.website = getText(o, "website");
  p.industry = getText(o, "industry");
  if (o.has("employees") && !o.isNull("employees"))
    p.employees = o.getValue<std::int64_t>("employees");
  p.employees_range = getText(o, "employees_range");
  if (auto m = o.getObject("annual_revenue")) {
    auto money = Money::parse(getText(*m, "amount"), getText(*m, "currency"));
    if (money.ok()) p.annual_revenue = money.value();
  }
  p.country = getText(o, "country");
  p.city = getText(o, "city");
  p.needs = getText(o, "needs");
  lead.company_domain = getText(o, "company_domain");
  lead.account_id = getText(o, "account_id");
  if (auto t = o.getObject("first_touch")) lead.first_touch = touchFromJson(*t);
  if (auto t = o.getObject("latest_touch")) lead.latest_touch = touchFromJson(*t);
  if (auto c = o.getObject("consent")) {
    lead.consent = Consent{c->getValue<bool>("granted"), getText(*c, "text"), getTime(*c, "at"),
                           getText(*c, "source"),        getText(*c, "ip"),   getText(*c, "page")};
  }
  lead.persona = getText(o, "persona");
  if (auto m = o.getObject("persona_match")) {
    PersonaMatch match{lead.persona, m->getValue<int>("score"), {}, {}};
    for (auto [key, names] :
         {std::pair{"matched", &match.matched}, {"unmatched", &match.unmatched}}) {
      if (auto a = m->getArray(key)) {
        for (std::size_t i = 0; i < a->size(); ++i) names->push_back(a->getElement<std::string>(i));
      }
    }
    lead.persona_match = std::move(match);
  }
  lead.score = o.getValue<int>("score");
  lead.fit_score = o.optValue<int>("fit_score", 0);
  lead.engagement_score = o.optValue<int>("engagement_score", 0);
  if (Timestamp t; parseTimestamp(getText(o, "scored_at"), t)) lead.scored_at = t;
  lead.owner = getText(o, "owner");
  if (auto r = disqualifyReasonFrom(getText(o, "disqualify_reason"))) lead.disqualify_reason = r;
  if (auto custom = o.getObject("custom")) {
    for (const auto& [k, v] : *custom) lead.custom[k] = v.convert<std::string>();
  }
  if (auto provenance = o.getObject("provenance")) {
    for (const auto& [field, value] : *provenance) {
      if (auto f = provenance->getObject(field)) {
        lead.provenance[field] =
            FieldSource{getText(*f, "source"), getText(*f, "reference"), getTime(*f, "at")};
      }
    }
  }
  if (auto merged = o.getArray("merged_from")) {
    for (std::size_t i = 0; i < merged->size(); ++i)
      lead.merged_from.push_back(merged->getElement<std::string>(i));
  }
  if (auto history = o.getArray("status_history")) {
    for (std::size_t i = 0; i < history->size(); ++i) {
      const auto e = history->getObject(i);
      StatusChange h{leadStatusFrom(getText(*e, "from")).value_or(LeadStatus::kNew),
                     leadStatusFrom(getText(*e, "to")).value_or(LeadStatus::kNew),
                     leadCommandFrom(getText(*e, "command")).value_or(LeadCommand::kStartWork),
                     actorFrom(getText(*e, "actor")).value_or(Actor::kPerson),
                     getText(*e, "by"),
                     disqualifyReasonFrom(getText(*e, "reason")),
                     getText(*e, "note"),
                     getTime(*e, "at")};
      lead.history.push_back(std::move(h));
    }
  }
  lead.created_at = getTime(o, "created_at");
  lead.updated_at = getTime(o, "updated_at");
  lead.version = o.getValue<std::int64_t>("version");
  return lead;
}

Lead leadFromJson(const std::string& doc) {
  Poco::JSON::Parser parser;
  return leadFromJson(*parser.parse(doc).extract<Poco::JSON::Object::Ptr>());
}

namespace {

// Appends "key":value pairs to a JSON object being written into `out`, in place: a member's
// value - a nested object too - is appended to the same string, with no string of its own.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) { out_ += '{'; }
  // Starts the member `key`; its value is what is appended to the returned string next.
  std::string& member(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += key;
    out_ += "\":";
    return out_;
  }
  void raw(std::string_view key, std::string_view json) { member(key) += json; }
  void text(std::string_view key, std::string_view value) {
    sdk::appendJsonString(member(key), value);
  }
  // null when empty
  void optional(std::string_view key, std::string_view value) {
    if (value.empty()) {
      raw(key, "null");
    } else {
      text(key, value);
    }
  }
  void number(std::string_view key, long long value) { raw(key, std::to_string(value)); }
  void close() { out_ += '}'; }

 private:
  std::string& out_;
  bool first_ = true;
};

// ["a","b"]
void appendJsonList(std::string& out, const std::vector<std::string>& texts) {
  out += '[';
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (i) out += ',';
    sdk::appendJsonString(out, texts[i]);
  }
  out += ']';
}

void appendTouch(std::string& out, const Touch& t) {
  Writer w(out);
  w.text("source", toString(t.source));
  w.optional("partner", t.partner);
  w.optional("channel", t.channel);
  w.optional("page_url", t.page_url);
  Writer u(w.member("utm"));
  u.optional("source", t.utm.source);
  u.optional("medium", t.utm.medium);
  u.optional("campaign", t.utm.campaign);
  u.optional("term", t.utm.term);
  u.optional("content", t.utm.content);
  u.close();
  w.text("at", formatTimestamp(t.at));
  w.close();
}

}  // namespace

std::string touchToJsonText(const Touch& t) {
  std::string out;
  appendTouch(out, t);
  return out;
}

std::string leadToJsonText(const Lead& lead) {
  const auto& p = lead.profile;
  std::string out;
  out.reserve(1400);
  Writer w(out);
  w.text("id", lead.id);
  w.text("status", toString(lead.status));
  w.optional("email", p.email);
  w.optional("first_name", p.first_name);
  w.optional("last_name", p.last_name);
  w.optional("phone", p.phone);
  w.optional("job_title", p.job_title);
  w.optional("company", p.company);
  w.optional("website", p.website);
  w.optional("industry", p.industry);
  if (p.employees) {
    w.number("employees", *p.employees);
  } else {
    w.raw("employees", "null");
  }
  w.optional("employees_range", p.employees_range);
  if (p.annual_revenue) {
    Writer m(w.member("annual_revenue"));
    m.text("amount", p.annual_revenue->toDecimal());
    m.text("currency", p.annual_revenue->currency());
    m.close();
  } else {
    w.raw("annual_revenue", "null");
  }
  w.optional("country", p.country);
  w.optional("city", p.city);
  w.optional("needs", p.needs);
  w.optional("company_domain", lead.company_domain);
  w.optional("account_id", lead.account_id);
  appendTouch(w.member("first_touch"), lead.first_touch);
  appendTouch(w.member("latest_touch"), lead.latest_touch);
  if (lead.consent) {
    Writer c(w.member("consent"));
    c.raw("granted", lead.consent->granted ? "true" : "false");
    c.optional("text", lead.consent->text);
    c.text("at", formatTimestamp(lead.consent->at));
    c.optional("source", lead.consent->source);
    c.optional("ip", lead.consent->ip);
    c.optional("page", lead.consent->page);
    c.close();
  } else {
    w.raw("consent", "null");
  }
  w.optional("persona", lead.persona);
  if (const auto& m = lead.persona_match) {
    Writer mw(w.member("persona_match"));
    mw.number("score", m->score);
    appendJsonList(mw.member("matched"), m->matched);
    appendJsonList(mw.member("unmatched"), m->unmatched);
    mw.close();
  } else {
    w.raw("persona_match", "null");
  }
  w.number("score", lead.score);
  w.number("fit_score", lead.fit_score);
  w.number("engagement_score", lead.engagement_score);
  if (lead.scored_at) {
    w.text("scored_at", formatTimestamp(*lead.scored_at));
  } else {
    w.raw("scored_at", "null");
  }
  w.optional("owner", lead.owner);
  if (lead.disqualify_reason) {
    w.text("disqualify_reason", toString(*lead.disqualify_reason));
  } else {
    w.raw("disqualify_reason", "null");
  }
  Writer custom(w.member("custom"));
  for (const auto& [k, v] : lead.custom) custom.text(k, v);
  custom.close();
  Writer provenance(w.member("provenance"));
  for (const auto& [field, from] : lead.provenance) {
    Writer f(provenance.member(field));
    f.text("source", from.source);
    f.optional("reference", from.reference);
    f.text("at", formatTimestamp(from.at));
    f.close();
  }
  provenance.close();
  appendJsonList(w.member("merged_from"), lead.merged_from);
  std::string& history = w.member("status_history");
  history += '[';
  for (std::size_t i = 0; i < lead.history.size(); ++i) {
    const auto& h = lead.history[i];
    if (i) history += ',';
    Writer e(history);
    e.text("from", toString(h.from));
    e.text("to", toString(h.to));
    e.text("command", toString(h.command));
    e.text("actor", toString(h.actor));
    e.optional("by", h.by);
    if (h.reason) e.text("reason", toString(*h.reason));
    e.optional("note", h.note);
    e.text("at", formatTimestamp(h.at));
    e.close();
  }
  history += ']';
  w.text("created_at", formatTimestamp(lead.created_at));
  w.text("updated_at", formatTimestamp(lead.updated_at));
  w.number("version", lead.version);
  w.close();
  return out;
}

Poco::JSON::Object::Ptr jsonObject() {
  return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
}

Poco::Dynamic::Var textOrNull(const std::string& text) {
  return text.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(text);
}

std::string toJsonText(const Poco::JSON::Object::Ptr& object) {
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

}  // namespace ciclo::store
