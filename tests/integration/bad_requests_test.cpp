// A table of bad requests: each gets the right 4xx as problem+json with a request id, never
// a 5xx, and the database is exactly as it was.

#include "fixture.h"

namespace ciclo::testing {
namespace {

struct Bad {
  const char* name;
  std::string method;
  std::string path;
  std::string body;
  int status;
  std::string contentType = "application/json";
  std::string auth = "writer";  // writer, reader, revoked, none, or a literal header value
  std::vector<std::pair<std::string, std::string>> headers = {};
};

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::string customFields(int n) {
  std::string out = "{";
  for (int i = 0; i < n; ++i)
    out += (i ? "," : "") + std::string("\"f") + std::to_string(i) + "\":\"v\"";
  return out + "}";
}

class BadRequests : public DaemonTest {};

TEST_P(BadRequests, AreRefusedWithProblemsAndChangeNothing) {
  auto created =
      post("/v1/leads", R"({"email":"exists@example.it"})", {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(created.status, 201);
  const std::string lead = json(created.body)->getValue<std::string>("id");
  const std::string revoked = daemon_->createKey("leads:read,leads:write", "old");
  ASSERT_EQ(daemon_->runCli({"apikey", "revoke", revoked.substr(0, revoked.find('.'))}), 0);
  const std::string wrongSecret =
      writer_.substr(0, writer_.find('.') + 1) + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

  const std::string L = "/v1/leads";
  const std::string one = L + "/" + lead;
  const std::vector<Bad> table{
      {"truncated json", "POST", L, R"({"email":"a@b.it")", 400},
      {"malformed json", "POST", L, R"({"email":})", 400},
      {"empty body", "POST", L, "", 400},
      {"array body", "POST", L, "[]", 400},
      {"string body", "POST", L, "\"lead\"", 400},
      {"null body", "POST", L, "null", 400},
      {"invalid utf-8", "POST", L, "{\"email\":\"a@b.it\",\"first_name\":\"\xC3\x28\"}", 400},
      {"nul byte", "POST", L,
       [] {
         const char bytes[] = "{\"email\":\"a@b.it\",\"first_name\":\"A\0B\"}";
         return std::string(bytes, sizeof bytes - 1);
       }(),
       400},
      {"deep json", "POST", L, "{\"custom\":" + repeat("[", 1000) + repeat("]", 1000) + "}", 400},
      {"trailing garbage", "POST", L, R"({"email":"a@b.it"} x)", 400},
      {"a member twice", "POST", L, R"({"email":"a@b.it","email":"c@d.it"})", 400},
      {"a nested member twice", "POST", L,
       R"({"email":"a@b.it","utm":{"source":"x","source":"y"}})", 400},
      {"email is a number", "POST", L, R"({"email":42})", 422},
      {"invalid email", "POST", L, R"({"email":"anna at example"})", 422},
      {"invalid phone", "POST", L, R"({"phone":"12"})", 422},
      {"unknown field", "POST", L, R"({"email":"a@b.it","favourite_colour":"red"})", 422},
      {"number 1e999", "POST", L, R"({"email":"a@b.it","employees":1e999})", 400},
      {"number 1e300", "POST", L, R"({"email":"a@b.it","employees":1e300})", 422},
      {"negative employees", "POST", L, R"({"email":"a@b.it","employees":-1})", 422},
      {"employees as text", "POST", L, R"({"email":"a@b.it","employees":"ten"})", 422},
      {"fractional employees", "POST", L, R"({"email":"a@b.it","employees":1.5})", 422},
      {"employees is boolean", "POST", L, R"({"email":"a@b.it","employees":true})", 422},
      {"country not a code", "POST", L, R"({"email":"a@b.it","country":"Italy"})", 422},
      {"unknown source", "POST", L, R"({"email":"a@b.it","source":"fax"})", 422},
      {"no email nor phone", "POST", L, R"({"first_name":"Anna"})", 422},
      {"oversized email", "POST", L, "{\"email\":\"" + std::string(400, 'a') + "@b.it\"}", 422},
      {"oversized name", "POST", L,
       "{\"email\":\"a@b.it\",\"first_name\":\"" + std::string(10000, 'x') + "\"}", 422},
      {"crlf in name", "POST", L, R"({"email":"a@b.it","first_name":"A\r\nBcc: x@y.z"})", 422},
      {"unknown currency", "POST", L,
       R"({"email":"a@b.it","annual_revenue":{"amount":"10","currency":"XXX"}})", 422},
      {"comma amount", "POST", L,
       R"({"email":"a@b.it","annual_revenue":{"amount":"1,5","currency":"EUR"}})", 422},
      {"amount without currency", "POST", L,
       R"({"email":"a@b.it","annual_revenue":{"amount":"10"}})", 422},
      {"negative revenue", "POST", L,
       R"({"email":"a@b.it","annual_revenue":{"amount":"-10","currency":"EUR"}})", 422},
      {"consent without text", "POST", L, R"({"email":"a@b.it","consent":{"granted":true}})", 422},
      {"consent as string", "POST", L,
       R"({"email":"a@b.it","consent":{"granted":"yes","text":"t"}})", 422},
      {"utm unknown key", "POST", L, R"({"email":"a@b.it","utm":{"campaign":"x","gclid":"y"}})",
       422},
      {"utm not an object", "POST", L, R"({"email":"a@b.it","utm":"x"})", 422},
      {"too many custom fields", "POST", L,
       "{\"email\":\"a@b.it\",\"custom\":" + customFields(51) + "}", 422},
      {"bad custom key", "POST", L, R"({"email":"a@b.it","custom":{"Bad Key!":"v"}})", 422},
      {"custom value number", "POST", L, R"({"email":"a@b.it","custom":{"budget":5}})", 422},
      {"sql in email", "POST", L, R"({"email":"a'; DROP TABLE leads;--@x.it"})", 422},
      {"script in email", "POST", L, R"({"email":"<script>alert(1)</script>@x.it"})", 422},
      {"body over daemon limit", "POST", L, "{\"needs\":\"" + std::string(2 << 20, 'x') + "\"}",
       413},
      {"body over route limit", "POST", L, "{\"needs\":\"" + std::string(100 * 1024, 'x') + "\"}",
       413},
      {"text/plain body", "POST", L, R"({"email":"a@b.it"})", 415, "text/plain"},
      {"form body", "POST", L, "email=a%40b.it", 415, "application/x-www-form-urlencoded"},
      {"no content type", "POST", L, R"({"email":"a@b.it"})", 415, ""},
      {"no key", "POST", L, R"({"email":"a@b.it"})", 401, "application/json", "none"},
      {"garbage key", "GET", L, "", 401, "", "Bearer garbage"},
      {"basic auth", "GET", L, "", 401, "", "Basic dXNlcjpwYXNz"},
      {"revoked key", "GET", L, "", 401, "", "Bearer " + revoked},
      {"wrong secret", "GET", L, "", 401, "", "Bearer " + wrongSecret},
      {"reader writes", "POST", L, R"({"email":"a@b.it"})", 403, "application/json", "reader"},
      {"path traversal", "GET", "/v1/leads/../../etc/passwd", "", 404},
      {"encoded dots", "GET", "/v1/leads/lead_%2e%2e%2f", "", 404},
      {"sql in id", "GET", "/v1/leads/lead_'%20OR%201=1--", "", 404},
      {"not an id", "GET", "/v1/leads/not-an-id", "", 404},
      {"unknown lead", "GET", "/v1/leads/lead_01JD3Q8X2M4V6N8R0T2W4Y6A8C", "", 404},
      {"unknown path", "GET", "/v1/nothing", "", 404},
      {"method not allowed", "DELETE", L, "", 405},
      {"bad cursor", "GET", L + "?cursor=abc", "", 422},
      {"limit zero", "GET", L + "?limit=0", "", 422},
      {"limit text", "GET", L + "?limit=abc", "", 422},
      {"limit huge", "GET", L + "?limit=100000", "", 422},
      {"unknown status", "GET", L + "?status=bogus", "", 422},
      {"bad timestamp", "GET", L + "?updated_after=yesterday", "", 422},
      {"unknown filter", "GET", L + "?colour=red", "", 422},
      {"duplicate parameter", "GET", L + "?status=new&status=working", "", 422},
      {"bad percent encoding", "GET", L + "?email=%ff", "", 422},
      {"unknown command", "POST", one + "/commands", R"({"command":"promote"})", 422},
      {"missing command", "POST", one + "/commands", R"({})", 422},
      {"reason without disqualify", "POST", one + "/commands",
       R"({"command":"start_work","reason":"no_fit"})", 422},
      {"unknown reason", "POST", one + "/commands", R"({"command":"disqualify","reason":"bored"})",
       422},
      {"illegal transition", "POST", one + "/commands", R"({"command":"reactivate"})", 409},
      {"command on unknown lead", "POST", L + "/lead_01JD3Q8X2M4V6N8R0T2W4Y6A8C/commands",
       R"({"command":"qualify"})", 404},
      {"merge into itself", "POST", one + "/merge", "{\"duplicate_id\":\"" + lead + "\"}", 422},
      {"merge without duplicate", "POST", one + "/merge", R"({})", 422},
      {"merge unknown duplicate", "POST", one + "/merge",
       R"({"duplicate_id":"lead_01JD3Q8X2M4V6N8R0T2W4Y6A8C"})", 422},
      {"empty patch", "PATCH", one, R"({})", 422},
      {"stale version", "PATCH", one, R"({"city":"Roma","version":7})", 409},
      {"patch clears identity", "PATCH", one, R"({"email":null})", 422},
      {"idempotency key reused",
       "POST",
       L,
       R"({"email":"other@example.it"})",
       422,
       "application/json",
       "writer",
       {{"Idempotency-Key", "k-1"}}},
      {"idempotency key too long",
       "POST",
       L,
       R"({"email":"x@example.it"})",
       422,
       "application/json",
       "writer",
       {{"Idempotency-Key", std::string(300, 'k')}}},
      {"account without name", "POST", "/v1/accounts", R"({"domain":"example.it"})", 422},
      {"account free-mail domain", "POST", "/v1/accounts", R"({"name":"X","domain":"gmail.com"})",
       422},
      {"contact unknown account", "POST", "/v1/contacts",
       R"({"account_id":"acct_01JD3Q8X2M4V6N8R0T2W4Y6A8C","email":"q@x.it"})", 422},
      {"contact bad account id", "POST", "/v1/contacts",
       R"({"account_id":"../x","email":"q@x.it"})", 422},
      {"unknown account", "GET", "/v1/accounts/acct_01JD3Q8X2M4V6N8R0T2W4Y6A8C", "", 404},
  };
  ASSERT_GE(table.size(), 60u);

  const std::string before = recordsDump();
  for (const auto& bad : table) {
    SCOPED_TRACE(bad.name);
    auto headers = bad.headers;
    if (bad.auth == "writer")
      headers.emplace_back("Authorization", "Bearer " + writer_);
    else if (bad.auth == "reader")
      headers.emplace_back("Authorization", "Bearer " + reader_);
    else if (bad.auth != "none")
      headers.emplace_back("Authorization", bad.auth);
    auto r = daemon_->request(bad.method, bad.path, bad.body, headers, bad.contentType);
    EXPECT_EQ(r.status, bad.status) << r.body.substr(0, 300);
    EXPECT_EQ(r.header("content-type"), "application/problem+json");
    EXPECT_FALSE(r.header("x-request-id").empty());
    auto problem = json(r.body);
    EXPECT_EQ(problem->getValue<int>("status"), bad.status);
    EXPECT_TRUE(problem->getValue<std::string>("type").starts_with("/problems/"));
    EXPECT_FALSE(problem->getValue<std::string>("title").empty());
    EXPECT_FALSE(problem->getValue<std::string>("detail").empty());
    if (bad.status == 422) {
      EXPECT_TRUE(problem->has("errors") || r.body.find("idempotency") != std::string::npos);
    }
  }
  EXPECT_EQ(recordsDump(), before) << "a refused request changes nothing";
  EXPECT_EQ(daemon_->request("GET", "/healthz").status, 200);
}

TEST_P(BadRequests, MalformedHttpIsAnsweredAsProblemJson) {
  const std::vector<std::pair<std::string, std::string>> raw{
      {"garbage request line", "GARBAGE\r\n\r\n"},
      {"bad version", "GET / HTTP/9.9\r\n\r\n"},
      {"header without colon", "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n"},
      {"space before colon", "GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n"},
      {"length and chunked",
       "POST /v1/leads HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n"},
      {"header too large",
       "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(100000, 'a') + "\r\n\r\n"},
      {"too many headers", "GET /healthz HTTP/1.1\r\n" + repeat("X-A: b\r\n", 200) + "\r\n"},
      {"bad chunk size", "POST /v1/leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + writer_ +
                             "\r\nContent-Type: application/json\r\nTransfer-Encoding: "
                             "chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"},
  };
  const std::string before = recordsDump();
  for (const auto& [name, bytes] : raw) {
    SCOPED_TRACE(name);
    const std::string reply = rawExchange(daemon_->port(), bytes);
    ASSERT_TRUE(reply.starts_with("HTTP/1.")) << reply.substr(0, 200);
    const int status = std::stoi(reply.substr(9, 3));
    EXPECT_GE(status, 400);
    EXPECT_LT(status, 500) << reply.substr(0, 300);
    EXPECT_NE(reply.find("application/problem+json"), std::string::npos) << reply.substr(0, 300);
    EXPECT_NE(reply.find("X-Request-Id"), std::string::npos);
  }
  EXPECT_EQ(recordsDump(), before);
}

CICLO_ON_BOTH_BACKENDS(BadRequests);

}  // namespace
}  // namespace ciclo::testing
