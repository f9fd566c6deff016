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

// A local peer: /ok answers 200 with the request body, /redirect 302, /big 1 MB,
// /slow sleeps longer than the client waits.
class Peer : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& req,
                     Poco::Net::HTTPServerResponse& resp) override {
    ++hits;
    std::string body;
    Poco::StreamCopier::copyToString(req.stream(), body);
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
