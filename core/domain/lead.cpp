#include "domain/lead.h"

#include <algorithm>
#include <array>
#include <utility>

namespace ciclo {

namespace {

template <typename E, std::size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<LeadStatus, 6> kStatusNames{{{LeadStatus::kNew, "new"},
                                             {LeadStatus::kWorking, "working"},
                                             {LeadStatus::kNurturing, "nurturing"},
                                             {LeadStatus::kSalesReady, "sales_ready"},
                                             {LeadStatus::kQualified, "qualified"},
                                             {LeadStatus::kDisqualified, "disqualified"}}};
constexpr Names<LeadSource, 6> kSourceNames{{{LeadSource::kWebForm, "web_form"},
                                             {LeadSource::kReferral, "referral"},
                                             {LeadSource::kImport, "import"},
                                             {LeadSource::kManual, "manual"},
                                             {LeadSource::kEmail, "email"},
                                             {LeadSource::kApi, "api"}}};
constexpr Names<Actor, 3> kActorNames{
    {{Actor::kPerson, "person"}, {Actor::kScoring, "scoring"}, {Actor::kSystem, "system"}}};
constexpr Names<LeadCommand, 6> kCommandNames{{{LeadCommand::kStartWork, "start_work"},
                                               {LeadCommand::kNurture, "nurture"},
                                               {LeadCommand::kMarkSalesReady, "mark_sales_ready"},
                                               {LeadCommand::kQualify, "qualify"},
                                               {LeadCommand::kDisqualify, "disqualify"},
                                               {LeadCommand::kReactivate, "reactivate"}}};
constexpr Names<DisqualifyReason, 8> kReasonNames{
    {{DisqualifyReason::kNoFit, "no_fit"},
     {DisqualifyReason::kNoInterest, "no_interest"},
     {DisqualifyReason::kNoBudget, "no_budget"},
     {DisqualifyReason::kLostToCompetitor, "lost_to_competitor"},
     {DisqualifyReason::kUnreachable, "unreachable"},
     {DisqualifyReason::kDuplicate, "duplicate"},
     {DisqualifyReason::kSpam, "spam"},
     {DisqualifyReason::kOther, "other"}}};

template <typename E, std::size_t N>
std::string_view nameOf(const Names<E, N>& names, E e) {
  for (const auto& [value, name] : names) {
    if (value == e) return name;
  }
  return "?";
}

template <typename E, std::size_t N>
std::optional<E> valueOf(const Names<E, N>& names, std::string_view s) {
  for (const auto& [value, name] : names) {
    if (name == s) return value;
  }
  return std::nullopt;
}

}  // namespace

std::string_view toString(LeadStatus s) {
  return nameOf(kStatusNames, s);
}
std::string_view toString(LeadSource s) {
  return nameOf(kSourceNames, s);
}
std::string_view toString(Actor a) {
  return nameOf(kActorNames, a);
}
std::string_view toString(LeadCommand c) {
  return nameOf(kCommandNames, c);
}
std::string_view toString(DisqualifyReason r) {
  return nameOf(kReasonNames, r);
}
std::optional<LeadStatus> leadStatusFrom(std::string_view s) {
  return valueOf(kStatusNames, s);
}
std::optional<LeadSource> leadSourceFrom(std::string_view s) {
  return valueOf(kSourceNames, s);
}
std::optional<Actor> actorFrom(std::string_view s) {
  return valueOf(kActorNames, s);
}
std::optional<LeadCommand> leadCommandFrom(std::string_view s) {
  return valueOf(kCommandNames, s);
}
std::optional<DisqualifyReason> disqualifyReasonFrom(std::string_view s) {
  return valueOf(kReasonNames, s);
}

std::string_view toString(CaptureOutcome o) {
  switch (o) {
    case CaptureOutcome::kCreated:
      return "created";
    case CaptureOutcome::kMerged:
      return "merged";
    case CaptureOutcome::kUnchanged:
      return "unchanged";
  }
  return "?";
}

const std::vector<LeadTransition>& leadTransitions() {
  using S = LeadStatus;
  using C = LeadCommand;
  constexpr Actor P = Actor::kPerson, R = Actor::kScoring, Y = Actor::kSystem;
  // Open states can always be qualified by a person, or disqualified by a person or by a
  // system rule (a profile that fits no persona is discarded as no_fit).
  static const std::vector<LeadTransition> table{
      {S::kNew, C::kStartWork, S::kWorking, {P, Y}},
      {S::kNew, C::kNurture, S::kNurturing, {P, R, Y}},
      {S::kNew, C::kMarkSalesReady, S::kSalesReady, {P, R}},
      {S::kNew, C::kQualify, S::kQualified, {P}},
      {S::kNew, C::kDisqualify, S::kDisqualified, {P, Y}},

      {S::kWorking, C::kNurture, S::kNurturing, {P, Y}},
      {S::kWorking, C::kMarkSalesReady, S::kSalesReady, {P, R}},
      {S::kWorking, C::kQualify, S::kQualified, {P}},
      {S::kWorking, C::kDisqualify, S::kDisqualified, {P, Y}},

      {S::kNurturing, C::kStartWork, S::kWorking, {P}},
      {S::kNurturing, C::kMarkSalesReady, S::kSalesReady, {P, R}},
      {S::kNurturing, C::kQualify, S::kQualified, {P}},
      {S::kNurturing, C::kDisqualify, S::kDisqualified, {P, Y}},

      // The score fell below the threshold again: back to nurturing.
      {S::kSalesReady, C::kNurture, S::kNurturing, {P, R}},
      {S::kSalesReady, C::kStartWork, S::kWorking, {P}},
      {S::kSalesReady, C::kQualify, S::kQualified, {P}},
      {S::kSalesReady, C::kDisqualify, S::kDisqualified, {P, Y}},

      {S::kDisqualified, C::kReactivate, S::kWorking, {P, Y}},
      // kQualified is final: the lead lives on as an opportunity.
  };
  return table;
}

Result<StatusChange> applyCommand(Lead& lead, const LeadCommandInput& input, Timestamp now) {
  const auto& table = leadTransitions();
  const auto it = std::find_if(table.begin(), table.end(), [&](const LeadTransition& t) {
    return t.from == lead.status && t.command == input.command;
  });
  if (it == table.end()) {
    return Error::conflict("a lead in status " + std::string(toString(lead.status)) + " cannot " +
                               std::string(toString(input.command)),
                           "illegal-transition");
  }
  if (std::find(it->actors.begin(), it->actors.end(), input.actor) == it->actors.end()) {
    return Error::conflict(
        "only " +
            [&] {
              std::string who;
              for (const auto a : it->actors)
                who += (who.empty() ? "" : " or ") + std::string(toString(a));
              return who;
            }() +
            " may " + std::string(toString(input.command)) + " a lead in status " +
            std::string(toString(lead.status)),
        "illegal-transition");
  }
  if (input.command == LeadCommand::kDisqualify && !input.reason) {
    return Error::invalidField("reason", "is required to disqualify a lead");
  }
  StatusChange change{
      lead.status,   it->to,
      input.command, input.actor,
      input.by,      input.command == LeadCommand::kDisqualify ? input.reason : std::nullopt,
      input.note,    now};
  lead.status = it->to;
  lead.disqualify_reason = change.reason;
  lead.history.push_back(change);
  lead.updated_at = now;
  return change;
}

namespace {

struct TextField {
  std::string_view name;
  std::string LeadProfile::*member;
};

constexpr std::array kTextFields{
    TextField{"first_name", &LeadProfile::first_name},
    TextField{"last_name", &LeadProfile::last_name},
    TextField{"email", &LeadProfile::email},
    TextField{"phone", &LeadProfile::phone},
    TextField{"job_title", &LeadProfile::job_title},
    TextField{"company", &LeadProfile::company},
    TextField{"website", &LeadProfile::website},
    TextField{"industry", &LeadProfile::industry},
    TextField{"country", &LeadProfile::country},
    TextField{"city", &LeadProfile::city},
    TextField{"needs", &LeadProfile::needs},
    TextField{"employees_range", &LeadProfile::employees_range},
};

}  // namespace

bool copyProfileField(LeadProfile& to, const LeadProfile& from, std::string_view field) {
  for (const auto& f : kTextFields) {
    if (f.name == field) {
      to.*f.member = from.*f.member;
      return true;
    }
  }
  if (field == "employees") {
    to.employees = from.employees;
    return true;
  }
  if (field == "annual_revenue") {
    to.annual_revenue = from.annual_revenue;
    return true;
  }
  return false;
}

std::optional<bool> isProfileFieldKnown(const LeadProfile& profile, std::string_view field) {
  for (const auto& f : kTextFields) {
    if (f.name == field) return !(profile.*f.member).empty();
  }
  if (field == "employees") return profile.employees.has_value();
  if (field == "annual_revenue") return profile.annual_revenue.has_value();
  return std::nullopt;
}

namespace {

template <typename T>
void fillOne(std::string_view name, T& have, const T& offered, MergeReport& report,
             bool (*isEmpty)(const T&)) {
  if (isEmpty(offered) || have == offered) return;
  if (isEmpty(have)) {
    have = offered;
    report.filled.emplace_back(name);
  } else {
    report.conflicts.emplace_back(name);
  }
}

MergeReport fillProfile(LeadProfile& have, const LeadProfile& offered) {
  MergeReport report;
  for (const auto& f : kTextFields) {
    fillOne<std::string>(f.name, have.*f.member, offered.*f.member, report,
                         [](const std::string& s) { return s.empty(); });
  }
  fillOne<std::optional<std::int64_t>>(
      "employees", have.employees, offered.employees, report,
      [](const std::optional<std::int64_t>& v) { return !v.has_value(); });
  fillOne<std::optional<Money>>("annual_revenue", have.annual_revenue, offered.annual_revenue,
                                report,
                                [](const std::optional<Money>& v) { return !v.has_value(); });
  return report;
}

void fillCustom(std::map<std::string, std::string>& have,
                const std::map<std::string, std::string>& offered, MergeReport& report) {
  for (const auto& [key, value] : offered) {
    fillOne<std::string>("custom." + key, have[key], value, report,
                         [](const std::string& s) { return s.empty(); });
    if (have[key].empty()) have.erase(key);
  }
}

}  // namespace

Lead newLeadFromCapture(std::string id, const LeadCapture& capture, std::string companyDomain,
                        Timestamp now) {
  Lead lead;
  lead.id = std::move(id);
  lead.profile = capture.profile;
  lead.company_domain = std::move(companyDomain);
  lead.first_touch = capture.touch;
  lead.latest_touch = capture.touch;
  lead.consent = capture.consent;
  lead.owner = capture.owner;
  lead.persona = capture.persona;
  lead.custom = capture.custom;
  lead.created_at = now;
  lead.updated_at = now;
  return lead;
}

namespace {

// Whether `a` and `b` hold the same value in `field`.
bool sameField(const LeadProfile& a, const LeadProfile& b, std::string_view field) {
  LeadProfile copy = a;
  copyProfileField(copy, b, field);
  return copy == a;
}

}  // namespace

std::optional<EmployeesBand> employeesBand(std::string_view text) {
  auto number = [](std::string_view digits) -> std::optional<std::int64_t> {
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    std::int64_t n = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + (c - '0');
    }
    return n;
  };
  if (text.ends_with('+')) {
    const auto min = number(text.substr(0, text.size() - 1));
    if (!min) return std::nullopt;
    return EmployeesBand{*min, std::nullopt};
  }
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    const auto n = number(text);
    if (!n) return std::nullopt;
    return EmployeesBand{*n, *n};
  }
  const auto min = number(text.substr(0, dash));
  const auto max = number(text.substr(dash + 1));
  if (!min || !max || *max < *min) return std::nullopt;
  return EmployeesBand{*min, *max};
}

EnrichmentReport enrichLead(Lead& lead, const LeadProfile& offered, const FieldSource& from) {
  EnrichmentReport report;
  for (std::string_view field : profileFieldNames()) {
    if (field == "email" || field == "phone") continue;
    if (!isProfileFieldKnown(offered, field).value_or(false)) continue;
    const std::string name(field);
    const bool known = isProfileFieldKnown(lead.profile, field).value_or(false);
    const auto source = lead.provenance.find(name);
    if (known && source == lead.provenance.end()) {
      if (!sameField(lead.profile, offered, field)) report.kept.push_back(name);
      continue;
    }
    if (known && sameField(lead.profile, offered, field)) continue;
    copyProfileField(lead.profile, offered, field);
    lead.provenance[name] = from;
    (known ? report.updated : report.filled).push_back(name);
  }
  return report;
}

void claimProfileField(Lead& lead, std::string_view field) {
  lead.provenance.erase(std::string(field));
}

const std::vector<std::string_view>& profileFieldNames() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const auto& f : kTextFields) out.push_back(f.name);
    out.push_back("employees");
    out.push_back("annual_revenue");
    return out;
  }();
  return names;
}

namespace {

// A value an enrichment filled gives way to the lead's own: cleared (and so filled from the
// capture) when the capture says otherwise, claimed when it says the same.
void yieldEnrichedFields(Lead& lead, const LeadProfile& captured) {
  for (auto it = lead.provenance.begin(); it != lead.provenance.end();) {
    if (!isProfileFieldKnown(captured, it->first).value_or(false)) {
      ++it;
      continue;
    }
    if (!sameField(lead.profile, captured, it->first))
      copyProfileField(lead.profile, LeadProfile{}, it->first);
    it = lead.provenance.erase(it);
  }
}

}  // namespace

MergeReport mergeCapture(Lead& lead, const LeadCapture& capture, Timestamp now) {
  yieldEnrichedFields(lead, capture.profile);
  MergeReport report = fillProfile(lead.profile, capture.profile);
  fillCustom(lead.custom, capture.custom, report);
  if (lead.owner.empty() && !capture.owner.empty()) {
    lead.owner = capture.owner;
    report.filled.emplace_back("owner");
  }
  if (lead.persona.empty() && !capture.persona.empty()) {
    lead.persona = capture.persona;
    report.filled.emplace_back("persona");
  }
  // A grant replaces a withdrawal, or an older grant of other wording; the same wording
  // granted again keeps its first proof.
  if (capture.consent && capture.consent->granted &&
      (!lead.consent || !lead.consent->granted ||
       (lead.consent->text != capture.consent->text && lead.consent->at < capture.consent->at))) {
    lead.consent = capture.consent;
    report.consent_changed = true;
  }
  lead.latest_touch = capture.touch;
  lead.updated_at = now;
  return report;
}

Result<MergeReport> mergeLeads(Lead& winner, Lead& loser, const std::string& by, Timestamp now) {
  if (winner.id == loser.id) return Error::invalid("a lead cannot be merged into itself");
  for (const Lead* l : {&winner, &loser}) {
    if (l->status == LeadStatus::kQualified) {
      return Error::conflict("lead " + l->id + " is qualified and cannot be merged",
                             "illegal-transition");
    }
  }
  if (loser.status == LeadStatus::kDisqualified &&
      loser.disqualify_reason == DisqualifyReason::kDuplicate) {
    return Error::conflict("lead " + loser.id + " was already merged", "illegal-transition");
  }
  MergeReport report = fillProfile(winner.profile, loser.profile);
  for (const auto& field : report.filled) {  // a value taken from the loser keeps its origin
    if (auto it = loser.provenance.find(field); it != loser.provenance.end())
      winner.provenance[field] = it->second;
  }
  fillCustom(winner.custom, loser.custom, report);
  if (winner.company_domain.empty()) winner.company_domain = loser.company_domain;
  if (winner.account_id.empty()) winner.account_id = loser.account_id;
  if (winner.owner.empty()) winner.owner = loser.owner;
  if (loser.first_touch.at < winner.first_touch.at) winner.first_touch = loser.first_touch;
  if (winner.latest_touch.at < loser.latest_touch.at) winner.latest_touch = loser.latest_touch;
  if (loser.consent && (!winner.consent || winner.consent->at < loser.consent->at)) {
    winner.consent = loser.consent;
    report.consent_changed = true;
  }
  winner.score = std::max(winner.score, loser.score);
  winner.merged_from.push_back(loser.id);
  for (const auto& id : loser.merged_from) winner.merged_from.push_back(id);
  winner.updated_at = now;

  // Closing the loser bypasses the command table on purpose: a merge is not a person's
  // judgement on the lead but the removal of a duplicate, allowed from every open state.
  StatusChange change{
      loser.status, LeadStatus::kDisqualified,    LeadCommand::kDisqualify,   Actor::kPerson,
      by,           DisqualifyReason::kDuplicate, "merged into " + winner.id, now};
  loser.status = LeadStatus::kDisqualified;
  loser.disqualify_reason = DisqualifyReason::kDuplicate;
  loser.history.push_back(change);
  loser.updated_at = now;
  return report;
}

}  // namespace ciclo
