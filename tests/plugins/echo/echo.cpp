// A small plugin that proves the SDK: it registers routes (one public, one behind an API key
// scope with a body limit), subscribes to lead.captured, and schedules a job. Tests only.

#include <atomic>
#include <mutex>

#include "ciclo/plugin.h"

namespace ciclo::plugins::echo {

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
    if (auto st = context.routes().add("POST", "/v1/echo/things", {"leads:write", 1024},
                                       [](const sdk::HttpRequest& r) {
                                         if (r.body.find("boom") != std::string::npos) throw std::runtime_error("boom");
                                         return sdk::HttpResponse{201, "application/json",
                                                                  "{\"caller\":" + sdk::jsonString(r.caller) + "}", {}};
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
