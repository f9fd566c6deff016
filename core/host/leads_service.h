#pragma once
// leads.capture(): the one way a lead enters Ciclo, whoever captured it (the REST API, a
// form, a partner, an import). Input is normalised and checked here; the capture then
// creates the lead or merges into the one with the same email (else phone), and commits
// the lead, its timeline entry and its event in one transaction.

#include <functional>
#include <string>

#include "ciclo/plugin.h"
#include "domain/lead.h"
#include "host/api.h"

namespace ciclo::host {

// Normalises and checks a capture's input. Error fields are named by `fieldName` from the
// input's names ("email", "utm_campaign", "annual_revenue", "custom.budget"...).
Result<LeadCapture> buildCapture(Services& s, const sdk::LeadInput& input,
                                 const std::string& clientIp,
                                 const std::function<std::string(const std::string&)>& fieldName);

// Only the profile fields of an input, normalised and checked the same way.
Result<LeadProfile> normalizeProfile(
    Services& s, const sdk::LeadInput& input,
    const std::function<std::string(const std::string&)>& fieldName);

// A capture made ready outside the writer: the new lead it would create and that lead's
// document, so that the common case - a new lead - costs the writer no serialisation.
// Profiling (domain/persona.h) of a lead whose profile may have changed, before it is
// written: its persona is matched again and an unfit verdict applied as a system command.
struct Reprofiled {
  bool changed = false;  // persona or match changed
  std::string previousPersona;
  std::optional<StatusChange> status;  // the discard or reactivation, when there was one
};
Reprofiled reprofile(Services& s, Lead& lead);
// After the lead is written: the timeline entries and events of what reprofile() did.
void recordReprofiled(Services& s, store::Connection& c, const Lead& lead, const Reprofiled& r);

// A status change, written: its timeline entry and lead.status_changed, plus
// lead.qualified or lead.disqualified when the lead was closed.
void recordStatusChange(Services& s, store::Connection& c, const Lead& lead,
                        const StatusChange& change, const std::string& actor);

struct PreparedCapture {
  LeadCapture capture;
  Lead candidate;  // profiled
  std::string candidateDoc;
  std::string createdEntry;  // the timeline entry's data if the capture creates the lead
  std::string eventId;       // the lead.captured event's id if the capture creates the lead
  Reprofiled profiled;       // what profiling did to the candidate
};
PreparedCapture prepareCapture(Services& s, LeadCapture capture);

struct Captured {
  Lead lead;
  std::string doc;  // the lead's JSON document as stored
  CaptureOutcome outcome;
};
// In the writer's transaction. With `into`, the capture merges into that lead while it
// exists as itself (not merged away); else into the lead with the same email, else phone.
Captured captureLead(Services& s, store::Connection& c, const PreparedCapture& prepared,
                     const std::string& actor, const std::string& into = {});

struct Enriched {
  Lead lead;
  EnrichmentReport report;
  std::string doc;  // the lead's JSON document after the enrichment
};
// In the writer's transaction: enriches the lead `leadId` (domain/lead.h enrichLead) with
// `fields` by profile name, from `source` (with what was looked up there, `reference`).
// When anything changed, the lead is profiled again and written with a lead.enriched
// timeline entry and event. Unknown or invalid fields are a 422 naming them.
Result<Enriched> enrichLeadRecord(Services& s, store::Connection& c, const std::string& leadId,
                                  const std::string& source, const std::string& reference,
                                  const std::map<std::string, std::string>& fields,
                                  const std::string& actor);

// What a capture answers: the lead's document with `"outcome"` added, without parsing it.
std::string captureAnswer(const Captured& captured);

// A timeline entry on the record and, with an event type, the event, in the caller's
// transaction.
void recordChange(Services& s, store::Connection& c, const std::string& recordId,
                  const std::string& kind, const std::string& actor, const std::string& summary,
                  const std::string& data, const std::string& eventType,
                  const std::string& partner);

std::string leadCompanyDomain(const LeadProfile& p);

// Who made a request, as the timeline names them: the API key's name.
std::string actorOf(const Request& r);
// The lead with this id (also one merged away), or not found.
Result<Lead> loadLead(store::Connection& c, const std::string& id);

}  // namespace ciclo::host
