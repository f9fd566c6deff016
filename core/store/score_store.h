#pragma once
// A lead's interactions (what it did) and its score ledger (every change of the points a
// rule gave it), on a Connection inside the caller's transaction.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "domain/scoring.h"
#include "store/database.h"

namespace ciclo::store {

// `doc` is the interaction as the API serves it.
void insertInteraction(Connection& c, const std::string& leadId, const Interaction& interaction,
                       const std::string& doc, Timestamp createdAt);
// In time order (then id), for scoring.
std::vector<Interaction> leadInteractions(Connection& c, const std::string& leadId);
// The API's documents in id order (creation order) after `afterId`; limit + 1 when there
// are more.
std::vector<std::string> interactionDocs(Connection& c, const std::string& leadId,
                                         const std::string& afterId, int limit);

void appendLedger(Connection& c, const std::string& leadId, const std::vector<ScoreEntry>& changes,
                  const std::string& reason, Timestamp recordedAt);
// The lead's ledger changes in the order they were recorded.
std::vector<ScoreEntry> leadLedger(Connection& c, const std::string& leadId);
// Whether any rule ever gave the lead points: a lead without is one never scored.
bool hasLedger(Connection& c, const std::string& leadId);

// ---- scoring every lead again, a batch of leads at a time
// Leads not merged away, in id order after `afterId`; only those with interactions (whose
// engagement fades) when `engagedOnly`.
std::vector<Lead> liveLeadsAfter(Connection& c, const std::string& afterId, int limit,
                                 bool engagedOnly = false);
std::int64_t countLiveLeads(Connection& c);
// The interactions (in time order) and the ledgers of the leads with ids in [first, last].
std::unordered_map<std::string, std::vector<Interaction>> interactionsBetween(
    Connection& c, const std::string& first, const std::string& last);
std::unordered_map<std::string, std::vector<ScoreEntry>> ledgersBetween(Connection& c,
                                                                        const std::string& first,
                                                                        const std::string& last);

// What the daemon keeps about its own state ("scoring.rules"); "" when unset.
std::string setting(Connection& c, const std::string& name);
void setSetting(Connection& c, const std::string& name, const std::string& value);

}  // namespace ciclo::store
