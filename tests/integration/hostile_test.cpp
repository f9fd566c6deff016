// What the open internet sends the capture plugins, as catalogues: each hostile input gets a
// clear 4xx problem (or, for a bot, the answer a bot is given) - never a 5xx - and afterwards
// the store is exactly as it was. Referral items that are hostile are rejected one by one
// inside a batch that is answered 200; they too leave no lead, timeline entry or event.

#include <Poco/JSON/Array.h>

#include "fixture.h"

namespace ciclo::testing {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kSite = "https://www.example.it";
constexpr const char* kForm = "application/x-www-form-urlencoded";

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

// A request and what it must get: `status`, a problem+json body unless `trap` (a bot's
// look-alike success) or `html` (a browser's error page, which must not carry `absent`).
struct Hostile {
  std::string name;
  std::string body;
  int status;
  std::string type = kForm;
  Headers headers = {{"Origin", kSite}};
  std::string path = "/v1/forms/demo/submissions";
  bool trap = false;
  std::string absent = {};
  std::string raw = {};  // bytes sent as they are, instead of the request above
};

class HostileInput : public DaemonTest {
 protected:
  DaemonOptions daemonOptions() override {
    DaemonOptions o;
    o.extra_yaml = std::string("plugins:\n  - name: webform\n    path: ") + CICLO_PLUGIN_DIR +
                   "/webform.so\n    required: true\n    config:\n" + R"(      forms:
        demo:
          fields: {nome: first_name}
          required: [email, first_name]
          allowed_origins: [https://www.example.it]
          thank_you_url: https://www.example.it/grazie
          error_url: https://www.example.it/errore
          honeypot: fax
          min_fill_seconds: 3
          rate_limit: {per_minute: 6000, burst: 1000}
          consent_text: Sì.
          custom_fields: [budget]
          max_custom_bytes: 20
        plain:
          allowed_origins: [https://www.example.it]
          rate_limit: {per_minute: 6000, burst: 1000}
          consent_text: Sì.
)" +
                   "  - name: referrals\n    path: " + CICLO_PLUGIN_DIR +
                   "/referrals.so\n    required: true\n    config:\n      partners:\n        "
                   "acme:\n          name: Acme\n          secrets: [" +
                   secret_ + "]\n";
    return o;
  }

  // The store's leads, timeline and events: what a refused or rejected input must not touch.
  std::string capturedDump() {
    return withoutRows(withoutRows(recordsDump(), "p_referrals_deliveries"), "p_referrals_feeds");
  }

  void check(const Hostile& h, const HttpResult& r) {
    SCOPED_TRACE(h.name);
    EXPECT_EQ(r.status, h.status) << r.body.substr(0, 300);
    EXPECT_LT(r.status, 500);
    if (h.trap || h.status == 303) return;
    if (!h.absent.empty()) {
      EXPECT_EQ(r.body.find(h.absent), std::string::npos) << r.body.substr(0, 500);
      return;
    }
    if (!h.raw.empty()) return;
    EXPECT_EQ(r.header("content-type"), "application/problem+json") << r.body.substr(0, 200);
    auto problem = json(r.body);
    EXPECT_EQ(problem->getValue<int>("status"), h.status);
    EXPECT_TRUE(problem->getValue<std::string>("type").starts_with("/problems/"));
    EXPECT_FALSE(problem->getValue<std::string>("detail").empty());
  }

  HttpResult signedPost(const std::string& route, const std::string& body, const std::string& id,
                        const std::string& type = "application/json", long long at = unixNow(),
                        const std::string& secret = {}) {
    auto signature =
        host::Crypto::standardWebhookSignature(secret.empty() ? secret_ : secret, id, at, body);
    return daemon_->request("POST", "/v1/partners/acme/" + route, body,
                            {{"webhook-id", id},
                             {"webhook-timestamp", std::to_string(at)},
                             {"webhook-signature", signature.value()}},
                            type);
  }

  const std::string secret_ = makeWebhookSecret();
};

TEST_P(HostileInput, FormSubmissionsAreRefusedOrTrappedAndChangeNothing) {
  const std::string ok = "email=a%40example.it&nome=Anna";
  const std::string multipart = "multipart/form-data; boundary=b";
  auto part = [](const std::string& name, const std::string& value, const std::string& extra = "") {
    return "--b\r\nContent-Disposition: form-data; name=\"" + name + "\"" + extra + "\r\n\r\n" +
           value + "\r\n";
  };
  std::string fields10k;
  for (int i = 0; i < 10000; ++i) fields10k += "f" + std::to_string(i) + "=1&";
  std::string parts300;
  for (int i = 0; i < 300; ++i) parts300 += part("f" + std::to_string(i), "1");
  const std::string submit =
      "POST /v1/forms/demo/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: " + std::string(kForm) +
      "\r\n";

  const std::vector<Hostile> catalogue{
      {"10 MB body, refused by its length",
       "",
       413,
       kForm,
       {},
       "",
       false,
       {},
       submit + "Origin: " + kSite +
           "\r\nContent-Length: 10485760\r\n\r\nemail=" + std::string(60000, 'a')},
      {"body over the form's limit", "email=a%40b.it&nome=" + std::string(70 * 1024, 'x'), 413},
      {"deep JSON", repeat("{\"a\":", 5000) + "1" + repeat("}", 5000), 400, "application/json"},
      {"JSON array", "[\"email\",\"a@b.it\"]", 400, "application/json"},
      {"JSON member twice", R"({"email":"a@example.it","nome":"A","email":"b@example.it"})", 400,
       "application/json"},
      {"JSON object as a value", R"({"email":{"$gt":""},"nome":"A"})", 422, "application/json"},
      {"JSON number out of range", R"({"email":"a@example.it","nome":1e999})", 400,
       "application/json"},
      {"JSON escaped NUL", R"({"email":"a@example.it","nome":"A\u0000B"})", 422,
       "application/json"},
      {"JSON lone surrogate", R"({"email":"a@example.it","nome":"\ud800"})", 400,
       "application/json"},
      {"invalid UTF-8", "email=a%40example.it&nome=%C3%28", 400},
      {"overlong UTF-8", "email=a%40example.it&nome=%C0%AF", 400},
      {"UTF-8 surrogate", "email=a%40example.it&nome=%ED%A0%80", 400},
      {"raw invalid UTF-8", "email=a%40example.it&nome=\xff\xfe", 400},
      {"percent-encoded NUL", "email=a%40example.it&nome=A%00B", 422},
      {"raw NUL byte", std::string("email=a%40example.it&nome=A\0B", 29), 422},
      {"CRLF in a name", "email=a%40example.it&nome=A%0D%0ABcc%3A%20x%40evil.example", 422},
      {"header injection in the email",
       "email=a%40example.it%0D%0ABcc%3A%20x%40evil.example&nome=A", 422},
      {"bare CR in the email", "email=a%40example.it%0D&nome=A", 422},
      {"10,000 fields", fields10k.substr(0, 60000), 400},
      {"201 fields", fields10k.substr(0, fields10k.find("f201=")), 400},
      {"the email twice", ok + "&email=b%40example.it", 422},
      {"the name twice, renamed and canonical", ok + "&first_name=B", 422},
      {"script tag in the email", "email=%3Cscript%3Ealert(1)%3C%2Fscript%3E%40x.it&nome=A", 422},
      {"formula in the email", "email=%3DHYPERLINK(%22http%3A%2F%2Fevil%22)&nome=A", 422},
      {"SQL in the email", "email=a'%3B%20DROP%20TABLE%20leads%3B--%40x.it&nome=A", 422},
      {"oversized email", "email=" + std::string(400, 'a') + "%40example.it&nome=A", 422},
      {"oversized name", "email=a%40example.it&nome=" + std::string(10000, 'x'), 422},
      {"oversized custom field", ok + "&budget=" + std::string(21, 'x'), 422},
      {"malformed percent-encoding", "email=%ZZ&nome=A", 400},
      {"truncated percent-encoding", "email=a%4", 400},
      {"text/plain body", ok, 415, "text/plain"},
      {"no content type", ok, 415, ""},
      {"JSON said, form sent", ok, 400, "application/json"},
      {"form said, JSON sent", R"({"email":"a@example.it","nome":"A"})", 422},
      {"XML body", "<lead><email>a@example.it</email></lead>", 415, "application/xml"},
      {"multipart without boundary", part("email", "a@example.it") + "--b--\r\n", 400,
       "multipart/form-data"},
      {"multipart with another boundary", part("email", "a@example.it") + "--b--\r\n", 400,
       "multipart/form-data; boundary=zz"},
      {"multipart truncated", part("email", "a@example.it") + "--b", 400, multipart},
      {"multipart with a file",
       part("email", "a@example.it") + part("nome", "A") +
           part("cv", "%PDF-1.4", "; filename=\"cv.pdf\"") + "--b--\r\n",
       422, multipart},
      {"multipart part of another type",
       "--b\r\nContent-Disposition: form-data; name=\"nome\"\r\nContent-Type: text/html\r\n\r\n"
       "<b>A</b>\r\n--b--\r\n",
       422, multipart},
      {"multipart part without a name",
       "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n", 400, multipart},
      {"300 multipart parts", parts300 + "--b--\r\n", 400, multipart},
      {"a disallowed origin", ok, 403, kForm, {{"Origin", "https://evil.example"}}},
      {"origin null", ok, 403, kForm, {{"Origin", "null"}}},
      {"the origin over http", ok, 403, kForm, {{"Origin", "http://www.example.it"}}},
      {"the origin with a path", ok, 403, kForm, {{"Origin", "https://www.example.it/"}}},
      {"a look-alike origin", ok, 403, kForm, {{"Origin", "https://www.example.it.evil.example"}}},
      {"no origin nor referer", ok, 403, kForm, {}},
      {"a disallowed referer", ok, 403, kForm, {{"Referer", "https://evil.example/landing"}}},
      {"an unknown form", ok, 404, kForm, {{"Origin", kSite}}, "/v1/forms/nope/submissions"},
      {"a form key with dots",
       ok,
       404,
       kForm,
       {{"Origin", kSite}},
       "/v1/forms/..%2F..%2Fetc/submissions"},
      {"submission id of 300 bytes", ok + "&submission_id=" + std::string(300, 's'), 422},
      {"idempotency key not ASCII",
       ok,
       422,
       kForm,
       {{"Origin", kSite}, {"Idempotency-Key", "chiav\xC3\xA8"}}},
      {"the honeypot filled",
       ok + "&fax=123",
       201,
       kForm,
       {{"Origin", kSite}},
       "/v1/forms/demo/submissions",
       true},
      {"a forged fill-time token",
       ok + "&ciclo_started=1.abc",
       201,
       kForm,
       {{"Origin", kSite}},
       "/v1/forms/demo/submissions",
       true},
      {"a browser's script in a value",
       "email=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
       422,
       kForm,
       {{"Origin", kSite}, {"Accept", "text/html"}},
       "/v1/forms/plain/submissions",
       false,
       "<script>alert(1)"},
      {"both Content-Length and Transfer-Encoding",
       "",
       400,
       kForm,
       {},
       "",
       false,
       {},
       submit + "Origin: " + kSite +
           "\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + ok},
      {"a transfer coding other than chunked",
       "",
       400,
       kForm,
       {},
       "",
       false,
       {},
       submit + "Origin: " + kSite + "\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
      // A folded line is refused (RFC 9112 section 5.2): a proxy may have read it as a field
      // of its own.
      {"a folded header line",
       "",
       400,
       kForm,
       {},
       "",
       false,
       {},
       submit + "Origin: " + kSite + "\r\n  evil: x\r\nContent-Length: 0\r\n\r\n"},
      {"a header name with a space",
       "",
       400,
       kForm,
       {},
       "",
       false,
       {},
       submit + "Origin : " + kSite + "\r\nContent-Length: 0\r\n\r\n"},
      {"two Content-Lengths",
       "",
       400,
       kForm,
       {},
       "",
       false,
       {},
       submit + "Origin: " + kSite + "\r\nContent-Length: 5\r\nContent-Length: 30\r\n\r\n" + ok},
  };
  ASSERT_GE(catalogue.size(), 40u);
  const std::string before = recordsDump();
  for (const auto& h : catalogue) {
    if (!h.raw.empty()) {
      const std::string answer = rawExchange(daemon_->port(), h.raw);
      HttpResult r;
      r.status = answer.size() > 12 ? std::stoi(answer.substr(9, 3)) : -1;
      r.body = answer;
      check(h, r);
      continue;
    }
    check(h, daemon_->request("POST", h.path, h.body, h.headers, h.type));
  }
  EXPECT_EQ(recordsDump(), before) << "a refused or trapped submission changes nothing";
  EXPECT_EQ(daemon_
                ->request("POST", "/v1/forms/plain/submissions", "email=ok%40example.it",
                          {{"Origin", kSite}}, kForm)
                .status,
            201)
      << "and the form still works";
}

TEST_P(HostileInput, PartnerRequestsAreRefusedAndHostileItemsRejectedChangingNothing) {
  const std::string one = R"({"referrals":[{"external_id":"R-1","email":"r1@example.it"}]})";
  const long long now = unixNow();
  auto good = host::Crypto::standardWebhookSignature(secret_, "m", now, one).value();
  auto headers = [&](const std::string& id, const std::string& ts, const std::string& sig) {
    return Headers{{"webhook-id", id}, {"webhook-timestamp", ts}, {"webhook-signature", sig}};
  };
  const std::string ts = std::to_string(now);
  const std::string referrals = "/v1/partners/acme/referrals";

  // Refused whole: the request, before or after its signature is checked.
  struct Refused {
    std::string name;
    std::string path;
    std::string body;
    Headers headers;
    int status;
    std::string type = "application/json";
  };
  std::string items1001 = R"({"referrals":[)";
  for (int i = 0; i < 1001; ++i)
    items1001 += (i ? "," : "") + std::string(R"({"external_id":"x"})");
  items1001 += "]}";
  auto sign = [&](const std::string& id, const std::string& body) {
    return headers(id, ts, host::Crypto::standardWebhookSignature(secret_, id, now, body).value());
  };
  const std::string deep = "{\"referrals\":" + repeat("[", 3000) + repeat("]", 3000) + "}";
  const std::string big =
      "{\"referrals\":[{\"external_id\":\"" + std::string(5 << 20, 'x') + "\"}]}";
  const std::vector<Refused> unsigned_{
      {"no signature headers", referrals, one, {}, 401},
      {"no webhook-id",
       referrals,
       one,
       {{"webhook-timestamp", ts}, {"webhook-signature", good}},
       401},
      {"no timestamp", referrals, one, {{"webhook-id", "m"}, {"webhook-signature", good}}, 401},
      {"no signature", referrals, one, {{"webhook-id", "m"}, {"webhook-timestamp", ts}}, 401},
      {"another id than signed", referrals, one, headers("m2", ts, good), 401},
      {"a tampered body", referrals, one.substr(0, one.size() - 2) + " ]}", headers("m", ts, good),
       401},
      {"a wrong secret", referrals, one,
       headers("m", ts,
               host::Crypto::standardWebhookSignature(makeWebhookSecret(), "m", now, one).value()),
       401},
      {"stale", referrals, one,
       headers("m", std::to_string(now - 400),
               host::Crypto::standardWebhookSignature(secret_, "m", now - 400, one).value()),
       401},
      {"from the future", referrals, one,
       headers("m", std::to_string(now + 400),
               host::Crypto::standardWebhookSignature(secret_, "m", now + 400, one).value()),
       401},
      {"timestamp in milliseconds", referrals, one, headers("m", ts + "000", good), 401},
      {"timestamp with a sign", referrals, one, headers("m", "+" + ts, good), 401},
      {"timestamp not a number", referrals, one, headers("m", "yesterday", good), 401},
      {"negative timestamp", referrals, one, headers("m", "-" + ts, good), 401},
      {"signature of another version", referrals, one, headers("m", ts, "v2," + good.substr(3)),
       401},
      {"empty v1 signature", referrals, one, headers("m", ts, "v1,"), 401},
      {"1000 wrong signatures", referrals, one, headers("m", ts, repeat("v1,AAAA ", 1000)), 401},
      {"signature not base64", referrals, one, headers("m", ts, "v1,!!!!"), 401},
      {"an unknown partner", "/v1/partners/nobody/referrals", one, headers("m", ts, good), 401},
      {"a partner key with dots", "/v1/partners/..%2Facme/referrals", one, headers("m", ts, good),
       401},
      {"a body over 4 MiB", referrals, big, sign("big", big), 413},
      {"not JSON", referrals, "referrals=1", sign("nj", "referrals=1"), 400},
      {"text/plain", referrals, one, sign("m", one), 415, "text/plain"},
      {"a feed as JSON", "/v1/partners/acme/feeds", one, sign("m", one), 415},
      {"deep JSON", referrals, deep, sign("deep", deep), 400},
      {"invalid UTF-8", referrals, "{\"referrals\":[{\"external_id\":\"\xC3\x28\"}]}",
       sign("utf", "{\"referrals\":[{\"external_id\":\"\xC3\x28\"}]}"), 400},
      {"a member twice", referrals, R"({"referrals":[],"referrals":[{"external_id":"x"}]})",
       sign("twice", R"({"referrals":[],"referrals":[{"external_id":"x"}]})"), 400},
      {"an empty batch", referrals, R"({"referrals":[]})", sign("e", R"({"referrals":[]})"), 422},
      {"1001 items", referrals, items1001, sign("many", items1001), 422},
      {"referrals not an array", referrals, R"({"referrals":"all"})",
       sign("na", R"({"referrals":"all"})"), 422},
  };

  // Rejected one by one, inside a batch answered 200.
  const std::vector<std::pair<std::string, std::string>> items{
      {"script tag in the email", R"({"external_id":"h1","email":"<script>x</script>@x.it"})"},
      {"formula in the email", R"j({"external_id":"h2","email":"=HYPERLINK(\"x\")"})j"},
      {"CRLF in a name",
       R"({"external_id":"h3","email":"h3@x.it","first_name":"A\r\nBcc: e@evil.example"})"},
      {"escaped NUL", R"({"external_id":"h4","email":"h4@x.it","last_name":"A\u0000B"})"},
      {"oversized email",
       "{\"external_id\":\"h5\",\"email\":\"" + std::string(400, 'e') + "@x.it\"}"},
      {"no external id", R"({"email":"h6@x.it"})"},
      {"an external id of 10 KB",
       "{\"external_id\":\"" + std::string(10000, 'i') + "\",\"email\":\"h7@x.it\"}"},
      {"an item that is a string", R"("h8@x.it")"},
      {"a number as the email", R"({"external_id":"h9","email":42})"},
      {"consent as text", R"({"external_id":"h10","email":"h10@x.it","consent_marketing":"yes"})"},
  };
  std::string batch = R"({"referrals":[)";
  for (std::size_t i = 0; i < items.size(); ++i) batch += (i ? "," : "") + items[i].second;
  batch += "]}";

  // A feed with hostile rows: each row rejected, the feed answered 200.
  const std::string feed =
      "external_id,email,first_name\r\n"
      "f1,=cmd|' /C calc'!A0,A\r\n"
      "f2,\"unclosed,B\r\n";
  ASSERT_GE(unsigned_.size() + items.size() + 1, 40u);

  const std::string before = capturedDump();
  for (const auto& r : unsigned_) {
    SCOPED_TRACE(r.name);
    auto answer = daemon_->request("POST", r.path, r.body, r.headers, r.type);
    EXPECT_EQ(answer.status, r.status) << answer.body.substr(0, 300);
    EXPECT_EQ(answer.header("content-type"), "application/problem+json");
    EXPECT_TRUE(json(answer.body)->getValue<std::string>("type").starts_with("/problems/"));
  }
  auto answered = signedPost("referrals", batch, "hostile-batch");
  ASSERT_EQ(answered.status, 200) << answered.body.substr(0, 500);
  auto results = json(answered.body)->getArray("results");
  ASSERT_EQ(results->size(), items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    SCOPED_TRACE(items[i].first);
    auto result = results->getObject(static_cast<unsigned>(i));
    EXPECT_EQ(result->getValue<std::string>("outcome"), "rejected");
    EXPECT_GT(result->getArray("errors")->size(), 0u);
  }
  auto fed = signedPost("feeds", feed, "hostile-feed", "text/csv");
  ASSERT_EQ(fed.status, 200) << fed.body;
  auto rows = json(fed.body)->getArray("results");
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows->getObject(0)->getValue<std::string>("outcome"), "rejected");
  EXPECT_EQ(rows->getObject(1)->getValue<std::string>("outcome"), "rejected");
  EXPECT_EQ(capturedDump(), before) << "no lead, timeline entry or event";
}

CICLO_ON_BOTH_BACKENDS(HostileInput);

}  // namespace
}  // namespace ciclo::testing
