#pragma once
// Fresh, empty databases for tests: a SQLite file in a temporary directory, or a new
// database on the throw-away PostgreSQL cluster the `pg` CTest fixture started.

#include <string>
#include <vector>

namespace ciclo::testing {

enum class TestBackend { kSqlite, kPostgres };

// The backends a test should run on: SQLite always, PostgreSQL when the fixture is up.
std::vector<TestBackend> testBackends();
std::string backendName(TestBackend b);

// A store URL for a new empty database.
std::string freshDatabaseUrl(TestBackend b);

// A new empty directory under the system's temp dir, removed at exit of the process.
std::string makeTempDir(const std::string& prefix);

// A logical dump of every table: each row of each table, in a stable order, as text.
std::string dumpDatabase(const std::string& url);

}  // namespace ciclo::testing
