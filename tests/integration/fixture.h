#pragma once
// A running ciclod per test, on each backend, with keys for the common scopes.

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

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

  std::unique_ptr<Daemon> daemon_;
  std::string writer_, reader_;
};

#define CICLO_ON_BOTH_BACKENDS(Suite)                                                       \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                                 \
                           ::testing::Values(TestBackend::kSqlite, TestBackend::kPostgres), \
                           [](const auto& p) { return ::ciclo::testing::backendName(p.param); })

}  // namespace ciclo::testing
