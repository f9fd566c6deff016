#include "store/lead_json.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

namespace ciclo::store {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

Object::Ptr newObject() {
  return new Object(Poco::JSON_PRESERVE_KEY_ORDER);
}

void putText(Object& o, const std::string& key, const std::string& value) {
  if (value.empty()) {
    o.set(key, Poco::Dynamic::Var());
  } else {
    o.set(key, value);
  }
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
  auto o = newObject();
  o->set("source", std::string(toString(t.source)));
  putText(*o, "partner", t.partner);
  putText(*o, "channel", t.channel);
  putText(*o, "page_url", t.page_url);
  auto utm = newObject();
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
  auto o = newObject();
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
  if (p.annual_revenue) {
    auto m = newObject();
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
    auto c = newObject();
    c->set("granted", lead.consent->granted);
    putText(*c, "text", lead.consent->text);
    c->set("at", formatTimestamp(lead.consent->at));
    putText(*c, "source", lead.consent->source);
    putText(*c, "ip", lead.consent->ip);
    o->set("consent", c);
  } else {
    o->set("consent", Poco::Dynamic::Var());
  }
  putText(*o, "persona", lead.persona);
  o->set("score", lead.score);
  putText(*o, "owner", lead.owner);
  if (lead.disqualify_reason) {
    o->set("disqualify_reason", std::string(toString(*lead.disqualify_reason)));
  } else {
    o->set("disqualify_reason", Poco::Dynamic::Var());
  }
  auto custom = newObject();
  for (const auto& [k, v] : lead.custom) custom->set(k, v);
  o->set("custom", custom);
  Poco::JSON::Array::Ptr merged = new Array;
  for (const auto& id : lead.merged_from) merged->add(id);
  o->set("merged_from", merged);
  Poco::JSON::Array::Ptr history = new Array;
  for (const auto& h : lead.history) {
    auto e = newObject();
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
                           getText(*c, "source"), getText(*c, "ip")};
  }
  lead.persona = getText(o, "persona");
  lead.score = o.getValue<int>("score");
  lead.owner = getText(o, "owner");
  if (auto r = disqualifyReasonFrom(getText(o, "disqualify_reason"))) lead.disqualify_reason = r;
  if (auto custom = o.getObject("custom")) {
    for (const auto& [k, v] : *custom) lead.custom[k] = v.convert<std::string>();
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

std::string toJsonText(const Poco::JSON::Object::Ptr& object) {
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

}  // namespace ciclo::store
