#pragma once
// Starts the real ciclod for a test: its own config in a temporary directory, port 0 with
// the bound port read back from a file, an API key made with the admin CLI, and a small
// HTTP client. Stopped with SIGTERM (or killed) by the test.

#include <Poco/Process.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "test_db.h"

namespace ciclo::testing {

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& lowerName) const {
    auto it = headers.find(lowerName);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct DaemonOptions {
  std::string store_url;    // empty: a fresh SQLite file
  std::string extra_yaml;   // appended to the generated config
  std::string server_yaml;  // lines added under server:
  bool clock_control = false;
  int threads = 96;
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions options = {});
  ~Daemon();

  // Starts and waits until the port file appears; false (with output in log()) if not.
  bool start();
  // SIGTERM, then waits; returns the exit code.
  int stop();
  // SIGKILL, no waiting for anything.
  void kill();

  int port() const { return port_; }
  const std::string& storeUrl() const { return options_.store_url; }
  const std::string& dir() const { return dir_; }
  std::string log() const;

  // Runs the ciclod binary with these arguments and this daemon's config; returns exit code.
  int runCli(const std::vector<std::string>& args, std::string* out = nullptr,
             std::string* err = nullptr) const;
  // An API key with these scopes (made with `apikey create`).
  std::string createKey(const std::string& scopes, const std::string& name = "test");

  HttpResult request(const std::string& method, const std::string& path,
                     const std::string& body = "",
                     const std::vector<std::pair<std::string, std::string>>& headers = {},
                     const std::string& contentType = "application/json") const;
  // With `key` as the bearer token.
  HttpResult call(const std::string& method, const std::string& path, const std::string& key,
                  const std::string& body = "",
                  const std::vector<std::pair<std::string, std::string>>& headers = {}) const;
  // Moves the daemon's clock on (it needs DaemonOptions::clock_control and an admin key).
  HttpResult advanceClock(const std::string& adminKey, long long seconds) const;

  static std::string binary();

 private:
  DaemonOptions options_;
  std::string dir_;
  std::string configFile_;
  std::optional<Poco::ProcessHandle> process_;
  int port_ = 0;
  int launches_ = 0;
};

// One HTTP request to 127.0.0.1:port.
HttpResult httpCall(int port, const std::string& method, const std::string& path,
                    const std::string& body = "",
                    const std::vector<std::pair<std::string, std::string>>& headers = {},
                    const std::string& contentType = "application/json");

// Sends raw bytes on a new connection and returns what came back until the server closed
// it or `timeoutMs` passed.
std::string rawExchange(int port, const std::string& bytes, int timeoutMs = 5000);

}  // namespace ciclo::testing
