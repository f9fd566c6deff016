#pragma once
// The Node.js webhook receiver (webhook_receiver.mjs) run for a test: it verifies each
// delivery with the standardwebhooks package and answers with the statuses a test plans.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Process.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <thread>

#include "e2e/peer_log.h"
#include "support/daemon.h"

namespace ciclo::testing {

class Receiver {
 public:
  Receiver() {
    dir_ = makeTempDir("ciclo-receiver-");
    const std::string script = std::string(CICLO_E2E_DIR) + "/webhook_receiver.mjs";
    process_ = Poco::Process::launch("node", {script, dir_ + "port"}, std::string(CICLO_E2E_DIR),
                                     nullptr, nullptr, nullptr);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(dir_ + "port");
      if (in >> port_ && port_ > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~Receiver() {
    if (process_) {
      Poco::Process::kill(*process_);
      process_->wait();
    }
  }
  int port() const { return port_; }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  void control(const std::string& json) const { httpCall(port_, "POST", "/_control", json); }
  Poco::JSON::Array::Ptr received() const { return peerReceived(port_); }
  Poco::JSON::Array::Ptr waitFor(std::size_t n, int seconds = 20) const {
    return peerReceivedAtLeast(port_, n, seconds);
  }

 private:
  std::string dir_;
  int port_ = 0;
  std::optional<Poco::ProcessHandle> process_;
};

}  // namespace ciclo::testing
