#include "host/config.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace ciclo::host {
namespace {

std::string errorOf(const std::string& yaml) {
  auto r = parseConfig(yaml, "test.yaml");
  return r.ok() ? std::string("(no error)") : r.error().message;
}

TEST(Config, DefaultsWhenEmpty) {
  auto r = parseConfig("", "test.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().server.host, "127.0.0.1");
  EXPECT_EQ(r.value().server.port, 8080);
  EXPECT_EQ(r.value().store.url, "sqlite:var/ciclo.db");
  EXPECT_EQ(r.value().store.sqlite_synchronous, "full");
  EXPECT_FALSE(r.value().clock_control);
}

TEST(Config, ReadsEverySection) {
  auto r = parseConfig(R"(
server:
  listen: 0.0.0.0:9090
  threads: 64
  trusted_proxies: [10.0.0.0/8, 127.0.0.1]
store:
  url: postgresql://ciclo@db:5432/ciclo
log:
  level: debug
  requests: false
testing:
  clock_control: true
)",
                       "test.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& c = r.value();
  EXPECT_EQ(c.server.host, "0.0.0.0");
  EXPECT_EQ(c.server.port, 9090);
  EXPECT_EQ(c.server.threads, 64);
  EXPECT_EQ(c.server.trusted_proxies.size(), 2u);
  EXPECT_EQ(c.store.url, "postgresql://ciclo@db:5432/ciclo");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_FALSE(c.log_requests);
  EXPECT_TRUE(c.clock_control);
}

TEST(Config, ErrorsNameFileKeyAndReason) {
  EXPECT_EQ(errorOf("server:\n  listne: 1\n"), "test.yaml: server.listne: is not a known setting");
  EXPECT_EQ(errorOf("servers: {}\n"), "test.yaml: servers: is not a known setting");
  EXPECT_EQ(errorOf("server:\n  threads: many\n"),
            "test.yaml: server.threads: expected an integer");
  EXPECT_EQ(errorOf("server:\n  threads: 1\n"),
            "test.yaml: server.threads: must be between 4 and 4096");
  EXPECT_EQ(errorOf("server:\n  listen: localhost\n"),
            "test.yaml: server.listen: expected host:port, e.g. 127.0.0.1:8080");
  EXPECT_EQ(errorOf("server:\n  listen: 127.0.0.1:99999\n"),
            "test.yaml: server.listen: the port must be a number from 0 to 65535");
  EXPECT_EQ(errorOf("store:\n  url: mysql://x\n"),
            "test.yaml: store.url: expected sqlite:PATH or postgresql://user@host:port/database");
  EXPECT_EQ(errorOf("store:\n  sqlite_synchronous: sometimes\n"),
            "test.yaml: store.sqlite_synchronous: expected off, normal, full or extra");
  EXPECT_EQ(errorOf("log:\n  requests: maybe\n"),
            "test.yaml: log.requests: expected true or false");
  EXPECT_EQ(errorOf("server: [1, 2]\n"), "test.yaml: server: expected a mapping");
  EXPECT_EQ(errorOf("server:\n  trusted_proxies: 10.0.0.1\n"),
            "test.yaml: server.trusted_proxies: expected a list");
}

TEST(Config, DuplicateKeysAreRefused) {
  EXPECT_EQ(errorOf("server:\n  threads: 8\n  threads: 16\n"),
            "test.yaml: server.threads: is given twice");
  EXPECT_EQ(errorOf("store: {}\nstore: {}\n"), "test.yaml: store: is given twice");
}

TEST(Config, SubstitutesEnvironmentVariables) {
  ::setenv("CICLO_TEST_DB", "postgresql://u@h:5432/d", 1);
  ::unsetenv("CICLO_TEST_MISSING");
  auto r = parseConfig("store:\n  url: ${CICLO_TEST_DB}\n", "test.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().store.url, "postgresql://u@h:5432/d");
  EXPECT_EQ(errorOf("store:\n  url: ${CICLO_TEST_MISSING}\n"),
            "test.yaml: store.url: environment variable CICLO_TEST_MISSING is not set");
  auto fallback =
      parseConfig("store:\n  url: ${CICLO_TEST_MISSING:-sqlite:var/x.db}\n", "test.yaml");
  ASSERT_TRUE(fallback.ok());
  EXPECT_EQ(fallback.value().store.url, "sqlite:var/x.db");
  EXPECT_EQ(errorOf("store:\n  url: ${CICLO_TEST_DB\n"),
            "test.yaml: store.url: has an unterminated ${...}");
}

TEST(Config, SyntaxErrorsNameTheLine) {
  EXPECT_EQ(errorOf("server:\n  listen: [\n"), "test.yaml: line 3: end of sequence flow not found");
  auto missing = loadConfig("/nonexistent/ciclo.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "/nonexistent/ciclo.yaml: cannot be read");
}

}  // namespace
}  // namespace ciclo::host
