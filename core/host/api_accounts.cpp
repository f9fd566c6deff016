// /v1/accounts and /v1/contacts: the companies and people the business deals with.

#include <Poco/JSON/Array.h>

#include "host/adapters.h"
#include "host/api.h"
#include "host/input.h"
#include "host/leads_service.h"
#include "store/journal.h"
#include "store/lead_json.h"
#include "store/lead_store.h"

namespace ciclo::host {

namespace {

Poco::JSON::Object::Ptr accountJson(const Account& a) {
  auto o = store::jsonObject();
  o->set("id", a.id);
  o->set("name", a.name);
  o->set("domain", store::textOrNull(a.domain));
  o->set("vat_id", store::textOrNull(a.vat_id));
  o->set("country", store::textOrNull(a.country));
  o->set("industry", store::textOrNull(a.industry));
  o->set("created_at", formatTimestamp(a.created_at));
  o->set("updated_at", formatTimestamp(a.updated_at));
  return o;
}

Poco::JSON::Object::Ptr contactJson(const Contact& k) {
  auto o = store::jsonObject();
  o->set("id", k.id);
  o->set("account_id", store::textOrNull(k.account_id));
  o->set("first_name", store::textOrNull(k.first_name));
  o->set("last_name", store::textOrNull(k.last_name));
  o->set("email", store::textOrNull(k.email));
  o->set("phone", store::textOrNull(k.phone));
  o->set("job_title", store::textOrNull(k.job_title));
  o->set("created_at", formatTimestamp(k.created_at));
  o->set("updated_at", formatTimestamp(k.updated_at));
  return o;
}

// The record's creation on its timeline and as an event, with the record under its noun.
void recordCreated(Services& s, store::Connection& c, const std::string& id,
                   const std::string& type, const std::string& actor, const std::string& summary,
                   const Poco::JSON::Object::Ptr& payload) {
  auto data = store::jsonObject();
  data->set(type.substr(0, type.find('.')), payload);
  recordChange(s, c, id, type, actor, summary, store::toJsonText(data), type, "");
}

template <typename T, typename ToJson>
Response page(std::vector<T> items, int limit, ToJson toJson) {
  const bool more = items.size() > static_cast<std::size_t>(limit);
  if (more) items.pop_back();
  Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
  for (const auto& i : items) data->add(toJson(i));
  return pageResponse(data, more, more ? items.back().id : "");
}

Response createAccount(Request& r, Services& s) {
  auto idem = idempotencyOf(r);
  if (!idem.ok()) return problemResponse(idem.error());
  auto body = parseJsonObject(r.body);
  if (!body.ok()) return problemResponse(body.error());
  std::vector<FieldError> errors;
  JsonInput in(*body.value(), "", errors);
  Account a;
  const auto name = in.text("name", 200);
  if (!name || name->empty()) {
    if (!in.has("name") || name) in.fail("name", "is required");
  } else {
    a.name = *name;
  }
  if (auto domain = in.text("domain", 253)) {
    a.domain = companyDomainOfWebsite(*domain);
    if (a.domain.empty())
      in.fail("domain", "must be a company's domain name (not a free-mail provider)");
  }
  a.vat_id = in.text("vat_id", 30).value_or("");
  if (auto country = in.text("country", 2)) {
    if (country->size() != 2 || !std::isupper(static_cast<unsigned char>((*country)[0])) ||
        !std::isupper(static_cast<unsigned char>((*country)[1]))) {
      in.fail("country", "must be an ISO 3166-1 alpha-2 code in upper case, e.g. IT");
    }
    a.country = *country;
  }
  a.industry = in.text("industry", 200).value_or("");
  in.rejectUnknown();
  if (!errors.empty())
    return problemResponse(Error::invalid("The account has invalid fields.", std::move(errors)));
  return writeIdempotent(s, idem.value(), [&](store::Connection& c) -> Result<Response> {
    if (!a.domain.empty()) {
      if (auto other = store::findAccountByDomain(c, a.domain)) {
        return Error::conflict("account " + other->id + " already has the domain " + a.domain,
                               "duplicate-account");
      }
    }
    a.id = s.ids.next("acct");
    a.created_at = a.updated_at = s.clock.now();
    store::insertAccount(c, a);
    recordCreated(s, c, a.id, "account.created", r.principal ? r.principal->name : "",
                  "account created", accountJson(a));
    Response response = jsonResponse(201, accountJson(a));
    response.headers.emplace_back("Location", "/v1/accounts/" + a.id);
    return response;
  });
}

Response getAccount(Request& r, Services& s) {
  return readResponse(s, [&](store::Connection& c) -> Result<Response> {
    const auto& id = r.params["id"];
    auto a = isValidId("acct", id) ? store::findAccount(c, id) : std::nullopt;
    if (!a) return Error::notFound("there is no such account");
    return jsonResponse(200, accountJson(*a));
  });
}

Response listAccounts(Request& r, Services& s) {
  auto query = readPageQuery(r, "acct");
  if (!query.ok()) return problemResponse(query.error());
  std::vector<Account> items;
  Status st = s.store.read([&](store::Connection& c) {
    items = store::listAccounts(c, query.value().cursor, query.value().limit);
    return Status();
  });
  if (!st.ok()) return problemResponse(st.error());
  return page(std::move(items), query.value().limit, accountJson);
}

Response createContact(Request& r, Services& s) {
  auto idem = idempotencyOf(r);
  if (!idem.ok()) return problemResponse(idem.error());
  auto body = parseJsonObject(r.body);
  if (!body.ok()) return problemResponse(body.error());
  std::vector<FieldError> errors;
  JsonInput in(*body.value(), "", errors);
  Contact k;
  if (auto account = in.text("account_id", 64)) {
    if (!isValidId("acct", *account)) in.fail("account_id", "is not an account id");
    k.account_id = *account;
  }
  k.first_name = in.text("first_name", 200).value_or("");
  k.last_name = in.text("last_name", 200).value_or("");
  k.job_title = in.text("job_title", 200).value_or("");
  if (auto email = in.text("email", 320)) {
    auto normalized = normalizeEmail(*email, s.domains);
    if (normalized.ok()) {
      k.email = normalized.value();
    } else {
      in.fail("email", normalized.error().message);
    }
  }
  if (auto phone = in.text("phone", 64)) {
    auto normalized = s.phones.toE164(*phone, "IT");
    if (normalized.ok()) {
      k.phone = normalized.value();
    } else {
      in.fail("phone", normalized.error().message);
    }
  }
  in.rejectUnknown();
  if (errors.empty() && k.first_name.empty() && k.last_name.empty() && k.email.empty()) {
    errors.push_back({"/last_name", "a contact needs a name or an email"});
  }
  if (!errors.empty())
    return problemResponse(Error::invalid("The contact has invalid fields.", std::move(errors)));
  return writeIdempotent(s, idem.value(), [&](store::Connection& c) -> Result<Response> {
    if (!k.account_id.empty() && !store::findAccount(c, k.account_id)) {
      return Error::invalid("The contact has invalid fields.",
                            {{"/account_id", "there is no such account"}});
    }
    k.id = s.ids.next("cont");
    k.created_at = k.updated_at = s.clock.now();
    store::insertContact(c, k);
    recordCreated(s, c, k.id, "contact.created", r.principal ? r.principal->name : "",
                  "contact created", contactJson(k));
    Response response = jsonResponse(201, contactJson(k));
    response.headers.emplace_back("Location", "/v1/contacts/" + k.id);
    return response;
  });
}

Response getContact(Request& r, Services& s) {
  return readResponse(s, [&](store::Connection& c) -> Result<Response> {
    const auto& id = r.params["id"];
    auto k = isValidId("cont", id) ? store::findContact(c, id) : std::nullopt;
    if (!k) return Error::notFound("there is no such contact");
    return jsonResponse(200, contactJson(*k));
  });
}

Response listContacts(Request& r, Services& s) {
  auto query = readPageQuery(r, "cont", {"account_id"});
  if (!query.ok()) return problemResponse(query.error());
  const auto& filters = query.value().filters;
  const std::string account = filters.contains("account_id") ? filters.at("account_id") : "";
  if (!account.empty() && !isValidId("acct", account)) {
    return problemResponse(Error::invalidField("account_id", "is not an account id"));
  }
  std::vector<Contact> items;
  Status st = s.store.read([&](store::Connection& c) {
    items = store::listContacts(c, account, query.value().cursor, query.value().limit);
    return Status();
  });
  if (!st.ok()) return problemResponse(st.error());
  return page(std::move(items), query.value().limit, contactJson);
}

}  // namespace

void addAccountRoutes(Router& router, Services& s) {
  const RouteOptions read{"leads:read", 0};
  const RouteOptions write{"leads:write", 16 * 1024};
  router.add("POST", "/v1/accounts", write, [&s](Request& r) { return createAccount(r, s); });
  router.add("GET", "/v1/accounts", read, [&s](Request& r) { return listAccounts(r, s); });
  router.add("GET", "/v1/accounts/{id}", read, [&s](Request& r) { return getAccount(r, s); });
  router.add("POST", "/v1/contacts", write, [&s](Request& r) { return createContact(r, s); });
  router.add("GET", "/v1/contacts", read, [&s](Request& r) { return listContacts(r, s); });
  router.add("GET", "/v1/contacts/{id}", read, [&s](Request& r) { return getContact(r, s); });
}

}  // namespace ciclo::host
