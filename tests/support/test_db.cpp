#include "test_db.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "store/database.h"

namespace ciclo::testing {

namespace {

std::string pgBaseUrl() {
  const char* file = std::getenv("CICLO_TEST_PG_URL_FILE");
  if (!file) return {};
  std::ifstream in(file);
  std::string url;
  std::getline(in, url);
  return url;
}

std::string randomSuffix() {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  return std::to_string(rd()) + "_" + std::to_string(counter++);
}

}  // namespace

std::vector<TestBackend> testBackends() {
  std::vector<TestBackend> out{TestBackend::kSqlite};
  if (!pgBaseUrl().empty()) out.push_back(TestBackend::kPostgres);
  return out;
}

std::string backendName(TestBackend b) {
  return b == TestBackend::kSqlite ? "sqlite" : "postgresql";
}

std::string makeTempDir(const std::string& prefix) {
  Poco::Path path(Poco::Path::temp());
  path.pushDirectory(prefix + randomSuffix());
  Poco::File dir(path);
  dir.createDirectories();
  Poco::TemporaryFile::registerForDeletion(path.toString());
  return path.toString();
}

std::string freshDatabaseUrl(TestBackend b) {
  if (b == TestBackend::kSqlite) return "sqlite:" + makeTempDir("ciclo-test-") + "ciclo.db";
  static std::once_flag registered;
  std::call_once(registered, [] { Poco::Data::PostgreSQL::Connector::registerConnector(); });
  const std::string base = pgBaseUrl();
  const std::string name = "t_" + randomSuffix();
  Poco::Data::Session admin("PostgreSQL", store::pgConnectionString(base));
  admin << "CREATE DATABASE " + name, Poco::Data::Keywords::now;
  return base.substr(0, base.rfind('/') + 1) + name;
}

std::string dumpDatabase(const std::string& url) {
  store::StoreConfig config;
  config.url = url;
  config.read_connections = 1;
  auto opened = store::Store::open(config);
  if (!opened.ok()) return "cannot open: " + opened.error().message;
  auto& st = *opened.value();
  std::ostringstream out;
  (void)st.read([&](store::Connection& c) {
    const auto tables =
        c.backend() == store::Backend::kSqlite
            ? c.query(
                  "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                  "'sqlite_%' ORDER BY name")
            : c.query(
                  "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                  "'public' ORDER BY table_name");
    for (const auto& t : tables) {
      const std::string table = store::text(t[0]);
      out << "== " << table << "\n";
      for (const auto& row : c.query("SELECT * FROM " + table + " ORDER BY 1")) {
        for (const auto& v : row) out << (store::isNull(v) ? "NULL" : store::text(v)) << "|";
        out << "\n";
      }
    }
    return Status();
  });
  return out.str();
}

}  // namespace ciclo::testing
