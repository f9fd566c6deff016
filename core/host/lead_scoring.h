#pragma once
// Lead scoring in the daemon (domain/scoring.h): a lead is scored again, in the writer's
// transaction, when it does something (an interaction) and when what is known of it changes
// (the "scoring" consumer of lead.captured, lead.updated, lead.merged and lead.profiled).
// Scoring again is idempotent: the ledger gets only the changes of points, and the lead its
// new score, lead.scored and a status change only when they changed.

#include <Poco/JSON/Object.h>

#include <optional>
#include <string>

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

// The consumer's handler: scores the event's lead again in its own write (`reason` names
// what happened), when that changes anything.
Status rescoreOnEvent(Services& s, const std::string& leadId, const std::string& reason);

// The periodic job: engagement fades with time alone, so every lead with interactions is
// scored again (a sales-ready lead whose points faded below the threshold goes back to
// nurturing). Only those whose score moved are written.
Status rescoreFading(Services& s);

}  // namespace ciclo::host
