// Business flows as readable scenario files (tests/scenarios/*.scenario), run against the
// real daemon on each backend. A file reads:
//
//   # what the flow shows
//   key crm leads:read,leads:write          API keys, made before the daemon starts
//   when crm POST /v1/leads {"email":"a@b.it"}
//   then 201
//     and /outcome is "created"            a JSON Pointer into the answer, and a JSON value
//     and /id is saved as lead             later lines may say $lead
//     and /consent is absent
//     and header Location is "/v1/leads/$lead"
//   when clock advances 3600 seconds       (the daemon runs with testing.clock_control)
//
// `when anonymous ...` sends no key. Each `then` checks the answer of the `when` before it.

#include <Poco/DirectoryIterator.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "integration/fixture.h"

namespace ciclo::testing {
namespace {

std::vector<std::string> scenarioFiles() {
  std::vector<std::string> files;
  for (Poco::DirectoryIterator it{std::string(CICLO_SCENARIO_DIR)}, end; it != end; ++it) {
    if (it.path().getExtension() == "scenario") files.push_back(it.path().getFileName());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string trimmed(const std::string& s) {
  const auto a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r") - a + 1);
}

// Any JSON value (Poco's parser takes only objects and arrays at the top).
Poco::Dynamic::Var parseValue(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse("[" + text + "]").extract<Poco::JSON::Array::Ptr>()->get(0);
}

std::string stringify(const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return "null";
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(v, out);
  return out.str();
}

// The value at a JSON Pointer, or nullopt when there is none.
std::optional<Poco::Dynamic::Var> at(const Poco::Dynamic::Var& root, const std::string& pointer) {
  Poco::Dynamic::Var v = root;
  std::size_t start = 1;
  if (pointer == "/" || pointer.empty()) return v;
  while (start <= pointer.size()) {
    auto slash = pointer.find('/', start);
    if (slash == std::string::npos) slash = pointer.size();
    const std::string token = pointer.substr(start, slash - start);
    if (v.type() == typeid(Poco::JSON::Object::Ptr)) {
      auto o = v.extract<Poco::JSON::Object::Ptr>();
      if (!o->has(token)) return std::nullopt;
      v = o->get(token);
    } else if (v.type() == typeid(Poco::JSON::Array::Ptr)) {
      auto a = v.extract<Poco::JSON::Array::Ptr>();
      if (token.empty() || !std::all_of(token.begin(), token.end(), ::isdigit)) return std::nullopt;
      const auto i = std::stoul(token);
      if (i >= a->size()) return std::nullopt;
      v = a->get(i);
    } else {
      return std::nullopt;
    }
    start = slash + 1;
  }
  return v;
}

class Scenarios : public ::testing::TestWithParam<std::tuple<std::string, TestBackend>> {};

TEST_P(Scenarios, Run) {
  const auto& [file, backend] = GetParam();
  if (backend == TestBackend::kPostgres && !std::getenv("CICLO_TEST_PG_URL_FILE")) {
    GTEST_SKIP() << "no PostgreSQL test cluster (run through ctest)";
  }
  std::ifstream in(std::string(CICLO_SCENARIO_DIR) + "/" + file);
  ASSERT_TRUE(in) << file;
  std::vector<std::pair<int, std::string>> lines;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    line = trimmed(line);
    if (!line.empty() && line[0] != '#') lines.emplace_back(n, line);
  }

  DaemonOptions options;
  options.store_url = freshDatabaseUrl(backend);
  options.clock_control = true;
  Daemon daemon(options);
  std::map<std::string, std::string> keys, vars;
  keys["ops"] = daemon.createKey("admin", "ops");
  for (const auto& [n, l] : lines) {
    if (l.starts_with("key ")) {
      std::istringstream words(l.substr(4));
      std::string name, scopes;
      words >> name >> scopes;
      keys[name] = daemon.createKey(scopes, name);
      ASSERT_TRUE(keys[name].starts_with("key_")) << file << ":" << n << ": " << keys[name];
    }
  }
  ASSERT_TRUE(daemon.start()) << daemon.log();

  auto expand = [&](std::string s) {
    for (const auto& [name, value] : vars) {
      for (auto pos = s.find("$" + name); pos != std::string::npos;
           pos = s.find("$" + name, pos + value.size())) {
        s.replace(pos, name.size() + 1, value);
      }
    }
    return s;
  };
  HttpResult last;
  Poco::Dynamic::Var body;
  static const std::regex kWhen(R"(when (\S+) (GET|POST|PATCH|PUT|DELETE) (\S+)\s*(.*))");
  static const std::regex kClock(R"(when clock advances (\d+) seconds)");
  static const std::regex kThen(R"(then (\d{3}))");
  static const std::regex kIs(R"(and (/\S*) is (.+))");
  static const std::regex kSaved(R"(and (/\S*) is saved as (\w+))");
  static const std::regex kAbsent(R"(and (/\S*) is absent)");
  static const std::regex kHeader(R"(and header (\S+) is (.+))");
  for (const auto& [n, raw] : lines) {
    const std::string where = file + ":" + std::to_string(n) + ": " + raw;
    SCOPED_TRACE(where);
    const std::string l = expand(raw);
    std::smatch m;
    if (l.starts_with("key ")) continue;
    if (std::regex_match(l, m, kClock)) {
      auto r = daemon.advanceClock(keys["ops"], std::stoll(m[1].str()));
      ASSERT_EQ(r.status, 200) << r.body;
    } else if (std::regex_match(l, m, kWhen)) {
      const std::string actor = m[1];
      ASSERT_TRUE(actor == "anonymous" || keys.contains(actor)) << "unknown key " << actor;
      std::vector<std::pair<std::string, std::string>> headers;
      if (actor != "anonymous") headers.emplace_back("Authorization", "Bearer " + keys[actor]);
      last = daemon.request(m[2], m[3], m[4], headers);
      body = Poco::Dynamic::Var();
      try {
        Poco::JSON::Parser parser;
        body = parser.parse(last.body);
      } catch (const Poco::Exception&) {
      }
    } else if (std::regex_match(l, m, kThen)) {
      ASSERT_EQ(last.status, std::stoi(m[1])) << last.body.substr(0, 500);
    } else if (std::regex_match(l, m, kSaved)) {
      auto v = at(body, m[1]);
      ASSERT_TRUE(v.has_value()) << "no " << m[1] << " in " << last.body.substr(0, 500);
      vars[m[2]] = v->isString() ? v->extract<std::string>() : stringify(*v);
    } else if (std::regex_match(l, m, kAbsent)) {
      auto v = at(body, m[1]);
      EXPECT_TRUE(!v || v->isEmpty()) << m[1] << " is " << (v ? stringify(*v) : "");
    } else if (std::regex_match(l, m, kHeader)) {
      std::string name = m[1];
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      EXPECT_EQ(last.header(name), parseValue(m[2].str()).convert<std::string>());
    } else if (std::regex_match(l, m, kIs)) {
      auto v = at(body, m[1]);
      ASSERT_TRUE(v.has_value()) << "no " << m[1] << " in " << last.body.substr(0, 500);
      EXPECT_EQ(stringify(*v), stringify(parseValue(m[2].str())));
    } else {
      FAIL() << "cannot read this line";
    }
  }
  EXPECT_EQ(daemon.stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Files, Scenarios,
                         ::testing::Combine(::testing::ValuesIn(scenarioFiles()),
                                            ::testing::Values(TestBackend::kSqlite,
                                                              TestBackend::kPostgres)),
                         [](const auto& p) {
                           std::string name = std::get<0>(p.param);
                           name = name.substr(0, name.find('.'));
                           for (auto& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name + "_" + backendName(std::get<1>(p.param));
                         });

}  // namespace
}  // namespace ciclo::testing
