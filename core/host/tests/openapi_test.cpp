// docs/openapi.yaml describes exactly the routes the daemon registers.

#include "host/openapi.h"

#include <Poco/JSON/Parser.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>

#include <set>

#include "host/adapters.h"
#include "host/api.h"
#include "host/crypto.h"
#include "host/webhooks.h"

namespace ciclo::host {
namespace {

TEST(OpenApi, DocumentsEveryRegisteredRouteAndNoOther) {
  Config config;
  Poco::TemporaryFile dir;
  dir.createDirectories();
  config.store.url = "sqlite:" + dir.path() + "/ciclo.db";
  auto store = store::Store::open(config.store);
  ASSERT_TRUE(store.ok());
  SystemClock clock;
  OpenSslRandom random;
  IdGenerator ids(clock, random);
  Idn2DomainEncoder domains;
  LibPhoneNumberNormalizer phones;
  Services services{config, *store.value(), clock, random, ids, domains, phones};
  Crypto crypto(std::array<std::uint8_t, 32>{}, random);
  Api api(services);
  Webhooks webhooks(services, crypto);
  webhooks.addRoutes(api.router());

  std::set<std::string> registered;
  for (const auto& r : api.router().routes()) registered.insert(r.method + " " + r.pattern);

  Poco::JSON::Parser parser;
  auto doc = parser.parse(openApiJson()).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(doc->getValue<std::string>("openapi"), "3.0.3");
  std::set<std::string> documented;
  auto paths = doc->getObject("paths");
  for (const auto& [path, item] : *paths) {
    for (const auto& [method, op] : *item.extract<Poco::JSON::Object::Ptr>()) {
      if (method == "parameters") continue;
      // Routes a plugin registers are checked against the daemon that loads it.
      if (op.extract<Poco::JSON::Object::Ptr>()->has("x-ciclo-plugin")) continue;
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(upper + " " + path);
    }
  }
  for (const auto& r : registered)
    EXPECT_TRUE(documented.contains(r)) << r << " is served but not documented";
  for (const auto& d : documented)
    EXPECT_TRUE(registered.contains(d)) << d << " is documented but not served";
  store.value()->close();
}

TEST(OpenApi, YamlScalarsBecomeJsonTypes) {
  auto v = yamlToJson(YAML::Load("a: 1\nb: '1'\nc: true\nd: 1.5\ne: ~\nf: text\ng: [x, 2]\n"));
  std::ostringstream out;
  v.extract<Poco::JSON::Object::Ptr>()->stringify(out);
  EXPECT_EQ(out.str(), R"({"a":1,"b":"1","c":true,"d":1.5,"e":null,"f":"text","g":["x",2]})");
}

}  // namespace
}  // namespace ciclo::host

#include "host/plugin_host.h"

namespace ciclo::host {
namespace {

TEST(PluginSql, OnlyTheirOwnTablesAndNoTransactionControl) {
  const std::string p = "p_echo_";
  for (const char* ok :
       {"CREATE TABLE p_echo_notes (id BIGINT PRIMARY KEY, text TEXT)",
        "CREATE TABLE IF NOT EXISTS p_echo_x (a TEXT)",
        "CREATE INDEX p_echo_i ON p_echo_notes (text)",
        "SELECT n.id FROM p_echo_notes n JOIN p_echo_tags t ON t.note = n.id WHERE n.text = 'from "
        "leads'",
        "INSERT INTO p_echo_notes (id, text) VALUES ($1, $2)", "UPDATE p_echo_notes SET text = $1",
        "DELETE FROM p_echo_notes WHERE id = $1", "SELECT COUNT(*) FROM p_echo_notes;",
        "INSERT INTO p_echo_notes (id, text) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET text "
        "= excluded.text"}) {
    EXPECT_TRUE(checkPluginSql(ok, p).ok()) << ok;
  }
  for (const char* bad :
       {"SELECT * FROM leads", "DELETE FROM outbox", "UPDATE api_keys SET revoked_at = NULL",
        "INSERT INTO timeline (a) VALUES (1)", "SELECT * FROM p_echo_notes JOIN leads ON 1 = 1",
        "CREATE TABLE leads2 (a TEXT)", "CREATE INDEX p_echo_i ON leads (email)",
        "DROP TABLE leads", "PRAGMA synchronous=OFF", "BEGIN", "COMMIT", "ATTACH 'x' AS y",
        "SELECT 1; DELETE FROM leads", "SELECT * FROM \"leads\"", "SELECT * FROM main.leads", "",
        "INSERT INTO p_echo_notes (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET text = (SELECT "
        "email FROM leads LIMIT 1)",
        "INSERT INTO leads (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET id = 2"}) {
    EXPECT_FALSE(checkPluginSql(bad, p).ok()) << bad;
  }
}

}  // namespace
}  // namespace ciclo::host
