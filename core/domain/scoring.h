#pragma once
// Lead scoring (DOMAIN.md phase 1d): criteria agreed by marketing and sales give points.
// Profile rules score what the lead is (its fit: industry, size, role, a competitor's or a
// free-mail address...); behaviour rules score what it does (its engagement: pages
// visited, content downloaded, emails opened...), each time, optionally capped per period
// and fading with a half-life. The total moves the lead between nurturing and sales-ready.
//
// Scoring is a pure function of the rules, the lead and its interactions: the points
// awarded (ScoreEntry) do not depend on when they are computed; only their value after
// decay does, at a `now` the caller passes.

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "domain/clock.h"
#include "domain/condition.h"
#include "domain/lead.h"

namespace ciclo {

// What a lead did - kept apart from what sellers do (activities).
enum class InteractionType {
  kPageVisited,
  kContentDownloaded,
  kVideoWatched,
  kEventAttended,
  kFormSubmitted,
  kEmailOpened,
  kEmailClicked,
  kEmailReplied,
  kUnsubscribed,
  kEmailBounced
};
std::string_view toString(InteractionType t);
std::optional<InteractionType> interactionTypeFrom(std::string_view s);
// Every type's name, for messages: "page_visited, content_downloaded, ...".
std::string interactionTypeNames();

struct Interaction {
  std::string id;
  InteractionType type = InteractionType::kPageVisited;
  Timestamp at{};
};

// Points for a condition the lead meets (negative for a bad sign).
struct ProfileRule : LeadCondition {
  std::string name;
  int points = 0;
};

// Points each time the lead does something.
struct BehaviourRule {
  std::string name;
  InteractionType type = InteractionType::kPageVisited;
  int points = 0;
  std::chrono::seconds half_life{0};   // 0: the points never fade
  int cap = 0;                         // > 0: at most this many points (in absolute value)
  std::chrono::seconds cap_period{0};  // ... in any window of this length
};

// Totals at or above `nurturing` move a new lead to nurturing; at or above `sales_ready`,
// an open lead becomes sales-ready; a sales-ready lead back below goes back to nurturing.
struct ScoreThresholds {
  int nurturing = 30;
  int sales_ready = 70;
};

struct ScoringRules {
  std::vector<ProfileRule> profile;
  std::vector<BehaviourRule> behaviour;
  ScoreThresholds thresholds;
};

// Points a rule gave the lead, and why.
struct ScoreEntry {
  std::string rule;
  bool fit = true;    // a profile rule; else a behaviour rule
  std::string cause;  // what met a profile rule ("industry: Logistics"), or the interaction id
  int points = 0;     // as awarded, after the cap
  Timestamp at{};     // the interaction's time (behaviour)
  std::chrono::seconds half_life{0};
  bool operator==(const ScoreEntry&) const = default;
};

// The points the rules give the lead for its profile and for its interactions, which must
// be in time order. Entries come in rule order, then interaction order.
std::vector<ScoreEntry> scoreEntries(const ScoringRules& rules, const Lead& lead,
                                     std::span<const Interaction> interactions);

// An entry's worth at `now`: its points, halved every half-life since it was awarded.
double entryValue(const ScoreEntry& entry, Timestamp now);

struct Score {
  int fit = 0;
  int engagement = 0;  // the decayed behaviour points, rounded half away from zero
  int total = 0;
  bool operator==(const Score&) const = default;
};
Score scoreAt(std::span<const ScoreEntry> entries, Timestamp now);

// The status command scoring fires for a lead at `total`, if any (see ScoreThresholds).
std::optional<LeadCommand> scoringCommand(const ScoreThresholds& thresholds, LeadStatus status,
                                          int total);

// The ledger: every change of the points awarded is an entry. From the entries awarded
// before and after a change (new interaction, profile change, new rules), the changes -
// new awards with their points, withdrawn ones with minus theirs, changed ones with the
// difference - keyed by rule and cause. Nothing when nothing changed.
std::vector<ScoreEntry> ledgerChanges(std::span<const ScoreEntry> before,
                                      std::span<const ScoreEntry> after);
// The entries awarded now, from the ledger's changes in order: summed by rule and cause,
// those at zero left out.
std::vector<ScoreEntry> awardedFromLedger(std::span<const ScoreEntry> changes);

// The rules as one text that differs whenever they would score any lead differently (every
// rule's name, condition, points, decay and cap, and the thresholds): what a change of the
// rules is recognised by.
std::string describeRules(const ScoringRules& rules);

// Checks the rules as configured ("profile[2].points: ...").
std::vector<FieldError> checkScoringRules(const ScoringRules& rules);

}  // namespace ciclo
