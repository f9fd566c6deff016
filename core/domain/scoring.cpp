#include "domain/scoring.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>
#include <utility>

namespace ciclo {

namespace {

constexpr std::array<std::pair<InteractionType, std::string_view>, 10> kTypes{{
    {InteractionType::kPageVisited, "page_visited"},
    {InteractionType::kContentDownloaded, "content_downloaded"},
    {InteractionType::kVideoWatched, "video_watched"},
    {InteractionType::kEventAttended, "event_attended"},
    {InteractionType::kFormSubmitted, "form_submitted"},
    {InteractionType::kEmailOpened, "email_opened"},
    {InteractionType::kEmailClicked, "email_clicked"},
    {InteractionType::kEmailReplied, "email_replied"},
    {InteractionType::kUnsubscribed, "unsubscribed"},
    {InteractionType::kEmailBounced, "email_bounced"},
}};

// What the lead has that met a profile rule, as the ledger shows it.
std::string causeOf(const LeadCondition& c, const Lead& lead) {
  const LeadProfile& p = lead.profile;
  auto domain = [&] { return p.email.substr(p.email.rfind('@') + 1); };
  using K = LeadCondition::Kind;
  std::string value;
  switch (c.kind) {
    case K::kIndustry:
      value = p.industry;
      break;
    case K::kEmployees:
      value = std::to_string(*p.employees);
      break;
    case K::kRevenue:
      value = p.annual_revenue->toDecimal() + " " + p.annual_revenue->currency();
      break;
    case K::kCountry:
      value = p.country;
      break;
    case K::kJobTitle:
      value = p.job_title;
      break;
    case K::kSource:
      value = std::string(toString(lead.first_touch.source));
      break;
    case K::kPersona:
      value = lead.persona;
      break;
    case K::kEmailDomain:
    case K::kFreeMail:
      value = domain();
      break;
    case K::kPartner:
      value = lead.first_touch.partner;
      break;
  }
  return c.name() + ": " + value;
}

bool validName(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

std::string_view toString(InteractionType t) {
  for (const auto& [type, name] : kTypes) {
    if (type == t) return name;
  }
  return "?";
}

std::optional<InteractionType> interactionTypeFrom(std::string_view s) {
  for (const auto& [type, name] : kTypes) {
    if (name == s) return type;
  }
  return std::nullopt;
}

std::string interactionTypeNames() {
  std::string out;
  for (const auto& [type, name] : kTypes) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

std::vector<ScoreEntry> scoreEntries(const ScoringRules& rules, const Lead& lead,
                                     std::span<const Interaction> interactions) {
  std::vector<ScoreEntry> out;
  for (const auto& rule : rules.profile) {
    if (rule.matches(lead))
      out.push_back({rule.name, true, causeOf(rule, lead), rule.points, {}, {}});
  }
  // Within a cap's window, the points already given (in absolute value).
  std::vector<std::pair<Timestamp, int>> window;
  for (const auto& rule : rules.behaviour) {
    window.clear();
    std::size_t first = 0;
    int inWindow = 0;
    for (const auto& i : interactions) {
      if (i.type != rule.type) continue;
      int points = rule.points;
      if (rule.cap > 0) {
        while (first < window.size() && window[first].first <= i.at - rule.cap_period) {
          inWindow -= window[first].second;
          ++first;
        }
        const int room = std::max(0, rule.cap - inWindow);
        points = rule.points < 0 ? -std::min(-rule.points, room) : std::min(rule.points, room);
        if (points == 0) continue;
        window.emplace_back(i.at, std::abs(points));
        inWindow += std::abs(points);
      }
      out.push_back({rule.name, false, i.id, points, i.at, rule.half_life});
    }
  }
  return out;
}

double entryValue(const ScoreEntry& e, Timestamp now) {
  if (e.fit || e.half_life.count() <= 0 || now <= e.at) return e.points;
  const double age = std::chrono::duration<double>(now - e.at).count();
  return e.points * std::exp2(-age / static_cast<double>(e.half_life.count()));
}

Score scoreAt(std::span<const ScoreEntry> entries, Timestamp now) {
  Score s;
  double engagement = 0;
  for (const auto& e : entries) {
    if (e.fit) {
      s.fit += e.points;
    } else {
      engagement += entryValue(e, now);
    }
  }
  s.engagement = static_cast<int>(std::lround(engagement));
  s.total = s.fit + s.engagement;
  return s;
}

std::optional<LeadCommand> scoringCommand(const ScoreThresholds& t, LeadStatus status, int total) {
  const bool open = status == LeadStatus::kNew || status == LeadStatus::kWorking ||
                    status == LeadStatus::kNurturing;
  if (total >= t.sales_ready && open) return LeadCommand::kMarkSalesReady;
  if (total < t.sales_ready && status == LeadStatus::kSalesReady) return LeadCommand::kNurture;
  if (total >= t.nurturing && status == LeadStatus::kNew) return LeadCommand::kNurture;
  return std::nullopt;
}

std::vector<ScoreEntry> ledgerChanges(std::span<const ScoreEntry> before,
                                      std::span<const ScoreEntry> after) {
  std::map<std::pair<std::string_view, std::string_view>, const ScoreEntry*> had;
  for (const auto& e : before) had[{e.rule, e.cause}] = &e;
  std::vector<ScoreEntry> changes;
  for (const auto& e : after) {
    const auto it = had.find({e.rule, e.cause});
    if (it == had.end()) {
      changes.push_back(e);
      continue;
    }
    const ScoreEntry& old = *it->second;
    had.erase(it);
    if (old.points == e.points && old.at == e.at && old.half_life == e.half_life) continue;
    ScoreEntry change = e;
    change.points = e.points - old.points;  // may be 0 when only the half-life changed
    changes.push_back(std::move(change));
  }
  for (const auto& e : before) {  // withdrawn, in their order
    if (!had.contains({e.rule, e.cause})) continue;
    ScoreEntry change = e;
    change.points = -e.points;
    changes.push_back(std::move(change));
  }
  return changes;
}

std::vector<ScoreEntry> awardedFromLedger(std::span<const ScoreEntry> changes) {
  std::vector<ScoreEntry> out;
  std::map<std::pair<std::string, std::string>, std::size_t> at;
  for (const auto& c : changes) {
    const auto [it, fresh] = at.try_emplace({c.rule, c.cause}, out.size());
    if (fresh) {
      out.push_back(c);
      continue;
    }
    ScoreEntry& e = out[it->second];
    const int points = e.points + c.points;
    e = c;
    e.points = points;
  }
  std::erase_if(out, [](const ScoreEntry& e) { return e.points == 0; });
  return out;
}

std::vector<FieldError> checkScoringRules(const ScoringRules& rules) {
  std::vector<FieldError> errors;
  std::set<std::string> names;
  auto checkName = [&](const std::string& at, const std::string& name) {
    if (!validName(name)) {
      errors.push_back({at + "name", "must be 1 to 64 characters of a-z, 0-9 and _"});
    } else if (!names.insert(name).second) {
      errors.push_back({at + "name", name + " names another rule already"});
    }
  };
  auto checkPoints = [&](const std::string& at, int points) {
    if (points == 0 || points < -1000 || points > 1000)
      errors.push_back({at + "points", "must be from -1000 to 1000, not 0"});
  };
  for (std::size_t i = 0; i < rules.profile.size(); ++i) {
    const auto& r = rules.profile[i];
    const std::string at = "profile[" + std::to_string(i) + "].";
    checkName(at, r.name);
    checkPoints(at, r.points);
    for (auto& e : checkCondition(r, at)) errors.push_back(std::move(e));
  }
  for (std::size_t i = 0; i < rules.behaviour.size(); ++i) {
    const auto& r = rules.behaviour[i];
    const std::string at = "behaviour[" + std::to_string(i) + "].";
    checkName(at, r.name);
    checkPoints(at, r.points);
    if (r.half_life.count() < 0) errors.push_back({at + "half_life", "must not be negative"});
    if (r.cap < 0) errors.push_back({at + "cap", "must not be negative"});
    if (r.cap > 0 && r.cap_period.count() <= 0)
      errors.push_back({at + "cap_period", "a cap needs the period it holds for"});
    if (r.cap == 0 && r.cap_period.count() > 0)
      errors.push_back({at + "cap", "a cap period needs a cap"});
  }
  const auto& t = rules.thresholds;
  if (t.nurturing > t.sales_ready)
    errors.push_back({"thresholds.nurturing", "must not be above sales_ready"});
  return errors;
}

std::string describeRules(const ScoringRules& rules) {
  std::ostringstream o;
  o << "thresholds " << rules.thresholds.nurturing << ' ' << rules.thresholds.sales_ready << '\n';
  for (const auto& r : rules.profile) {
    o << "profile " << std::quoted(r.name) << ' ' << r.points << ' ' << r.LeadCondition::name();
    for (const auto& v : r.values) o << ' ' << std::quoted(v);
    o << " min " << (r.min ? std::to_string(*r.min) : "-") << " max "
      << (r.max ? std::to_string(*r.max) : "-") << ' ' << std::quoted(r.currency) << '\n';
  }
  for (const auto& r : rules.behaviour) {
    o << "behaviour " << std::quoted(r.name) << ' ' << toString(r.type) << ' ' << r.points << ' '
      << r.half_life.count() << ' ' << r.cap << ' ' << r.cap_period.count() << '\n';
  }
  return o.str();
}

}  // namespace ciclo
