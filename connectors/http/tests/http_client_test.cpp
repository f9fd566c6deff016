#include "http/http_client.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace ciclo::connectors {
namespace {

std::atomic<int> hits{0};
std::atomic<int> flaky{0};
std::string proxied;  // the request line the peer got as a proxy

// A local peer: /ok answers 200 with the request body, /redirect 302, /big 1 MB,
// /slow sleeps longer than the client waits, /flaky answers 503 twice then 200,
// /limited 429 with Retry-After: 1. A request for an absolute URI is answered as a proxy.
class Peer : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& req,
                     Poco::Net::HTTPServerResponse& resp) override {
    ++hits;
    std::string body;
    Poco::StreamCopier::copyToString(req.stream(), body);
    if (req.getURI().starts_with("http://")) {
      proxied = req.getMethod() + " " + req.getURI() + " Host: " + req.getHost();
      resp.setContentType("text/plain");
      resp.send() << "via proxy";
      return;
    }
    if (req.getURI() == "/flaky" && ++flaky <= 2) {
      resp.setStatus(Poco::Net::HTTPResponse::HTTP_SERVICE_UNAVAILABLE);
      resp.send() << "busy";
      return;
    }
    if (req.getURI() == "/limited") {
      resp.setStatus(Poco::Net::HTTPResponse::HTTP_TOO_MANY_REQUESTS);
      resp.set("Retry-After", "1");
      resp.setContentType("application/json");
      resp.send() << "{\"status\":429}";
      return;
    }
    if (req.getURI() == "/redirect") {
      resp.redirect("http://127.0.0.1:1/elsewhere");
      return;
    }
    if (req.getURI() == "/slow") std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const std::string out = req.getURI() == "/big" ? std::string(1 << 20, 'x') : "echo:" + body;
    resp.setContentType("text/plain");
    resp.sendBuffer(out.data(), out.size());
  }
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Peer;
  }
};

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Poco::Net::ServerSocket socket;
    socket.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
    socket.listen();
    port_ = socket.address().port();
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory, socket,
                                                      new Poco::Net::HTTPServerParams);
    server_->start();
  }
  void TearDown() override {
    server_->stop();
    // Handlers still running (the slow one) finish before the process may exit.
    Poco::ThreadPool::defaultPool().joinAll();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  int port_ = 0;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

TEST_F(HttpClientTest, RefusesLoopbackUnlessAllowedAndSendsNothing) {
  hits = 0;
  HttpClient guarded;
  HttpRequest req;
  req.url = url("/ok");
  auto out = guarded.send(req);
  EXPECT_EQ(out.kind, HttpOutcome::Kind::kPermanent);
  EXPECT_NE(out.error.find("127.0.0.1"), std::string::npos);
  req.url =
      "http://localhost:" + std::to_string(port_) + "/ok";  // a name that resolves to loopback
  EXPECT_EQ(guarded.send(req).kind, HttpOutcome::Kind::kPermanent);
  EXPECT_EQ(hits, 0);
}

TEST_F(HttpClientTest, DeliversAndReportsTheResponse) {
  HttpClient client({true, "Ciclo-test"});
  HttpRequest req;
  req.url = url("/ok");
  req.body = "{\"a\":1}";
  auto out = client.send(req);
  ASSERT_EQ(out.kind, HttpOutcome::Kind::kResponse) << out.error;
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.body, "echo:{\"a\":1}");
  EXPECT_EQ(out.connected_ip, "127.0.0.1");
}

TEST_F(HttpClientTest, NeverFollowsRedirects) {
  HttpClient client({true, "Ciclo-test"});
  HttpRequest req;
  req.url = url("/redirect");
  auto out = client.send(req);
  ASSERT_EQ(out.kind, HttpOutcome::Kind::kResponse);
  EXPECT_EQ(out.status, 302);
}

TEST_F(HttpClientTest, CapsTheResponseSize) {
  HttpClient client({true, "Ciclo-test"});
  HttpRequest req;
  req.url = url("/big");
  req.max_response_bytes = 1000;
  auto out = client.send(req);
  ASSERT_EQ(out.kind, HttpOutcome::Kind::kResponse) << out.error;
  EXPECT_EQ(out.body.size(), 1000u);
}

TEST_F(HttpClientTest, TimeoutsAndRefusedConnectionsAreRetryable) {
  HttpClient client({true, "Ciclo-test"});
  HttpRequest slow;
  slow.url = url("/slow");
  slow.total_timeout = std::chrono::milliseconds(300);
  EXPECT_EQ(client.send(slow).kind, HttpOutcome::Kind::kRetry);
  HttpRequest refused;
  refused.url = "http://127.0.0.1:1/";
  EXPECT_EQ(client.send(refused).kind, HttpOutcome::Kind::kRetry);
}

TEST_F(HttpClientTest, OtherSchemesArePermanentFailures) {
  HttpClient client({true, "Ciclo-test"});
  for (const char* u :
       {"ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/", "not a url"}) {
    HttpRequest req;
    req.url = u;
    EXPECT_EQ(client.send(req).kind, HttpOutcome::Kind::kPermanent) << u;
  }
}

TEST_F(HttpClientTest, RetriesTransientFailuresWithBackoff) {
  HttpClient client({true, "Ciclo-test"});
  HttpRequest req;
  req.method = "GET";
  req.url = url("/flaky");
  req.retry_base = std::chrono::milliseconds(20);
  flaky = 0;
  auto once = client.send(req);  // one attempt: the 503 is the answer
  EXPECT_EQ(once.status, 503);
  EXPECT_EQ(once.attempts, 1);
  flaky = 0;
  req.attempts = 4;
  auto out = client.send(req);
  ASSERT_EQ(out.kind, HttpOutcome::Kind::kResponse) << out.error;
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.attempts, 3);
  EXPECT_EQ(flaky, 3);
  HttpRequest refused;  // a refused connection is tried as many times as allowed
  refused.url = "http://127.0.0.1:1/";
  refused.attempts = 3;
  refused.retry_base = std::chrono::milliseconds(1);
  auto failed = client.send(refused);
  EXPECT_EQ(failed.kind, HttpOutcome::Kind::kRetry);
  EXPECT_EQ(failed.attempts, 3);
}

TEST_F(HttpClientTest, HonoursRetryAfterOnlyWithinTheWaitItMay) {
  HttpClient client({true, "Ciclo-test"});
  HttpRequest req;
  req.method = "GET";
  req.url = url("/limited");
  req.attempts = 2;
  req.max_retry_wait = std::chrono::milliseconds(0);  // the caller plans a later try itself
  hits = 0;
  auto out = client.send(req);
  EXPECT_EQ(out.status, 429);
  EXPECT_EQ(out.attempts, 1);
  EXPECT_EQ(out.header("retry-after"), "1");
  EXPECT_EQ(out.header("Content-Type"), "application/json");
  req.max_retry_wait = std::chrono::milliseconds(5000);
  const auto start = std::chrono::steady_clock::now();
  out = client.send(req);
  EXPECT_EQ(out.attempts, 2);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  EXPECT_EQ(hits, 3);
}

TEST_F(HttpClientTest, TheAllowListRefusesOtherHostsBeforeConnecting) {
  HttpClient client({true, "Ciclo-test"});
  HttpRequest req;
  req.method = "GET";
  req.allowed_hosts = {"api.linkedin.com", "*.example.org"};
  hits = 0;
  for (const char* u : {"http://127.0.0.1:9/x", "http://linkedin.com/x", "http://example.org/",
                        "http://evil.com/?h=api.linkedin.com", "http://api.linkedin.com.evil.com/",
                        "http://api.linkedin.com@127.0.0.1/"}) {
    req.url = u;
    const auto out = client.send(req);
    EXPECT_EQ(out.kind, HttpOutcome::Kind::kPermanent) << u;
    EXPECT_NE(out.error.find("allow-list"), std::string::npos) << u << ": " << out.error;
  }
  req.allowed_hosts = {"127.0.0.1"};
  req.url = url("/ok");
  EXPECT_EQ(client.send(req).status, 200);
  EXPECT_EQ(hits, 1);
  EXPECT_TRUE(isAllowedHost("API.LinkedIn.com", {"api.linkedin.com"}));
  EXPECT_TRUE(isAllowedHost("a.b.example.org", {"*.example.org"}));
  EXPECT_FALSE(isAllowedHost("example.org", {"*.example.org"}));
  EXPECT_FALSE(isAllowedHost("badexample.org", {"*.example.org"}));
}

TEST_F(HttpClientTest, GoesThroughTheConfiguredProxyAndOnlyToAllowedHosts) {
  HttpClient guarded;  // the proxy is on loopback: the operator chose it, so it is reached
  HttpRequest req;
  req.method = "GET";
  req.url = "http://api.linkedin.test/rest/organizations?q=vanityName&vanityName=acme";
  req.proxy = url("");
  auto refused = guarded.send(req);  // a proxied request must name its hosts
  EXPECT_EQ(refused.kind, HttpOutcome::Kind::kPermanent);
  req.allowed_hosts = {"api.linkedin.test"};
  proxied.clear();
  auto out = guarded.send(req);
  ASSERT_EQ(out.kind, HttpOutcome::Kind::kResponse) << out.error;
  EXPECT_EQ(out.body, "via proxy");
  EXPECT_EQ(proxied,
            "GET http://api.linkedin.test/rest/organizations?q=vanityName&vanityName=acme Host: "
            "api.linkedin.test");
  setenv("http_proxy", url("").c_str(), 1);  // without a proxy set, the environment's is ignored
  HttpRequest direct;
  direct.method = "GET";
  direct.url = "http://api.linkedin.test/";
  EXPECT_EQ(HttpClient({true, "Ciclo-test"}).send(direct).kind, HttpOutcome::Kind::kRetry);
  unsetenv("http_proxy");
}

TEST(RetryAfter, ReadsSecondsAndHttpDates) {
  const auto now = std::chrono::system_clock::from_time_t(1'700'000'000);  // 2023-11-14 22:13:20
  EXPECT_EQ(parseRetryAfter("120", now), std::chrono::seconds(120));
  EXPECT_EQ(parseRetryAfter("0", now), std::chrono::seconds(0));
  EXPECT_EQ(parseRetryAfter("Tue, 14 Nov 2023 22:15:20 GMT", now), std::chrono::seconds(120));
  EXPECT_EQ(parseRetryAfter("Tue, 14 Nov 2023 22:00:00 GMT", now), std::chrono::seconds(0));
  EXPECT_EQ(parseRetryAfter("", now), std::nullopt);
  EXPECT_EQ(parseRetryAfter("soon", now), std::nullopt);
  EXPECT_EQ(parseRetryAfter("-5", now), std::nullopt);
  EXPECT_EQ(parseRetryAfter("99999999999999999999", now), std::chrono::seconds(999'999'999));
}

TEST(ForbiddenAddresses, CoverPrivateAndSpecialRanges) {
  for (const char* a : {"127.0.0.1",       "10.1.2.3",        "172.16.0.1",  "172.31.255.255",
                        "192.168.1.1",     "169.254.169.254", "100.64.0.1",  "0.0.0.0",
                        "224.0.0.1",       "255.255.255.255", "::1",         "::",
                        "fe80::1",         "fd00::1",         "fc00::1",     "::ffff:127.0.0.1",
                        "::ffff:10.0.0.1", "ff02::1",         "2001:db8::1", "2002:a00:1::",
                        "64:ff9b::a00:1",  "not-an-ip"}) {
    EXPECT_TRUE(isForbiddenAddress(a)) << a;
  }
  for (const char* a : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "192.169.0.1",
                        "2a00:1450:4001:81b::200e", "::ffff:8.8.8.8"}) {
    EXPECT_FALSE(isForbiddenAddress(a)) << a;
  }
}

}  // namespace
}  // namespace ciclo::connectors
