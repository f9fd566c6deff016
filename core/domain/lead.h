#pragma once
// The lead: a possible customer, from the first tip-off until it is qualified into an
// opportunity or disqualified. This file holds its data, its status lifecycle - the one
// transition table, with who may fire each transition - and the rule for merging a new
// capture into an existing lead.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/clock.h"
#include "domain/money.h"
#include "domain/result.h"

namespace ciclo {

enum class LeadStatus { kNew, kWorking, kNurturing, kSalesReady, kQualified, kDisqualified };
enum class LeadSource { kWebForm, kReferral, kImport, kManual, kEmail, kApi };

// Who fires a transition: a person through the API, a scoring rule, or the system itself
// (a profiling rule, a stop rule, a reactivation job).
enum class Actor { kPerson, kScoring, kSystem };

enum class LeadCommand {
  kStartWork,
  kNurture,
  kMarkSalesReady,
  kQualify,
  kDisqualify,
  kReactivate
};

enum class DisqualifyReason {
  kNoFit,
  kNoInterest,
  kNoBudget,
  kLostToCompetitor,
  kUnreachable,
  kDuplicate,
  kSpam,
  kOther
};

std::string_view toString(LeadStatus s);
std::string_view toString(LeadSource s);
std::string_view toString(Actor a);
std::string_view toString(LeadCommand c);
std::string_view toString(DisqualifyReason r);
std::optional<LeadStatus> leadStatusFrom(std::string_view s);
std::optional<LeadSource> leadSourceFrom(std::string_view s);
std::optional<Actor> actorFrom(std::string_view s);
std::optional<LeadCommand> leadCommandFrom(std::string_view s);
std::optional<DisqualifyReason> disqualifyReasonFrom(std::string_view s);

inline constexpr LeadStatus kAllLeadStatuses[] = {
    LeadStatus::kNew,        LeadStatus::kWorking,   LeadStatus::kNurturing,
    LeadStatus::kSalesReady, LeadStatus::kQualified, LeadStatus::kDisqualified};
inline constexpr LeadCommand kAllLeadCommands[] = {
    LeadCommand::kStartWork, LeadCommand::kNurture,    LeadCommand::kMarkSalesReady,
    LeadCommand::kQualify,   LeadCommand::kDisqualify, LeadCommand::kReactivate};
inline constexpr Actor kAllActors[] = {Actor::kPerson, Actor::kScoring, Actor::kSystem};

struct LeadTransition {
  LeadStatus from;
  LeadCommand command;
  LeadStatus to;
  std::vector<Actor> actors;  // who may fire it
};

// The whole lifecycle, in one table (printed in docs/lead-lifecycle.md).
const std::vector<LeadTransition>& leadTransitions();

struct Utm {
  std::string source, medium, campaign, term, content;
  bool empty() const {
    return source.empty() && medium.empty() && campaign.empty() && term.empty() && content.empty();
  }
  bool operator==(const Utm&) const = default;
};

// Where a capture came from. A lead keeps its first touch forever and its latest touch
// moves with every capture.
struct Touch {
  LeadSource source = LeadSource::kApi;
  std::string partner;  // partner key for referrals
  std::string channel;  // form key, import name, API key name
  std::string page_url;
  Utm utm;
  Timestamp at{};
  bool operator==(const Touch&) const = default;
};

struct Consent {
  bool granted = false;
  std::string text;  // the wording the person agreed to
  Timestamp at{};
  std::string source;  // e.g. "web_form:demo-request"
  std::string ip;
  std::string page;  // the page the person agreed on, when captured from one
  bool operator==(const Consent&) const = default;
};

struct StatusChange {
  LeadStatus from;
  LeadStatus to;
  LeadCommand command;
  Actor actor;
  std::string by;  // the API key name, rule name or job that fired it
  std::optional<DisqualifyReason> reason;
  std::string note;
  Timestamp at{};
  bool operator==(const StatusChange&) const = default;
};

// The data a lead carries about the person and the company. Every field is optional: empty
// string / nullopt means "not known".
struct LeadProfile {
  std::string first_name, last_name, email, phone, job_title;
  std::string company, website, industry, country, city;
  std::optional<std::int64_t> employees;
  std::optional<Money> annual_revenue;
  std::string needs;
  // The company's size as a band when only that is known ("51-200", "10001+"), as
  // enrichment sources give it; `employees` is the exact figure when someone entered one.
  std::string employees_range;
  bool operator==(const LeadProfile&) const = default;
};

// The bounds of an employees band ("51-200" -> 51..200, "10001+" -> 10001..none), or
// nullopt when the text is not one.
struct EmployeesBand {
  std::int64_t min = 0;
  std::optional<std::int64_t> max;
};
std::optional<EmployeesBand> employeesBand(std::string_view text);

// Where a profile field's value came from when no person and not the lead entered it: the
// enrichment source ("linkedin"), what was looked up there ("urn:li:organization:1337"),
// and when.
struct FieldSource {
  std::string source;
  std::string reference;
  Timestamp at{};
  bool operator==(const FieldSource&) const = default;
};

// Sets one profile field of `to` to its value in `from`, by its name ("email", "employees",
// ...); false when the name is not a profile field. Clearing is copying from an empty profile.
bool copyProfileField(LeadProfile& to, const LeadProfile& from, std::string_view field);
// The names of the profile fields, in the order of the API's lead document.
const std::vector<std::string_view>& profileFieldNames();
// Whether a profile field has a value, by its name; nullopt when the name is not a field.
std::optional<bool> isProfileFieldKnown(const LeadProfile& profile, std::string_view field);

// How well a lead fits a buyer persona (domain/persona.h): the share of the persona's
// criteria weight it meets, 0..100, and which criteria those were.
struct PersonaMatch {
  std::string persona;               // the persona's key
  int score = 0;                     // 0..100
  std::vector<std::string> matched;  // the names of the criteria met, in the persona's order
  std::vector<std::string> unmatched;
  bool operator==(const PersonaMatch&) const = default;
};

struct Lead {
  std::string id;
  LeadStatus status = LeadStatus::kNew;
  LeadProfile profile;
  std::string company_domain;  // from the email or website; free-mail domains excluded
  std::string account_id;
  Touch first_touch;
  Touch latest_touch;
  std::optional<Consent> consent;
  // The buyer persona: the best one profiling matched (with `persona_match`), else the one
  // the capturing channel named, else none.
  std::string persona;
  std::optional<PersonaMatch> persona_match;
  // Lead scoring (domain/scoring.h) as last computed: total = fit + engagement.
  int score = 0;
  int fit_score = 0;
  int engagement_score = 0;
  std::optional<Timestamp> scored_at;
  std::string owner;
  std::optional<DisqualifyReason> disqualify_reason;
  std::vector<StatusChange> history;
  std::vector<std::string> merged_from;  // ids of leads merged into this one
  std::map<std::string, std::string> custom;
  // The provenance of the profile fields an enrichment filled, by field name. A field not
  // named here was entered by the lead or by a person, and enrichment never changes it.
  std::map<std::string, FieldSource> provenance;
  Timestamp created_at{};
  Timestamp updated_at{};
  std::int64_t version = 0;
  bool operator==(const Lead&) const = default;
};

struct LeadCommandInput {
  LeadCommand command;
  Actor actor;
  std::string by;
  std::optional<DisqualifyReason> reason;  // required for kDisqualify
  std::string note;
};

// Applies a status command. An illegal (state, command) pair, or an actor the table does not
// name for it, is a Conflict; nothing changes then.
Result<StatusChange> applyCommand(Lead& lead, const LeadCommandInput& input, Timestamp now);

// A capture: data offered about a lead, already normalised at the edge.
struct LeadCapture {
  LeadProfile profile;
  Touch touch;
  std::optional<Consent> consent;  // present only when consent was given
  std::string owner;
  std::string persona;  // the buyer persona the capturing channel feeds, if it names one
  std::map<std::string, std::string> custom;
};

enum class CaptureOutcome { kCreated, kMerged, kUnchanged };
std::string_view toString(CaptureOutcome o);

struct MergeReport {
  std::vector<std::string> filled;  // fields that were empty and got a value
  std::vector<std::string>
      conflicts;  // fields where the capture offered a different value, kept out
  bool consent_changed = false;
  bool changed() const { return !filled.empty() || consent_changed; }
};

// A new lead from a capture.
Lead newLeadFromCapture(std::string id, const LeadCapture& capture, std::string companyDomain,
                        Timestamp now);

// The merge rule for a capture that matched `lead`, deterministic and independent of order
// of arrival within one field:
// - a profile field that is empty on the lead takes the captured value, and so does one an
//   enrichment filled: what the lead says of itself outranks what was looked up;
// - a profile field that has a value keeps it (what a person or the lead entered first is
//   never overwritten by a later capture); a differing captured value is reported as a
//   conflict and lands on the timeline only;
// - custom fields follow the same rule per key;
// - the latest touch always becomes the capture's touch; the first touch never changes;
// - a consent grant in the capture replaces the lead's consent when it is newer (withdrawal
//   comes only through unsubscription, never from a form left unticked);
// - status and score are not changed by a capture; owner and persona only fill a blank.
MergeReport mergeCapture(Lead& lead, const LeadCapture& capture, Timestamp now);

// A manual merge of `loser` into `winner`: the winner's values stand, its blanks are filled
// from the loser, the loser's id is recorded on the winner. The loser is closed as
// disqualified (duplicate). Both must be open (neither qualified).
Result<MergeReport> mergeLeads(Lead& winner, Lead& loser, const std::string& by, Timestamp now);

// What an enrichment did to a lead's profile, by field name.
struct EnrichmentReport {
  std::vector<std::string> filled;   // were empty, now hold the source's value
  std::vector<std::string> updated;  // held an earlier enrichment's value, now the newer one
  std::vector<std::string> kept;     // entered by the lead or a person: left as they are
  bool changed() const { return !filled.empty() || !updated.empty(); }
};

// Enrichment of a lead's profile from an outside source: each field `offered` has a value
// for is filled when empty, updated when an enrichment filled it, and kept - never
// overwritten - when the lead or a person entered it. Every field set records `from` as its
// provenance. Email and phone identify the lead and are never enriched.
EnrichmentReport enrichLead(Lead& lead, const LeadProfile& offered, const FieldSource& from);

// A person set or cleared a profile field: it is theirs now, whatever filled it before.
void claimProfileField(Lead& lead, std::string_view field);

}  // namespace ciclo
