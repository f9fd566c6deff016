// A small plugin that proves the SDK: it registers routes (one public, one behind an API key
// scope with a body limit), subscribes to lead.captured, and schedules a job. Tests only.

#include <atomic>
#include <mutex>
#include <thread>

#include "ciclo/plugin.h"

namespace ciclo::plugins::echo {

std::map<std::string, std::string> parseQuery(const std::string& query) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < query.size()) {
    auto amp = query.find('&', start);
    if (amp == std::string::npos) amp = query.size();
    const std::string pair = query.substr(start, amp - start);
    const auto eq = pair.find('=');
    std::string value;
    const std::string raw = eq == std::string::npos ? "" : pair.substr(eq + 1);
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size()) {
        value += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        value += raw[i];
      }
    }
    out[pair.substr(0, eq)] = value;
    start = amp + 1;
  }
  return out;
}

// The lead a capture route was asked for, and its idempotency key.
std::pair<sdk::LeadInput, std::string> captureInput(const sdk::HttpRequest& r) {
  auto q = parseQuery(r.query);
  sdk::LeadInput input;
  input.email = q["email"];
  input.first_name = q["first_name"];
  input.source = "referral";
  input.partner = "echo-partner";
  input.channel = "echo";
  return {input, q["key"]};
}

sdk::HttpResponse captureAnswer(const sdk::Result<sdk::CaptureResult>& result) {
  if (!result.ok()) {
    const auto& e = result.error();
    return sdk::problem(e.kind == sdk::ErrorKind::kInvalid ? 422 : 500,
                        e.slug.empty() ? "invalid" : e.slug, "Refused", e.message, e.fields);
  }
  const auto& c = result.value();
  return sdk::HttpResponse{200,
                           "application/json",
                           "{\"lead_id\":" + sdk::jsonString(c.lead_id) +
                               ",\"outcome\":" + sdk::jsonString(c.outcome) +
                               ",\"replayed\":" + (c.replayed ? "true" : "false") + "}",
                           {}};
}

class Echo : public sdk::Plugin {
 public:
  sdk::Status start(sdk::Context& context) override {
    auto& config = context.config();
    greeting_ = config.text("greeting", "hello");
    const auto tick = config.integer("tick_seconds", 60, 1, 86400);
    config.finish();
    metrics_ = &context.metrics();

    if (auto st = context.routes().add(
            "GET", "/v1/echo/state", {"", 0},
            [this](const sdk::HttpRequest&) {
              std::lock_guard lock(mutex_);
              return sdk::HttpResponse{200,
                                       "application/json",
                                       "{\"greeting\":" + sdk::jsonString(greeting_) +
                                           ",\"captured\":" + std::to_string(captured_) +
                                           ",\"last_lead\":" + sdk::jsonString(lastLead_) +
                                           ",\"ticks\":" + std::to_string(ticks_) +
                                           ",\"deliveries\":" + std::to_string(deliveries_) + "}",
                                       {}};
            });
        !st.ok()) {
      return st;
    }
    if (auto st = context.routes().add(
            "POST", "/v1/echo/things", {"leads:write", 1024, {"application/json", "text/plain"}},
            [](const sdk::HttpRequest& r) {
              if (r.body.find("boom") != std::string::npos) throw std::runtime_error("boom");
              return sdk::HttpResponse{
                  201, "application/json", "{\"caller\":" + sdk::jsonString(r.caller) + "}", {}};
            });
        !st.ok()) {
      return st;
    }
    // leads.capture() from a plugin: ?email=..&first_name=..&key=.. (percent-encoded); the
    // same answered later, with the capture's result handed over once it is committed.
    if (auto st = context.routes().add("POST", "/v1/echo/capture", {"leads:write", 0},
                                       [&context](const sdk::HttpRequest& r) {
                                         auto [input, key] = captureInput(r);
                                         return captureAnswer(context.leads().capture(input, key));
                                       });
        !st.ok()) {
      return st;
    }
    if (auto st = context.routes().addLater(
            "POST", "/v1/echo/capture-later", {"leads:write", 0},
            [&context](const sdk::HttpRequest& r, sdk::Answer answer) {
              auto [input, key] = captureInput(r);
              context.leads().capture(
                  input, key, [&context, answer](const sdk::Result<sdk::CaptureResult>& result) {
                    // The store's answering thread: a write or a waiting capture from here
                    // would wait for itself.
                    sdk::Status nested = context.storage().write(
                        [](sdk::Tx&) -> sdk::Status { return sdk::Status(); });
                    sdk::LeadInput other;
                    other.email = "nested-capture@example.it";
                    const bool captured = context.leads().capture(other, "").ok();
                    sdk::HttpResponse response = captureAnswer(result);
                    response.headers.emplace_back("X-Nested-Write",
                                                  nested.ok() ? "done" : "refused");
                    response.headers.emplace_back("X-Nested-Capture",
                                                  captured ? "done" : "refused");
                    answer(std::move(response));
                  });
            });
        !st.ok()) {
      return st;
    }
    // Answers given later by other means: from another thread, never (the host answers 500),
    // or not at all because the handler threw after taking the answer.
    if (auto st = context.routes().addLater(
            "POST", "/v1/echo/later", {"leads:write", 0},
            [](const sdk::HttpRequest& r, sdk::Answer answer) {
              const std::string mode = parseQuery(r.query)["mode"];
              if (mode == "thread") {
                std::thread([answer] {
                  std::this_thread::sleep_for(std::chrono::milliseconds(50));
                  answer(sdk::HttpResponse{200, "application/json", R"({"from":"thread"})", {}});
                  answer(sdk::HttpResponse{500, "application/json", "{}", {}});  // ignored
                }).detach();
              } else if (mode == "throw") {
                throw std::runtime_error("gave up");
              } else if (mode != "drop") {
                answer(sdk::problem(400, "mode", "Bad mode", "mode is thread, drop or throw"));
              }
            });
        !st.ok()) {
      return st;
    }
    // Its own table, through the host's storage.
    auto& storage = context.storage();
    if (auto st = storage.migrate(
            {{1, {"CREATE TABLE p_echo_notes (id BIGINT PRIMARY KEY, text TEXT NOT NULL)"}}});
        !st.ok()) {
      return st;
    }
    if (auto st = context.routes().add(
            "POST", "/v1/echo/notes", {"leads:write", 4096, {"text/plain"}},
            [&storage](const sdk::HttpRequest& r) {
              long long count = 0;
              sdk::Status written = storage.write([&](sdk::Tx& tx) -> sdk::Status {
                auto rows = tx.query("SELECT COUNT(*) FROM p_echo_notes");
                if (!rows.ok()) return rows.error();
                count = std::get<long long>(rows.value()[0][0]);
                auto done = tx.exec("INSERT INTO p_echo_notes (id, text) VALUES ($1, $2)",
                                    {count + 1, r.body});
                return done.ok() ? sdk::Status() : sdk::Status(done.error());
              });
              if (!written.ok())
                return sdk::problem(500, "internal", "Failed", written.error().message);
              return sdk::HttpResponse{
                  201, "application/json", "{\"notes\":" + std::to_string(count + 1) + "}", {}};
            });
        !st.ok()) {
      return st;
    }
    // Reaching into a core table is refused.
    if (auto st = context.routes().add(
            "GET", "/v1/echo/peek", {"leads:read", 0},
            [&storage](const sdk::HttpRequest&) {
              sdk::Status peeked = storage.read([&](sdk::Tx& tx) -> sdk::Status {
                auto rows = tx.query("SELECT COUNT(*) FROM leads");
                return rows.ok() ? sdk::Status() : sdk::Status(rows.error());
              });
              return sdk::problem(peeked.ok() ? 200 : 409, "peek", "Peek",
                                  peeked.ok() ? "read" : peeked.error().message);
            });
        !st.ok()) {
      return st;
    }
    // Outbound HTTP through the host's connector.
    if (auto st = context.routes().add(
            "POST", "/v1/echo/fetch", {"leads:write", 0},
            [&context](const sdk::HttpRequest& r) {
              auto q = parseQuery(r.query);
              sdk::OutboundRequest out;
              out.method = "GET";
              out.url = q["url"];
              out.timeout = std::chrono::milliseconds(2000);
              auto answer = context.http().send(out);
              const char* kind = answer.kind == sdk::OutboundResponse::Kind::kResponse ? "response"
                                 : answer.kind == sdk::OutboundResponse::Kind::kRetry  ? "retry"
                                                                                      : "permanent";
              return sdk::HttpResponse{200,
                                       "application/json",
                                       "{\"kind\":" + sdk::jsonString(kind) +
                                           ",\"status\":" + std::to_string(answer.status) +
                                           ",\"error\":" + sdk::jsonString(answer.error) + "}",
                                       {}};
            });
        !st.ok()) {
      return st;
    }
    // The next `times` events fail: the host must hand the same event again.
    if (auto st = context.routes().add("POST", "/v1/echo/fail", {"leads:write", 0},
                                       [this](const sdk::HttpRequest& r) {
                                         std::lock_guard lock(mutex_);
                                         failures_ = std::stoi(parseQuery(r.query)["times"]);
                                         return sdk::HttpResponse{204, "application/json", "", {}};
                                       });
        !st.ok()) {
      return st;
    }
    if (auto st = context.events().subscribe(
            "captured", {"lead.captured"},
            [this](const sdk::Event& e) {
              std::lock_guard lock(mutex_);
              ++deliveries_;
              if (failures_ > 0) {
                --failures_;
                return sdk::Status(sdk::Error{sdk::ErrorKind::kRetryable, "not now", {}, {}});
              }
              ++captured_;
              lastLead_ = e.subject_id;
              metrics_->count("captured");
              return sdk::Status();
            });
        !st.ok()) {
      return st;
    }
    return context.scheduler().every("tick", std::chrono::seconds(tick), [this] {
      std::lock_guard lock(mutex_);
      ++ticks_;
      return sdk::Status();
    });
  }

  void stop() override {}

 private:
  std::mutex mutex_;
  std::string greeting_;
  std::string lastLead_;
  int captured_ = 0;
  int ticks_ = 0;
  int deliveries_ = 0;
  int failures_ = 0;
  sdk::Metrics* metrics_ = nullptr;
};

}  // namespace ciclo::plugins::echo

CICLO_PLUGIN(ciclo::plugins::echo::Echo, "echo", "1.0.0")
