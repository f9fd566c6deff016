#pragma once
// Nurturing sequences and the rules the sender follows, read once from the plugin's
// configuration: who is enrolled where, what each step sends and when, what stops a
// sequence, quiet hours in the lead's time zone, the send rate per recipient domain, and
// how long a deferred email is retried. Everything here is a pure function of its inputs.

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ciclo/plugin.h"

namespace ciclo::plugins::nurture {

using Time = std::chrono::sys_time<std::chrono::milliseconds>;

enum class StopRule { kSalesReady, kQualified, kDisqualified, kUnsubscribed, kReplied, kBounced };
std::string_view toString(StopRule r);
std::optional<StopRule> stopRuleFrom(std::string_view s);

// Whether a step goes out, judged on the email the sequence sent last.
enum class StepCondition { kAlways, kPreviousNotOpened, kPreviousOpened, kPreviousNotClicked };
std::optional<StepCondition> stepConditionFrom(std::string_view s);

struct Step {
  std::string key;
  std::chrono::seconds delay{0};  // after enrolment (first step) or the step before
  StepCondition when = StepCondition::kAlways;
  std::string subject;  // mustache templates
  std::string text;
  std::string html;  // optional
};

// Who a sequence takes: every condition given must hold.
struct Enrolment {
  std::vector<std::string> personas;  // any of them; empty: any persona or none
  std::vector<std::string> sources;   // the lead's first source; empty: any
  std::optional<long long> min_score, max_score;
  std::vector<std::string> statuses = {"new", "nurturing"};  // the lead's status
};

struct Sequence {
  std::string key;
  std::string name;
  Enrolment enrol;
  std::set<StopRule> stop;
  std::vector<Step> steps;
};

struct Settings {
  std::string from;           // "Name <address>"
  std::string envelope_from;  // where bounces go; empty: from's address
  std::string reply_to;
  std::string public_url;          // base of tracking and unsubscribe links
  std::string unsubscribe_mailto;  // an address inbound mail for it arrives at
  std::string message_id_domain;   // from's domain unless given
  // Quiet hours in the lead's local time, as minutes of the day; start == end: none.
  int quiet_start = 20 * 60;
  int quiet_end = 8 * 60;
  std::string default_time_zone = "Europe/Rome";
  int per_domain_per_hour = 200;
  int soft_bounce_limit = 3;  // soft bounces in a row that suppress an address
  std::chrono::seconds retry_for{std::chrono::hours(24 * 5)};
  std::chrono::seconds send_every{60};
  // Website tracking: a click on an email's link carries the visitor's token in this query
  // parameter (none when empty); tokens last visitor_token_ttl; a lead's tracked actions
  // beyond visits_per_hour (a token bucket) are refused with 429.
  std::string visitor_param;
  std::chrono::seconds visitor_token_ttl{std::chrono::hours(24 * 90)};
  int visits_per_hour = 120;
  std::vector<Sequence> sequences;
};

// Reads and checks the plugin's section; errors go to config.fail().
Settings readSettings(sdk::ConfigSection& config);

// What the sender knows of a lead, from its document.
struct LeadFacts {
  std::string id;
  std::string status;
  std::string email;
  std::string first_name, last_name, company, job_title;
  std::string persona;
  std::string source;
  long long score = 0;
  std::string country;
  std::string time_zone;  // custom field time_zone, when given
  bool consent = false;   // consent given at capture
  std::string consent_text, consent_source, consent_ip, consent_page, consent_at;
};
// From a lead's JSON document as the host serves it; nullopt when it is not one.
std::optional<LeadFacts> leadFacts(const std::string& json);

bool shouldEnrol(const Sequence& sequence, const LeadFacts& lead);
// The stop rule the lead's status calls for in this sequence, if any.
std::optional<StopRule> stopForStatus(const Sequence& sequence, std::string_view status);
bool stepApplies(StepCondition when, bool previousOpened, bool previousClicked);

// The IANA time zone for a lead: its own time_zone field, else its country's (for countries
// with one zone), else the default.
std::string timeZoneFor(const LeadFacts& lead, const std::string& fallback);
// `t` when it falls outside the quiet hours in `zone`, else the moment they end there.
Time outsideQuietHours(Time t, const std::string& zone, int quietStart, int quietEnd);

// An RFC 3339 UTC time ("2026-11-24T10:00:00Z", with or without milliseconds); nullopt for
// anything else.
std::optional<Time> parseUtc(const std::string& text);

// When a deferred email is tried again after `attempts` attempts: 5 minutes, growing
// threefold to at most 6 hours.
Time retryAt(Time last, int attempts);

}  // namespace ciclo::plugins::nurture
