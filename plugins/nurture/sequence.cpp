#include "sequence.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <date/tz.h>

#include <algorithm>
#include <kainjow/mustache.hpp>
#include <map>

#include "support/json.h"

namespace ciclo::plugins::nurture {

namespace {

constexpr std::pair<StopRule, std::string_view> kStopRules[] = {
    {StopRule::kSalesReady, "sales_ready"},    {StopRule::kQualified, "qualified"},
    {StopRule::kDisqualified, "disqualified"}, {StopRule::kUnsubscribed, "unsubscribed"},
    {StopRule::kReplied, "replied"},           {StopRule::kBounced, "bounced"}};

constexpr std::pair<StepCondition, std::string_view> kConditions[] = {
    {StepCondition::kAlways, "always"},
    {StepCondition::kPreviousNotOpened, "previous_not_opened"},
    {StepCondition::kPreviousOpened, "previous_opened"},
    {StepCondition::kPreviousNotClicked, "previous_not_clicked"}};

// "HH:MM" as minutes of the day, or -1.
int minuteOfDay(const std::string& s) {
  if (s.size() != 5 || s[2] != ':' || !std::isdigit(static_cast<unsigned char>(s[0])) ||
      !std::isdigit(static_cast<unsigned char>(s[1])) ||
      !std::isdigit(static_cast<unsigned char>(s[3])) ||
      !std::isdigit(static_cast<unsigned char>(s[4]))) {
    return -1;
  }
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  return h < 24 && m < 60 ? h * 60 + m : -1;
}

bool knownZone(const std::string& name) {
  try {
    return date::locate_zone(name) != nullptr;
  } catch (const std::exception&) {
    return false;
  }
}

std::string checkedTemplate(sdk::ConfigSection& c, const std::string& key, bool required) {
  const std::string text = c.text(key, "");
  if (text.empty()) {
    if (required) c.fail(key, "is required");
    return text;
  }
  kainjow::mustache::mustache compiled{text};
  if (!compiled.is_valid()) c.fail(key, "is not a valid template: " + compiled.error_message());
  return text;
}

std::string addressOf(const std::string& mailbox) {
  const auto open = mailbox.rfind('<');
  if (open == std::string::npos) return mailbox;
  const auto close = mailbox.find('>', open);
  return close == std::string::npos ? "" : mailbox.substr(open + 1, close - open - 1);
}

Sequence readSequence(sdk::ConfigSection& c, const std::string& key) {
  Sequence seq;
  seq.key = key;
  if (!sdk::isKey(key)) c.fail("", "a sequence's key is 1 to 64 characters of a-z, 0-9, - and _");
  seq.name = c.text("name", key);
  auto enrol = c.section("enrol");
  seq.enrol.personas = enrol->list("personas");
  seq.enrol.sources = enrol->list("sources");
  if (auto statuses = enrol->list("statuses"); !statuses.empty()) seq.enrol.statuses = statuses;
  const long long kNone = -1'000'000'000;
  if (auto v = enrol->integer("min_score", kNone, -100000, 100000); v != kNone)
    seq.enrol.min_score = v;
  if (auto v = enrol->integer("max_score", kNone, -100000, 100000); v != kNone)
    seq.enrol.max_score = v;
  enrol->finish();
  for (const auto& rule : c.list("stop")) {
    if (auto r = stopRuleFrom(rule)) {
      seq.stop.insert(*r);
    } else {
      c.fail("stop", "unknown rule " + rule +
                         "; expected sales_ready, qualified, disqualified, unsubscribed, replied "
                         "or bounced");
    }
  }
  auto steps = c.section("steps");
  for (const auto& stepKey : steps->keys()) {
    auto s = steps->section(stepKey);
    Step step;
    step.key = stepKey;
    step.delay = sdk::configDuration(*s, "delay", std::chrono::seconds(0));
    const std::string when = s->text("when", "always");
    if (auto w = stepConditionFrom(when)) {
      step.when = *w;
    } else {
      s->fail("when",
              "expected always, previous_not_opened, previous_opened or previous_not_clicked");
    }
    step.subject = checkedTemplate(*s, "subject", true);
    step.text = checkedTemplate(*s, "text", true);
    step.html = checkedTemplate(*s, "html", false);
    s->finish();
    seq.steps.push_back(std::move(step));
  }
  steps->finish();
  if (seq.steps.empty()) c.fail("steps", "a sequence needs at least one step");
  c.finish();
  return seq;
}

// Countries within one time zone (the others take the lead's own time_zone or the default).
const std::map<std::string, std::string, std::less<>>& countryZones() {
  static const std::map<std::string, std::string, std::less<>> zones{
      {"AT", "Europe/Vienna"},     {"BE", "Europe/Brussels"},    {"BG", "Europe/Sofia"},
      {"CH", "Europe/Zurich"},     {"CY", "Asia/Nicosia"},       {"CZ", "Europe/Prague"},
      {"DE", "Europe/Berlin"},     {"DK", "Europe/Copenhagen"},  {"EE", "Europe/Tallinn"},
      {"FI", "Europe/Helsinki"},   {"FR", "Europe/Paris"},       {"GB", "Europe/London"},
      {"GR", "Europe/Athens"},     {"HR", "Europe/Zagreb"},      {"HU", "Europe/Budapest"},
      {"IE", "Europe/Dublin"},     {"IL", "Asia/Jerusalem"},     {"IN", "Asia/Kolkata"},
      {"IT", "Europe/Rome"},       {"JP", "Asia/Tokyo"},         {"LT", "Europe/Vilnius"},
      {"LU", "Europe/Luxembourg"}, {"LV", "Europe/Riga"},        {"MT", "Europe/Malta"},
      {"NL", "Europe/Amsterdam"},  {"NO", "Europe/Oslo"},        {"PL", "Europe/Warsaw"},
      {"PT", "Europe/Lisbon"},     {"RO", "Europe/Bucharest"},   {"RS", "Europe/Belgrade"},
      {"SE", "Europe/Stockholm"},  {"SG", "Asia/Singapore"},     {"SI", "Europe/Ljubljana"},
      {"SK", "Europe/Bratislava"}, {"SM", "Europe/San_Marino"},  {"TR", "Europe/Istanbul"},
      {"VA", "Europe/Vatican"},    {"AE", "Asia/Dubai"},         {"CN", "Asia/Shanghai"},
      {"KR", "Asia/Seoul"},        {"ZA", "Africa/Johannesburg"}};
  return zones;
}

}  // namespace

std::string_view toString(StopRule r) {
  for (const auto& [rule, name] : kStopRules)
    if (rule == r) return name;
  return "";
}

std::optional<StopRule> stopRuleFrom(std::string_view s) {
  for (const auto& [rule, name] : kStopRules)
    if (name == s) return rule;
  return std::nullopt;
}

std::optional<StepCondition> stepConditionFrom(std::string_view s) {
  for (const auto& [condition, name] : kConditions)
    if (name == s) return condition;
  return std::nullopt;
}

Settings readSettings(sdk::ConfigSection& c) {
  Settings s;
  s.from = c.text("from", "");
  if (s.from.empty() || addressOf(s.from).find('@') == std::string::npos)
    c.fail("from", "is required: the sender, as \"Name <address>\"");
  s.envelope_from = c.text("envelope_from", "");
  s.reply_to = c.text("reply_to", "");
  s.public_url = c.text("public_url", "");
  while (!s.public_url.empty() && s.public_url.back() == '/') s.public_url.pop_back();
  if (!s.public_url.starts_with("https://") && !s.public_url.starts_with("http://"))
    c.fail("public_url", "is required: the base URL of this daemon's /t and /u links");
  s.unsubscribe_mailto = c.text("unsubscribe_mailto", "");
  if (s.unsubscribe_mailto.find('@') == std::string::npos)
    c.fail("unsubscribe_mailto", "is required: the address unsubscribe emails are sent to");
  const std::string fromAddress = addressOf(s.from);
  s.message_id_domain = c.text("message_id_domain", fromAddress.substr(fromAddress.find('@') + 1));
  auto quiet = c.section("quiet_hours");
  const std::string start = quiet->text("start", "20:00");
  const std::string end = quiet->text("end", "08:00");
  s.quiet_start = minuteOfDay(start);
  s.quiet_end = minuteOfDay(end);
  if (s.quiet_start < 0) quiet->fail("start", "expected HH:MM");
  if (s.quiet_end < 0) quiet->fail("end", "expected HH:MM");
  quiet->finish();
  s.default_time_zone = c.text("default_time_zone", s.default_time_zone);
  if (!knownZone(s.default_time_zone))
    c.fail("default_time_zone", "is not a time zone of the tz database (e.g. Europe/Rome)");
  s.per_domain_per_hour =
      static_cast<int>(c.integer("per_domain_per_hour", s.per_domain_per_hour, 1, 1000000));
  s.soft_bounce_limit =
      static_cast<int>(c.integer("soft_bounce_limit", s.soft_bounce_limit, 1, 100));
  s.retry_for = sdk::configDuration(c, "retry_for", s.retry_for);
  s.send_every = sdk::configDuration(c, "send_every", s.send_every);
  if (s.send_every.count() < 1) c.fail("send_every", "must be at least 1s");
  auto tracking = c.section("website_tracking");
  s.visitor_param = tracking->text("link_param", "");
  if (!s.visitor_param.empty() && !sdk::isKey(s.visitor_param))
    tracking->fail("link_param", "must be a short query parameter name such as ciclo_t");
  s.visitor_token_ttl = sdk::configDuration(*tracking, "token_ttl", s.visitor_token_ttl);
  if (s.visitor_token_ttl.count() < 60) tracking->fail("token_ttl", "must be at least 1m");
  s.visits_per_hour =
      static_cast<int>(tracking->integer("per_lead_per_hour", s.visits_per_hour, 1, 100000));
  tracking->finish();
  auto sequences = c.section("sequences");
  for (const auto& key : sequences->keys()) {
    auto seq = sequences->section(key);
    s.sequences.push_back(readSequence(*seq, key));
  }
  sequences->finish();
  return s;
}

std::optional<LeadFacts> leadFacts(const std::string& json) {
  try {
    Poco::JSON::Parser parser;
    auto o = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
    LeadFacts f;
    f.id = jsonText(*o, "id");
    f.status = jsonText(*o, "status");
    f.email = jsonText(*o, "email");
    f.first_name = jsonText(*o, "first_name");
    f.last_name = jsonText(*o, "last_name");
    f.company = jsonText(*o, "company");
    f.job_title = jsonText(*o, "job_title");
    f.persona = jsonText(*o, "persona");
    f.country = jsonText(*o, "country");
    f.score = o->has("score") ? o->getValue<long long>("score") : 0;
    if (auto touch = o->getObject("first_touch")) f.source = jsonText(*touch, "source");
    if (auto custom = o->getObject("custom")) f.time_zone = jsonText(*custom, "time_zone");
    if (auto consent = o->getObject("consent")) {
      f.consent = consent->has("granted") && consent->getValue<bool>("granted");
      f.consent_text = jsonText(*consent, "text");
      f.consent_source = jsonText(*consent, "source");
      f.consent_ip = jsonText(*consent, "ip");
      f.consent_page = jsonText(*consent, "page");
      f.consent_at = jsonText(*consent, "at");
    }
    if (f.id.empty()) return std::nullopt;
    return f;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool shouldEnrol(const Sequence& seq, const LeadFacts& lead) {
  const Enrolment& e = seq.enrol;
  auto in = [](const std::vector<std::string>& set, const std::string& v) {
    return set.empty() || std::find(set.begin(), set.end(), v) != set.end();
  };
  return !lead.email.empty() && in(e.personas, lead.persona) && in(e.sources, lead.source) &&
         in(e.statuses, lead.status) && (!e.min_score || lead.score >= *e.min_score) &&
         (!e.max_score || lead.score <= *e.max_score);
}

std::optional<StopRule> stopForStatus(const Sequence& seq, std::string_view status) {
  std::optional<StopRule> rule;
  if (status == "sales_ready") rule = StopRule::kSalesReady;
  if (status == "qualified") rule = StopRule::kQualified;
  if (status == "disqualified") rule = StopRule::kDisqualified;
  if (rule && seq.stop.contains(*rule)) return rule;
  return std::nullopt;
}

bool stepApplies(StepCondition when, bool previousOpened, bool previousClicked) {
  switch (when) {
    case StepCondition::kAlways:
      return true;
    case StepCondition::kPreviousNotOpened:
      return !previousOpened;
    case StepCondition::kPreviousOpened:
      return previousOpened;
    case StepCondition::kPreviousNotClicked:
      return !previousClicked;
  }
  return true;
}

std::string timeZoneFor(const LeadFacts& lead, const std::string& fallback) {
  if (!lead.time_zone.empty() && knownZone(lead.time_zone)) return lead.time_zone;
  const auto& zones = countryZones();
  if (auto it = zones.find(lead.country); it != zones.end()) return it->second;
  return fallback;
}

Time outsideQuietHours(Time t, const std::string& zoneName, int quietStart, int quietEnd) {
  if (quietStart == quietEnd) return t;
  const date::time_zone* zone = date::locate_zone(zoneName);
  const auto local = zone->to_local(t);
  const auto day = date::floor<date::days>(local);
  const int minute =
      static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(local - day).count());
  const bool wraps = quietStart > quietEnd;  // 20:00 to 08:00
  const bool quiet = wraps ? (minute >= quietStart || minute < quietEnd)
                           : (minute >= quietStart && minute < quietEnd);
  if (!quiet) return t;
  auto endDay = day;
  if (wraps && minute >= quietStart) endDay += date::days(1);
  const auto end = endDay + std::chrono::minutes(quietEnd);
  return std::chrono::time_point_cast<std::chrono::milliseconds>(
      zone->to_sys(end, date::choose::latest));
}

std::optional<Time> parseUtc(const std::string& text) {
  // YYYY-MM-DDTHH:MM:SS[.mmm]Z
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  if ((text.size() != 20 && text.size() != 24) || text.back() != 'Z') return std::nullopt;
  for (std::size_t i = 0; i < kShape.size(); ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    if (kShape[i] == 'd' ? !digit : text[i] != kShape[i]) return std::nullopt;
  }
  auto number = [&](std::size_t at, std::size_t length) {
    int n = 0;
    for (std::size_t i = at; i < at + length; ++i) n = n * 10 + (text[i] - '0');
    return n;
  };
  int millis = 0;
  if (text.size() == 24) {
    if (text[19] != '.' || !std::all_of(text.begin() + 20, text.begin() + 23,
                                        [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    millis = number(20, 3);
  }
  const std::chrono::year_month_day day{std::chrono::year{number(0, 4)},
                                        std::chrono::month{static_cast<unsigned>(number(5, 2))},
                                        std::chrono::day{static_cast<unsigned>(number(8, 2))}};
  const int h = number(11, 2), m = number(14, 2), sec = number(17, 2);
  if (!day.ok() || h > 23 || m > 59 || sec > 59) return std::nullopt;
  return std::chrono::sys_days{day} + std::chrono::hours(h) + std::chrono::minutes(m) +
         std::chrono::seconds(sec) + std::chrono::milliseconds(millis);
}

Time retryAt(Time last, int attempts) {
  auto delay = std::chrono::minutes(5);
  for (int i = 1; i < attempts && delay < std::chrono::hours(6); ++i) delay *= 3;
  return last + std::min<std::chrono::minutes>(delay, std::chrono::hours(6));
}

}  // namespace ciclo::plugins::nurture
