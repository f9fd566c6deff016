#include "store/lead_store.h"

#include <Poco/JSON/Parser.h>

#include "store/lead_json.h"

namespace ciclo::store {

namespace {

SqlValue orNull(const std::string& s) {
  return s.empty() ? SqlValue{} : SqlValue{s};
}

std::optional<Lead> oneLead(Connection& c, const std::string& sql, const Params& params) {
  auto rows = c.query(sql, params);
  if (rows.empty()) return std::nullopt;
  return leadFromJson(text(rows[0][0]));
}

Poco::JSON::Object::Ptr parseObject(const std::string& doc) {
  Poco::JSON::Parser parser;
  return parser.parse(doc).extract<Poco::JSON::Object::Ptr>();
}

std::string field(const Poco::JSON::Object& o, const char* key) {
  return o.has(key) && !o.isNull(key) ? o.getValue<std::string>(key) : std::string();
}

Account accountFromDoc(const std::string& doc) {
  auto o = parseObject(doc);
  Account a;
  a.id = field(*o, "id");
  a.name = field(*o, "name");
  a.domain = field(*o, "domain");
  a.vat_id = field(*o, "vat_id");
  a.country = field(*o, "country");
  a.industry = field(*o, "industry");
  parseTimestamp(field(*o, "created_at"), a.created_at);
  parseTimestamp(field(*o, "updated_at"), a.updated_at);
  return a;
}

std::string accountDoc(const Account& a) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", a.id);
  o->set("name", a.name);
  o->set("domain", a.domain);
  o->set("vat_id", a.vat_id);
  o->set("country", a.country);
  o->set("industry", a.industry);
  o->set("created_at", formatTimestamp(a.created_at));
  o->set("updated_at", formatTimestamp(a.updated_at));
  return toJsonText(o);
}

Contact contactFromDoc(const std::string& doc) {
  auto o = parseObject(doc);
  Contact k;
  k.id = field(*o, "id");
  k.account_id = field(*o, "account_id");
  k.first_name = field(*o, "first_name");
  k.last_name = field(*o, "last_name");
  k.email = field(*o, "email");
  k.phone = field(*o, "phone");
  k.job_title = field(*o, "job_title");
  parseTimestamp(field(*o, "created_at"), k.created_at);
  parseTimestamp(field(*o, "updated_at"), k.updated_at);
  return k;
}

std::string contactDoc(const Contact& k) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", k.id);
  o->set("account_id", k.account_id);
  o->set("first_name", k.first_name);
  o->set("last_name", k.last_name);
  o->set("email", k.email);
  o->set("phone", k.phone);
  o->set("job_title", k.job_title);
  o->set("created_at", formatTimestamp(k.created_at));
  o->set("updated_at", formatTimestamp(k.updated_at));
  return toJsonText(o);
}

}  // namespace

std::optional<Lead> findLead(Connection& c, const std::string& id) {
  return oneLead(c, "SELECT doc FROM leads WHERE id = $1", {id});
}

std::optional<Lead> findLeadByEmail(Connection& c, const std::string& email) {
  return oneLead(
      c, "SELECT doc FROM leads WHERE email = $1 AND merged_into IS NULL ORDER BY id LIMIT 1",
      {email});
}

std::optional<Lead> findLeadByPhone(Connection& c, const std::string& phone) {
  return oneLead(
      c, "SELECT doc FROM leads WHERE phone = $1 AND merged_into IS NULL ORDER BY id LIMIT 1",
      {phone});
}

void insertLead(Connection& c, Lead& lead) {
  lead.version = 1;
  insertLead(c, lead, leadToJsonText(lead));
}

void insertLead(Connection& c, const Lead& lead, const std::string& doc) {
  c.exec(
      "INSERT INTO leads (id, status, email, phone, source, partner, company_domain, account_id, "
      "owner, doc, "
      "created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
      "$13)",
      {lead.id, std::string(toString(lead.status)), orNull(lead.profile.email),
       orNull(lead.profile.phone), std::string(toString(lead.first_touch.source)),
       orNull(lead.first_touch.partner), orNull(lead.company_domain), orNull(lead.account_id),
       orNull(lead.owner), doc, formatTimestamp(lead.created_at), formatTimestamp(lead.updated_at),
       lead.version});
}

bool updateLead(Connection& c, Lead& lead, const std::string& mergedInto) {
  const std::int64_t expected = lead.version;
  ++lead.version;
  const auto changed = c.exec(
      "UPDATE leads SET status = $1, email = $2, phone = $3, company_domain = $4, account_id = $5, "
      "owner = $6, "
      "merged_into = $7, doc = $8, updated_at = $9, version = $10 WHERE id = $11 AND version = $12",
      {std::string(toString(lead.status)), orNull(lead.profile.email), orNull(lead.profile.phone),
       orNull(lead.company_domain), orNull(lead.account_id), orNull(lead.owner), orNull(mergedInto),
       leadToJsonText(lead), formatTimestamp(lead.updated_at), lead.version, lead.id, expected});
  if (changed != 1) --lead.version;
  return changed == 1;
}

std::string leadMergedInto(Connection& c, const std::string& id) {
  auto rows = c.query("SELECT merged_into FROM leads WHERE id = $1", {id});
  return rows.empty() ? std::string() : text(rows[0][0]);
}

std::string survivingLead(Connection& c, const std::string& id) {
  std::string lead = id;
  for (std::string winner; !(winner = leadMergedInto(c, lead)).empty();) lead = winner;
  return lead;
}

void recordLeadMerge(Connection& c, const std::string& loser, const std::string& winner,
                     const std::string& by, Timestamp at) {
  c.exec(
      "INSERT INTO lead_merges (loser_id, winner_id, merged_by, merged_at) VALUES ($1, $2, $3, $4)",
      {loser, winner, by, formatTimestamp(at)});
  // Relations follow the surviving lead; earlier merges into the loser now point at the winner.
  c.exec("UPDATE lead_merges SET winner_id = $1 WHERE winner_id = $2", {winner, loser});
  c.exec("UPDATE timeline SET record_id = $1 WHERE record_id = $2", {winner, loser});
  c.exec("UPDATE activities SET record_id = $1 WHERE record_id = $2", {winner, loser});
  c.exec("UPDATE interactions SET lead_id = $1 WHERE lead_id = $2", {winner, loser});
}

std::vector<Lead> listLeads(Connection& c, const LeadFilter& f) {
  std::string sql = "SELECT doc FROM leads WHERE merged_into IS NULL";
  Params params;
  auto add = [&](const char* clause, const std::string& value) {
    if (value.empty()) return;
    params.emplace_back(value);
    sql += " AND ";
    sql += clause;
    sql += " $" + std::to_string(params.size());
  };
  add("email =", f.email);
  add("status =", f.status);
  add("source =", f.source);
  add("partner =", f.partner);
  add("updated_at >", f.updated_after);
  add("id >", f.after_id);
  params.emplace_back(std::int64_t{f.limit + 1});
  sql += " ORDER BY id LIMIT $" + std::to_string(params.size());
  std::vector<Lead> leads;
  for (const auto& row : c.query(sql, params)) leads.push_back(leadFromJson(text(row[0])));
  return leads;
}

std::optional<Account> findAccount(Connection& c, const std::string& id) {
  auto rows = c.query("SELECT doc FROM accounts WHERE id = $1", {id});
  if (rows.empty()) return std::nullopt;
  return accountFromDoc(text(rows[0][0]));
}

std::optional<Account> findAccountByDomain(Connection& c, const std::string& domain) {
  auto rows = c.query("SELECT doc FROM accounts WHERE domain = $1", {domain});
  if (rows.empty()) return std::nullopt;
  return accountFromDoc(text(rows[0][0]));
}

void insertAccount(Connection& c, const Account& a) {
  c.exec(
      "INSERT INTO accounts (id, name, domain, doc, created_at, updated_at) VALUES ($1, $2, $3, "
      "$4, $5, $6)",
      {a.id, a.name, orNull(a.domain), accountDoc(a), formatTimestamp(a.created_at),
       formatTimestamp(a.updated_at)});
}

std::vector<Account> listAccounts(Connection& c, const std::string& afterId, int limit) {
  std::vector<Account> out;
  for (const auto& row : c.query("SELECT doc FROM accounts WHERE id > $1 ORDER BY id LIMIT $2",
                                 {afterId, std::int64_t{limit + 1}})) {
    out.push_back(accountFromDoc(text(row[0])));
  }
  return out;
}

std::optional<Contact> findContact(Connection& c, const std::string& id) {
  auto rows = c.query("SELECT doc FROM contacts WHERE id = $1", {id});
  if (rows.empty()) return std::nullopt;
  return contactFromDoc(text(rows[0][0]));
}

void insertContact(Connection& c, const Contact& k) {
  c.exec(
      "INSERT INTO contacts (id, account_id, email, doc, created_at, updated_at) VALUES ($1, $2, "
      "$3, $4, $5, $6)",
      {k.id, orNull(k.account_id), orNull(k.email), contactDoc(k), formatTimestamp(k.created_at),
       formatTimestamp(k.updated_at)});
}

std::vector<Contact> listContacts(Connection& c, const std::string& accountId,
                                  const std::string& afterId, int limit) {
  std::vector<Contact> out;
  const auto rows =
      accountId.empty()
          ? c.query("SELECT doc FROM contacts WHERE id > $1 ORDER BY id LIMIT $2",
                    {afterId, std::int64_t{limit + 1}})
          : c.query(
                "SELECT doc FROM contacts WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                {accountId, afterId, std::int64_t{limit + 1}});
  for (const auto& row : rows) out.push_back(contactFromDoc(text(row[0])));
  return out;
}

}  // namespace ciclo::store
