#pragma once
// Leads, accounts and contacts on a Connection: each call runs inside whatever transaction
// the caller holds (the writer's group commit, or a read).

#include <optional>
#include <string>
#include <vector>

#include "domain/account.h"
#include "domain/lead.h"
#include "store/database.h"

namespace ciclo::store {

std::optional<Lead> findLead(Connection& c, const std::string& id);
// The open lead (not merged away) with this normalised email or E.164 phone, oldest first.
std::optional<Lead> findLeadByEmail(Connection& c, const std::string& email);
std::optional<Lead> findLeadByPhone(Connection& c, const std::string& phone);
void insertLead(Connection& c, Lead& lead);  // sets version 1
// With the lead's document already serialised (lead.version must be 1).
void insertLead(Connection& c, const Lead& lead, const std::string& doc);
// Writes the lead if its stored version is still lead.version, then bumps the version.
// Returns false when another change came first.
bool updateLead(Connection& c, Lead& lead, const std::string& mergedInto = {});
// The lead this one was merged into, or "" while it lives as itself.
std::string leadMergedInto(Connection& c, const std::string& id);
// The lead that lives on for `id`: itself, or the end of the chain of merges it went into.
std::string survivingLead(Connection& c, const std::string& id);
void recordLeadMerge(Connection& c, const std::string& loser, const std::string& winner,
                     const std::string& by, Timestamp at);

struct LeadFilter {
  std::string email, status, source, partner;
  std::string updated_after;  // RFC 3339, as stored
  std::string after_id;       // cursor: the last id of the previous page
  int limit = 50;
};
// Leads in id order (creation order). Returns limit + 1 rows when there are more.
std::vector<Lead> listLeads(Connection& c, const LeadFilter& filter);

std::optional<Account> findAccount(Connection& c, const std::string& id);
std::optional<Account> findAccountByDomain(Connection& c, const std::string& domain);
void insertAccount(Connection& c, const Account& a);
std::vector<Account> listAccounts(Connection& c, const std::string& afterId, int limit);

std::optional<Contact> findContact(Connection& c, const std::string& id);
void insertContact(Connection& c, const Contact& contact);
std::vector<Contact> listContacts(Connection& c, const std::string& accountId,
                                  const std::string& afterId, int limit);

}  // namespace ciclo::store
