#pragma once
// The SMTP server (smtp_server.mjs, the smtp-server npm package) run for a test, with a
// certificate made for it on the spot and, when asked, AUTH with generated credentials.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "e2e/peer_log.h"
#include "support/daemon.h"

namespace ciclo::testing {

struct SmtpPeerOptions {
  bool tls = true;   // offer STARTTLS with a certificate for localhost and 127.0.0.1
  bool auth = true;  // require AUTH
};

class SmtpPeer {
 public:
  explicit SmtpPeer(SmtpPeerOptions options = {}) {
    dir_ = makeTempDir("ciclo-smtp-");
    if (options.tls) {
      Poco::Process::Args args{"req",
                               "-x509",
                               "-newkey",
                               "rsa:2048",
                               "-nodes",
                               "-keyout",
                               dir_ + "tls.key",
                               "-out",
                               dir_ + "tls.crt",
                               "-days",
                               "2",
                               "-subj",
                               "/CN=localhost",
                               "-addext",
                               "subjectAltName=DNS:localhost,IP:127.0.0.1"};
      Poco::Pipe out;
      auto handle = Poco::Process::launch("openssl", args, nullptr, &out, &out);
      Poco::PipeInputStream drain(out);
      std::string ignored((std::istreambuf_iterator<char>(drain)), {});
      handle.wait();
    }
    if (options.auth) {
      user_ =
          "ciclo-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
      pass_ = "p" + std::to_string(std::hash<std::string>{}(user_ + dir_));
      std::ofstream(dir_ + "auth.json")
          << R"({"user":")" << user_ << R"(","pass":")" << pass_ << R"("})";
    }
    const std::string script = std::string(CICLO_E2E_DIR) + "/smtp_server.mjs";
    process_ = Poco::Process::launch("node", {script, dir_}, std::string(CICLO_E2E_DIR), nullptr,
                                     nullptr, nullptr);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline && (port_ == 0 || control_ == 0)) {
      std::ifstream(dir_ + "smtp.port") >> port_;
      std::ifstream(dir_ + "control.port") >> control_;
      if (port_ == 0 || control_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~SmtpPeer() {
    if (process_) {
      Poco::Process::kill(*process_);
      process_->wait();
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  int port() const { return port_; }
  const std::string& user() const { return user_; }
  const std::string& password() const { return pass_; }
  std::string caFile() const { return dir_ + "tls.crt"; }

  // The answers to the next messages: "accept", "defer", "reject-hard", "reject-soft", "drop".
  void plan(const std::string& jsonArray) const {
    httpCall(control_, "POST", "/_control", R"({"plan":)" + jsonArray + "}");
  }
  Poco::JSON::Array::Ptr received() const { return peerReceived(control_); }
  Poco::JSON::Array::Ptr waitFor(std::size_t n, int seconds = 20) const {
    return peerReceivedAtLeast(control_, n, seconds);
  }

 private:
  std::string dir_, user_, pass_;
  int port_ = 0, control_ = 0;
  std::optional<Poco::ProcessHandle> process_;
};

// The path of the first link in an email's `text` that starts with https://ciclo.test (the
// tests' public_url) and `prefix` ("/t/o/", "/t/c/", "/u/"), or "".
inline std::string linkPath(const std::string& text, const std::string& prefix) {
  const std::string base = "https://ciclo.test";
  const auto at = text.find(base + prefix);
  if (at == std::string::npos) return "";
  const auto end = text.find_first_of("\"'> \r\n", at);
  return text.substr(at + base.size(), end - at - base.size());
}

}  // namespace ciclo::testing
