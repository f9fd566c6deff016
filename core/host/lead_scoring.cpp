#include "host/lead_scoring.h"

#include <Poco/DigestEngine.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/SHA2Engine.h>
#include <pthread.h>

#include <cmath>
#include <unordered_set>

#include "ciclo/text.h"
#include "host/adapters.h"
#include "host/input.h"
#include "host/leads_service.h"
#include "store/lead_json.h"
#include "store/lead_store.h"
#include "store/score_store.h"

namespace ciclo::host {

namespace {

// An interaction may be reported with its own time, up to this far ahead of our clock.
constexpr auto kClockSkew = std::chrono::minutes(5);

Poco::JSON::Object::Ptr scoreJson(const Score& s) {
  auto o = store::jsonObject();
  o->set("fit", s.fit);
  o->set("engagement", s.engagement);
  o->set("total", s.total);
  return o;
}

// POST /v1/leads/{id}/interactions
Response recordInteraction(Request& r, Services& s) {
  auto idem = idempotencyOf(r);
  if (!idem.ok()) return problemResponse(idem.error());
  auto body = parseJsonObject(r.body);
  if (!body.ok()) return problemResponse(body.error());
  std::vector<FieldError> errors;
  JsonInput in(*body.value(), "", errors);
  const auto typeName = in.text("type", 64);
  const auto occurredAt = in.text("occurred_at", 64);
  const auto url = in.text("url", 2048);
  const auto title = in.text("title", 500);
  in.rejectUnknown();
  std::optional<InteractionType> type;
  if (!typeName) {
    if (errors.empty()) in.fail("type", "is required");
  } else if (!(type = interactionTypeFrom(*typeName))) {
    in.fail("type", "must be one of " + interactionTypeNames());
  }
  const Timestamp now = s.clock.now();
  Timestamp at = now;
  if (occurredAt) {
    if (!parseTimestamp(*occurredAt, at)) {
      in.fail("occurred_at", "must be an RFC 3339 timestamp");
    } else if (at > now + kClockSkew) {
      in.fail("occurred_at", "must not be in the future");
    }
  }
  if (!errors.empty())
    return problemResponse(
        Error::invalid("The interaction has invalid fields.", std::move(errors)));

  return writeIdempotent(s, idem.value(), [&](store::Connection& c) -> Result<Response> {
    auto loaded = loadLead(c, r.params["id"]);
    if (!loaded.ok()) return loaded.error();
    Lead lead = std::move(loaded).value();
    if (const auto winner = store::leadMergedInto(c, lead.id); !winner.empty()) {
      return Error::conflict("lead " + lead.id + " was merged into " + winner + "; use that one",
                             "lead-merged");
    }
    auto recorded = recordLeadInteraction(s, c, lead, *type, at, url.value_or(""),
                                          title.value_or(""), actorOf(r));
    if (!recorded.ok()) return recorded.error();
    auto doc = recorded.value().doc;
    doc->set("lead_score", scoreJson(recorded.value().rescored.after));
    doc->set("lead_status", std::string(toString(lead.status)));
    return jsonResponse(201, doc);
  });
}

// GET /v1/leads/{id}/interactions
Response listInteractions(Request& r, Services& s) {
  auto page = readPageQuery(r, "int");
  if (!page.ok()) return problemResponse(page.error());
  return readResponse(s, [&](store::Connection& c) -> Result<Response> {
    auto lead = loadLead(c, r.params["id"]);
    if (!lead.ok()) return lead.error();
    auto docs = store::interactionDocs(c, lead.value().id, page.value().cursor, page.value().limit);
    const bool more = docs.size() > static_cast<std::size_t>(page.value().limit);
    if (more) docs.pop_back();
    Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
    Poco::JSON::Parser parser;
    std::string last;
    for (const auto& d : docs) {
      auto o = parser.parse(d).extract<Poco::JSON::Object::Ptr>();
      last = o->getValue<std::string>("id");
      data->add(o);
      parser.reset();
    }
    return pageResponse(data, more, more ? last : "");
  });
}

// GET /v1/leads/{id}/score: why the lead has its score - the points each rule gave it and
// what they are worth now, after decay.
Response explainScore(Request& r, Services& s) {
  return readResponse(s, [&](store::Connection& c) -> Result<Response> {
    auto lead = loadLead(c, r.params["id"]);
    if (!lead.ok()) return lead.error();
    const Timestamp now = s.clock.now();
    const auto awarded = awardedFromLedger(store::leadLedger(c, lead.value().id));
    const Score score = scoreAt(awarded, now);
    auto out = store::jsonObject();
    out->set("lead_id", lead.value().id);
    out->set("fit", score.fit);
    out->set("engagement", score.engagement);
    out->set("total", score.total);
    out->set("as_of", formatTimestamp(now));
    auto thresholds = store::jsonObject();
    thresholds->set("nurturing", s.config.scoring.thresholds.nurturing);
    thresholds->set("sales_ready", s.config.scoring.thresholds.sales_ready);
    out->set("thresholds", thresholds);
    Poco::JSON::Array::Ptr entries = new Poco::JSON::Array;
    for (const auto& e : awarded) {
      auto o = store::jsonObject();
      o->set("rule", e.rule);
      o->set("kind", e.fit ? "fit" : "engagement");
      o->set("cause", e.cause);
      o->set("points", e.points);
      o->set("awarded_at",
             e.fit ? Poco::Dynamic::Var() : Poco::Dynamic::Var(formatTimestamp(e.at)));
      o->set("half_life_seconds", e.fit || e.half_life.count() == 0
                                      ? Poco::Dynamic::Var()
                                      : Poco::Dynamic::Var(e.half_life.count()));
      o->set("value", std::round(entryValue(e, now) * 100) / 100);
      entries->add(o);
    }
    out->set("entries", entries);
    return jsonResponse(200, out);
  });
}

}  // namespace

namespace {

// What scoring the lead again would do, read without writing.
struct ScorePlan {
  std::vector<ScoreEntry> changes;  // for the ledger
  Score after;
  std::optional<LeadCommand> command;
  bool changesAnything(const Lead& lead) const {
    return !changes.empty() || command ||
           after != Score{lead.fit_score, lead.engagement_score, lead.score};
  }
};

ScorePlan planScore(const ScoringRules& rules, const Lead& lead,
                    std::span<const Interaction> interactions, std::span<const ScoreEntry> ledger,
                    Timestamp now) {
  ScorePlan plan;
  const auto awarded = scoreEntries(rules, lead, interactions);
  plan.changes = ledgerChanges(awardedFromLedger(ledger), awarded);
  plan.after = scoreAt(awarded, now);
  plan.command = scoringCommand(rules.thresholds, lead.status, plan.after.total);
  return plan;
}

ScorePlan planScore(Services& s, store::Connection& c, const Lead& lead, Timestamp now) {
  return planScore(s.config.scoring, lead, store::leadInteractions(c, lead.id),
                   store::leadLedger(c, lead.id), now);
}

// The lead, scored again in the writer's transaction; false when nothing about it moved.
Result<bool> writeRescored(Services& s, store::Connection& c, const std::string& leadId,
                           const std::string& reason) {
  auto lead = store::findLead(c, leadId);
  if (!lead) return false;
  const Rescored r = rescoreLead(s, c, *lead, reason);
  if (!r.leadChanged()) return false;
  if (!store::updateLead(c, *lead))
    return Error::conflict("the lead changed meanwhile; retry", "version-mismatch");
  recordRescored(s, c, *lead, r);
  return true;
}

}  // namespace

Result<InteractionRecorded> recordLeadInteraction(Services& s, store::Connection& c, Lead& lead,
                                                  InteractionType type, Timestamp at,
                                                  const std::string& url, const std::string& title,
                                                  const std::string& actor) {
  const Interaction interaction{s.ids.next("int"), type, at};
  auto doc = store::jsonObject();
  doc->set("id", interaction.id);
  doc->set("lead_id", lead.id);
  doc->set("type", std::string(toString(interaction.type)));
  doc->set("occurred_at", formatTimestamp(interaction.at));
  doc->set("url", store::textOrNull(url));
  doc->set("title", store::textOrNull(title));
  doc->set("recorded_by", actor);
  doc->set("created_at", formatTimestamp(s.clock.now()));
  const std::string docText = store::toJsonText(doc);
  store::insertInteraction(c, lead.id, interaction, docText, s.clock.now());
  recordChange(s, c, lead.id, "lead.interaction", actor,
               std::string(toString(interaction.type)) + (url.empty() ? "" : " " + url), docText,
               "", lead.first_touch.partner);
  InteractionRecorded out{doc, rescoreLead(s, c, lead, "interaction " + interaction.id)};
  if (out.rescored.leadChanged() && !store::updateLead(c, lead))
    return Error::conflict("the lead changed meanwhile; retry", "version-mismatch");
  recordRescored(s, c, lead, out.rescored);
  return out;
}

Rescored rescoreLead(Services& s, store::Connection& c, Lead& lead, const std::string& reason) {
  const Timestamp now = s.clock.now();
  const ScorePlan plan = planScore(s, c, lead, now);
  Rescored r;
  r.before = {lead.fit_score, lead.engagement_score, lead.score};
  r.after = plan.after;
  if (!plan.changes.empty()) store::appendLedger(c, lead.id, plan.changes, reason, now);
  r.changed = r.after != r.before;
  r.ledgerChanged = !plan.changes.empty();
  if (r.changed || r.ledgerChanged) {
    lead.fit_score = r.after.fit;
    lead.engagement_score = r.after.engagement;
    lead.score = r.after.total;
    lead.scored_at = now;  // so a lead never scored has an empty ledger
  }
  if (plan.command) {
    // The thresholds only ever call for a command the table lets scoring fire.
    r.status = applyCommand(lead,
                            {*plan.command, Actor::kScoring, "scoring", std::nullopt,
                             "score " + std::to_string(lead.score)},
                            now)
                   .value();
  }
  return r;
}

void recordRescored(Services& s, store::Connection& c, const Lead& lead, const Rescored& r) {
  if (r.changed) {
    auto data = store::jsonObject();
    data->set("lead", store::leadToJson(lead));
    data->set("score", scoreJson(r.after));
    data->set("previous", scoreJson(r.before));
    recordChange(s, c, lead.id, "lead.scored", "scoring",
                 "score " + std::to_string(r.before.total) + " -> " + std::to_string(r.after.total),
                 store::toJsonText(data), "lead.scored", lead.first_touch.partner);
  }
  if (r.status) recordStatusChange(s, c, lead, *r.status, "scoring");
}

Status rescoreChanged(Services& s, const std::vector<LeadChange>& changes) {
  // Most changes to a lead do not move its score: find that out on a read connection, once
  // for all of them, and leave the writer alone. Those that move are scored again in the
  // write, from what it reads.
  std::vector<const LeadChange*> moving;
  Status read = s.store.read([&](store::Connection& c) -> Status {
    const ScoringRules& rules = s.config.scoring;
    const bool noRules = rules.profile.empty() && rules.behaviour.empty();
    const Timestamp now = s.clock.now();
    std::unordered_set<std::string_view> seen;
    for (auto change = changes.rbegin(); change != changes.rend(); ++change) {
      if (!seen.insert(change->lead_id).second) continue;  // its last change names the reason
      // Without rules, a lead never scored (its ledger is empty) has nothing to change; that
      // is found without reading the lead.
      if (noRules && !store::hasLedger(c, change->lead_id)) continue;
      auto lead = store::findLead(c, change->lead_id);
      if (lead && planScore(s, c, *lead, now).changesAnything(*lead)) moving.push_back(&*change);
    }
    return Status();
  });
  if (!read.ok() || moving.empty()) return read;
  return s.store.write([&](store::Connection& c) -> Status {
    for (auto change = moving.rbegin(); change != moving.rend(); ++change) {
      auto written = writeRescored(s, c, (*change)->lead_id, (*change)->reason);
      if (!written.ok()) return written.error();
    }
    return Status();
  });
}

std::string rulesFingerprint(const ScoringRules& rules) {
  Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
  sha.update(describeRules(rules));
  return Poco::DigestEngine::digestToHex(sha.digest());
}

namespace {

// One pass over the live leads after `after` (only those with interactions when
// `engagedOnly`), a batch at a time: see rescoreAll().
Result<RescoreTally> rescorePass(Services& s, const std::string& reason, int batch,
                                 const RescoreObserver& onBatch, std::string after,
                                 bool engagedOnly) {
  RescoreTally tally;
  for (;;) {
    std::vector<std::string> moving;
    std::string last;
    Status read = s.store.read([&](store::Connection& c) -> Status {
      const auto leads = store::liveLeadsAfter(c, after, batch, engagedOnly);
      if (leads.empty()) return Status();
      const auto interactions = store::interactionsBetween(c, leads.front().id, leads.back().id);
      const auto ledgers = store::ledgersBetween(c, leads.front().id, leads.back().id);
      const Timestamp now = s.clock.now();
      for (const auto& lead : leads) {
        const auto i = interactions.find(lead.id);
        const auto l = ledgers.find(lead.id);
        const ScorePlan plan =
            planScore(s.config.scoring, lead,
                      i == interactions.end() ? std::span<const Interaction>() : i->second,
                      l == ledgers.end() ? std::span<const ScoreEntry>() : l->second, now);
        if (plan.changesAnything(lead)) moving.push_back(lead.id);
      }
      tally.scanned += static_cast<std::int64_t>(leads.size());
      last = leads.back().id;
      return Status();
    });
    if (!read.ok()) return read.error();
    if (last.empty()) break;
    if (!moving.empty()) {
      Status write = s.store.write([&](store::Connection& c) -> Status {
        for (const auto& id : moving) {
          auto written = writeRescored(s, c, id, reason);
          if (!written.ok()) return written.error();
          if (written.value()) ++tally.changed;
        }
        return Status();
      });
      if (!write.ok()) return write.error();
    }
    after = last;
    if (!onBatch(tally, after)) return tally;
  }
  tally.complete = true;
  return tally;
}

}  // namespace

Status rescoreFading(Services& s) {
  auto done = rescorePass(
      s, "decay", 500, [](const RescoreTally&, const std::string&) { return true; }, "", true);
  return done.ok() ? Status() : Status(done.error());
}

Result<RescoreTally> rescoreAll(Services& s, const std::string& reason, int batch,
                                const RescoreObserver& onBatch, std::string after) {
  const std::string fingerprint = rulesFingerprint(s.config.scoring);
  auto tally = rescorePass(s, reason, batch, onBatch, std::move(after), false);
  if (!tally.ok() || !tally.value().complete) return tally;
  Status stored = s.store.write([&](store::Connection& c) -> Status {
    store::setSetting(c, "scoring.rules", fingerprint);
    store::setSetting(c, "scoring.rescore", "");
    return Status();
  });
  if (!stored.ok()) return stored.error();
  return tally;
}

void RulesRescore::start() {
  thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "ciclo-rescore");
    run();
  });
}

void RulesRescore::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void RulesRescore::run() {
  auto& log = Poco::Logger::get("ciclod.scoring");
  Services& s = services_;
  const std::string fingerprint = rulesFingerprint(s.config.scoring);
  std::string stored, cursor;
  Status read = s.store.read([&](store::Connection& c) -> Status {
    stored = store::setting(c, "scoring.rules");
    cursor = store::setting(c, "scoring.rescore");
    return Status();
  });
  if (!read.ok()) {
    log.error("cannot read the scoring rules' fingerprint: %s", read.error().message);
    return;
  }
  if (stored == fingerprint) return;
  // "FINGERPRINT LEAD_ID": how far a pass for these rules got before a stop.
  std::string after;
  if (cursor.starts_with(fingerprint + " ")) after = cursor.substr(fingerprint.size() + 1);
  log.information("the scoring rules changed: scoring every lead again%s",
                  after.empty() ? std::string() : " from " + after);
  const auto started = std::chrono::steady_clock::now();
  auto done = rescoreAll(
      s, "rules changed", 200,
      [&](const RescoreTally&, const std::string& at) {
        Status kept = s.store.write([&](store::Connection& c) -> Status {
          store::setSetting(c, "scoring.rescore", fingerprint + " " + at);
          return Status();
        });
        return kept.ok() && !stopping_;
      },
      after);
  if (!done.ok()) {
    log.error("scoring every lead again stopped: %s; the next start goes on", done.error().message);
    return;
  }
  if (!done.value().complete) return;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  log.information("scored %s leads again under the new rules in %.1f s: %s changed",
                  std::to_string(done.value().scanned), seconds,
                  std::to_string(done.value().changed));
}

void addScoringRoutes(Router& router, Services& s) {
  router.add("POST", "/v1/leads/{id}/interactions", {"leads:write", 16 * 1024},
             [&s](Request& r) { return recordInteraction(r, s); });
  router.add("GET", "/v1/leads/{id}/interactions", {"leads:read", 0},
             [&s](Request& r) { return listInteractions(r, s); });
  router.add("GET", "/v1/leads/{id}/score", {"leads:read", 0},
             [&s](Request& r) { return explainScore(r, s); });
}

}  // namespace ciclo::host
