// A small plugin that proves the SDK: it registers routes (one public, one behind an API key
// scope with a body limit), subscribes to lead.captured, and schedules a job. Tests only.

#include <atomic>
#include <mutex>

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

class Echo : public sdk::Plugin {
 public:
  sdk::Status start(sdk::Context& context) override {
    auto& config = context.config();
    greeting_ = config.text("greeting", "hello");
    const auto tick = config.integer("tick_seconds", 60, 1, 86400);
    config.finish();
    metrics_ = &context.metrics();

    if (auto st = context.routes().add("GET", "/v1/echo/state", {"", 0}, [this](const sdk::HttpRequest&) {
          std::lock_guard lock(mutex_);
          return sdk::HttpResponse{200, "application/json",
                                   "{\"greeting\":" + sdk::jsonString(greeting_) + ",\"captured\":" +
                                       std::to_string(captured_) + ",\"last_lead\":" + sdk::jsonString(lastLead_) +
                                       ",\"ticks\":" + std::to_string(ticks_) + "}",
                                   {}};
        });
        !st.ok()) {
      return st;
    }
    if (auto st = context.routes().add("POST", "/v1/echo/things", {"leads:write", 1024, {"application/json", "text/plain"}},
                                       [](const sdk::HttpRequest& r) {
                                         if (r.body.find("boom") != std::string::npos) throw std::runtime_error("boom");
                                         return sdk::HttpResponse{201, "application/json",
                                                                  "{\"caller\":" + sdk::jsonString(r.caller) + "}", {}};
                                       });
        !st.ok()) {
      return st;
    }
    // leads.capture() from a plugin: ?email=..&first_name=..&key=.. (percent-encoded).
    if (auto st = context.routes().add("POST", "/v1/echo/capture", {"leads:write", 0},
                                       [&context](const sdk::HttpRequest& r) {
                                         auto q = parseQuery(r.query);
                                         sdk::LeadInput input;
                                         input.email = q["email"];
                                         input.first_name = q["first_name"];
                                         input.source = "referral";
                                         input.partner = "echo-partner";
                                         input.channel = "echo";
                                         auto result = context.leads().capture(input, q["key"]);
                                         if (!result.ok()) {
                                           const auto& e = result.error();
                                           return sdk::problem(e.kind == sdk::ErrorKind::kInvalid ? 422 : 500,
                                                               e.slug.empty() ? "invalid" : e.slug, "Refused",
                                                               e.message, e.fields);
                                         }
                                         const auto& c = result.value();
                                         return sdk::HttpResponse{200, "application/json",
                                                                  "{\"lead_id\":" + sdk::jsonString(c.lead_id) +
                                                                      ",\"outcome\":" + sdk::jsonString(c.outcome) +
                                                                      ",\"replayed\":" + (c.replayed ? "true" : "false") +
                                                                      "}",
                                                                  {}};
                                       });
        !st.ok()) {
      return st;
    }
    if (auto st = context.events().subscribe("captured", {"lead.captured"},
                                             [this](const sdk::Event& e) {
                                               std::lock_guard lock(mutex_);
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
  sdk::Metrics* metrics_ = nullptr;
};

}  // namespace ciclo::plugins::echo

CICLO_PLUGIN(ciclo::plugins::echo::Echo, "echo", "1.0.0")
