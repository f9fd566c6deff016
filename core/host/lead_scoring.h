#pragma once
// Lead scoring in the daemon (domain/scoring.h): a lead is scored again, in the writer's
// transaction, when it does something (an interaction) and when what is known of it changes
// (the "scoring" consumer of lead.captured, lead.updated, lead.merged and lead.profiled).
// Scoring again is idempotent: the ledger gets only the changes of points, and the lead its
// new score, lead.scored and a status change only when they changed.

#include <Poco/JSON/Object.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "domain/lead.h"
#include "domain/scoring.h"
#include "host/api.h"

namespace ciclo::host {

struct Rescored {
  bool changed = false;        // the score changed (lead.scored)
  bool ledgerChanged = false;  // points moved, maybe without changing the score
  Score before, after;
  std::optional<StatusChange> status;  // the thresholds' command, when one fired
  // The lead must be written: its score, its scored_at or its status changed.
  bool leadChanged() const { return changed || ledgerChanged || status.has_value(); }
};

// Scores the lead at the clock's now from its profile, its interactions and the ledger, and
// appends the ledger's changes with `reason` ("interaction int_...", "lead.updated").
// Sets the lead's score fields and status; the caller writes the lead, then calls
// recordRescored().
Rescored rescoreLead(Services& s, store::Connection& c, Lead& lead, const std::string& reason);
// After the lead is written: lead.scored (with the previous score) on the timeline and in
// the outbox, and the status change.
void recordRescored(Services& s, store::Connection& c, const Lead& lead, const Rescored& r);

struct InteractionRecorded {
  Poco::JSON::Object::Ptr doc;  // the interaction as the API serves it
  Rescored rescored;
};
// Records what `lead` did - its timeline entry, the interaction, the new score - and
// writes the lead when its score or status moved. `lead` is the lead itself, not one
// merged away.
Result<InteractionRecorded> recordLeadInteraction(Services& s, store::Connection& c, Lead& lead,
                                                  InteractionType type, Timestamp at,
                                                  const std::string& url, const std::string& title,
                                                  const std::string& actor);

// GET /v1/leads/{id}/score, POST and GET /v1/leads/{id}/interactions.
void addScoringRoutes(Router& router, Services& s);

// The consumer's handler: scores the changed leads again (`reason` names what happened to
// each, a lead may be named more than once), in one write for those it changes anything for.
struct LeadChange {
  std::string lead_id;
  std::string reason;
};
Status rescoreChanged(Services& s, const std::vector<LeadChange>& changes);

// The periodic job: engagement fades with time alone, so every live lead with interactions
// is scored again, in the batches of rescoreAll() (a sales-ready lead whose points faded
// below the threshold goes back to nurturing). Only those whose score moved are written.
Status rescoreFading(Services& s);

// ---- a change of rules: every lead is scored again

// The rules' fingerprint, a digest of describeRules(). The setting "scoring.rules" holds the
// fingerprint every lead was last scored with.
std::string rulesFingerprint(const ScoringRules& rules);

struct RescoreTally {
  std::int64_t scanned = 0;  // leads read
  std::int64_t changed = 0;  // leads written: their points, score or status moved
  bool complete = false;     // every lead was read (and rescoreAll stored the fingerprint)
};

// Scores every live lead again under the rules in force, in id order after `after`, a batch
// of `batch` leads at a time: each batch is planned on a read connection from its leads'
// interactions and ledgers, and only the leads whose points, score or status move are
// written, in one write per batch, with the ledger's changes (`reason`), lead.scored and
// status events. Running it again changes nothing. `onBatch` is told the tally and the last
// lead read after each batch, and stops the pass by returning false. Once through, stores the
// rules' fingerprint.
using RescoreObserver = std::function<bool(const RescoreTally&, const std::string& after)>;
Result<RescoreTally> rescoreAll(Services& s, const std::string& reason, int batch,
                                const RescoreObserver& onBatch, std::string after = "");

// The daemon's side: when the rules' fingerprint is not the stored one, a thread scores every
// lead again in the background, remembering where it got to (the setting "scoring.rescore")
// so that a restart goes on from there. Nothing when every lead was scored with these rules.
class RulesRescore {
 public:
  explicit RulesRescore(Services& s) : services_(s) {}
  ~RulesRescore() { stop(); }
  void start();
  void stop();  // after the batch in progress

 private:
  void run();
  Services& services_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ciclo::host
