#pragma once
// A running ciclod per test, on each backend, with keys for the common scopes.

#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include "host/crypto.h"
#include "support/daemon.h"

namespace ciclo::testing {

inline Poco::JSON::Object::Ptr json(const std::string& text) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
    ADD_FAILURE() << "not a JSON object: " << text.substr(0, 300);
    return new Poco::JSON::Object;
  }
}

// A fresh Standard Webhooks secret, as a partner or a subscriber is given one.
inline std::string makeWebhookSecret() {
  std::random_device rd;
  std::string bytes(32, '\0');
  for (auto& b : bytes) b = static_cast<char>(rd());
  return "whsec_" + host::Crypto::base64(bytes);
}

inline long long unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Calls every operation docs/openapi.yaml marks `x-ciclo-plugin: <plugin>` (the host checks
// its own routes against the document; a plugin's are checked against the daemon that loads
// it), with the path's {names} taken from `values`. Each must be served: no 405, no "nothing
// at this path". Returns how many operations were called.
inline int callDocumentedPluginRoutes(Daemon& daemon, const std::string& key,
                                      const std::string& plugin,
                                      const std::map<std::string, std::string>& values) {
  auto paths = json(daemon.request("GET", "/v1/openapi.json").body)->getObject("paths");
  int called = 0;
  for (const auto& [pattern, item] : *paths) {
    for (const auto& [method, op] : *item.extract<Poco::JSON::Object::Ptr>()) {
      if (method == "parameters") continue;
      auto operation = op.extract<Poco::JSON::Object::Ptr>();
      if (operation->optValue<std::string>("x-ciclo-plugin", "") != plugin) continue;
      std::string path = pattern;
      for (const auto& [name, value] : values) {
        if (auto at = path.find("{" + name + "}"); at != std::string::npos)
          path.replace(at, name.size() + 2, value);
      }
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      auto r = daemon.call(upper, path, key, "");
      EXPECT_NE(r.status, 405) << upper << " " << pattern;
      EXPECT_EQ(r.body.find("there is nothing at this path"), std::string::npos)
          << upper << " " << pattern;
      ++called;
    }
  }
  return called;
}

// Files a test's daemon reads (business rules), in a temporary directory of their own that
// goes with them.
class TempFiles {
 public:
  TempFiles(std::initializer_list<std::pair<std::string, std::string>> files)
      : dir_(makeTempDir("ciclo-files-")) {
    for (const auto& [name, text] : files) std::ofstream(dir_ + name) << text;
  }
  ~TempFiles() { Poco::File(dir_).remove(true); }
  TempFiles(const TempFiles&) = delete;
  TempFiles& operator=(const TempFiles&) = delete;
  std::string path(const std::string& name) const { return dir_ + name; }

 private:
  std::string dir_;
};

class DaemonTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == TestBackend::kPostgres && !std::getenv("CICLO_TEST_PG_URL_FILE")) {
      GTEST_SKIP() << "no PostgreSQL test cluster (run through ctest)";
    }
    DaemonOptions options = daemonOptions();
    options.store_url = freshDatabaseUrl(GetParam());
    daemon_ = std::make_unique<Daemon>(options);
    writer_ = daemon_->createKey("leads:read,leads:write", "crm");
    reader_ = daemon_->createKey("leads:read", "reports");
    ASSERT_TRUE(writer_.starts_with("key_")) << writer_;
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
  }
  void TearDown() override {
    if (daemon_) daemon_->stop();
  }
  virtual DaemonOptions daemonOptions() { return {}; }

  HttpResult post(const std::string& path, const std::string& body,
                  const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return daemon_->call("POST", path, writer_, body, headers);
  }
  HttpResult get(const std::string& path) { return daemon_->call("GET", path, reader_); }
  Poco::JSON::Object::Ptr lead(const std::string& id) { return json(get("/v1/leads/" + id).body); }
  // The lead once `done` holds for it (what the daemon does in the background), within 15 s.
  Poco::JSON::Object::Ptr leadWhen(const std::string& id,
                                   const std::function<bool(Poco::JSON::Object&)>& done) {
    Poco::JSON::Object::Ptr last;
    for (int i = 0; i < 300; ++i) {
      last = lead(id);
      if (done(*last)) return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return last;
  }

  // The kinds of the lead's timeline entries, in order ("lead.captured", "lead.scored", ...).
  std::vector<std::string> timelineKinds(const std::string& leadId) {
    std::vector<std::string> kinds;
    auto data = json(get("/v1/leads/" + leadId + "/timeline").body)->getArray("data");
    for (std::size_t i = 0; data && i < data->size(); ++i)
      kinds.push_back(data->getObject(static_cast<unsigned>(i))->getValue<std::string>("kind"));
    return kinds;
  }

  // The store's records, without the daemon's own state: the event consumers' positions
  // and its settings (the scoring rules every lead was last scored with) move in the
  // background after its start and after earlier writes, whatever the request under test did.
  std::string recordsDump() {
    return withoutRows(withoutRows(dumpDatabase(daemon_->storeUrl()), "consumer_positions"),
                       "settings");
  }

  // A dump with the rows of `table` left out (its heading stays).
  static std::string withoutRows(std::string dump, const std::string& table) {
    const std::string heading = "== " + table + "\n";
    if (auto from = dump.find(heading); from != std::string::npos) {
      const auto start = from + heading.size();
      const auto next = dump.find("\n== ", start - 1);
      dump.erase(start, next == std::string::npos ? std::string::npos : next + 1 - start);
    }
    return dump;
  }

  std::unique_ptr<Daemon> daemon_;
  std::string writer_, reader_;
};

#define CICLO_ON_BOTH_BACKENDS(Suite)                                                       \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                                 \
                           ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres), \
                           [](const auto& p) { return ::ciclo::testing::backendName(p.param); })

}  // namespace ciclo::testing
