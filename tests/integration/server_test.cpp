// The daemon as a process: ports, slow and idle clients, shutdown, crashes, bad configs.

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "fixture.h"

namespace ciclo::testing {
namespace {

TEST(Daemon, APortInUseIsAClearError) {
  Daemon first;
  ASSERT_TRUE(first.start()) << first.log();
  DaemonOptions options;
  Daemon second(options);
  // Point the second daemon at the first one's port.
  std::string out, err;
  const int rc = second.runCli({"--port", std::to_string(first.port())}, &out, &err);
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find("cannot listen on 127.0.0.1:" + std::to_string(first.port())),
            std::string::npos)
      << err;
  EXPECT_EQ(first.request("GET", "/healthz").status, 200);
  EXPECT_EQ(first.stop(), 0);
}

// Request lines are written in batches: each within its time, and every one kept at a stop.
TEST(Daemon, RequestLinesAreLoggedWithinTheirTimeAndNoneIsLostAtAStop) {
  Daemon d;
  ASSERT_TRUE(d.start()) << d.log();
  auto logged = [&](const std::string& id) {
    return d.log().find("\"request_id\":\"" + id + "\"") != std::string::npos;
  };
  EXPECT_EQ(d.request("GET", "/healthz", "", {{"X-Request-Id", "line-alone"}}).status, 200);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!logged("line-alone") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(logged("line-alone")) << "written once its time is up, with no request after it";
  for (int i = 0; i < 200; ++i)
    d.request("GET", "/healthz", "", {{"X-Request-Id", "line-" + std::to_string(i)}});
  EXPECT_EQ(d.stop(), 0);
  for (int i = 0; i < 200; ++i) EXPECT_TRUE(logged("line-" + std::to_string(i))) << i;
}

TEST(Daemon, BadConfigurationStopsTheStartNamingFileKeyAndReason) {
  DaemonOptions options;
  options.extra_yaml = "bogus: 1\n";
  Daemon d(options);
  std::string out, err;
  EXPECT_EQ(d.runCli({"--check-config"}, &out, &err), 78);
  EXPECT_NE(err.find("ciclo.yaml: bogus: is not a known setting"), std::string::npos) << err;
  EXPECT_FALSE(d.start());

  DaemonOptions missingEnv;
  missingEnv.server_yaml = "  max_body_bytes: ${CICLO_TEST_UNSET_VARIABLE}\n";
  Daemon e(missingEnv);
  EXPECT_EQ(e.runCli({"--check-config"}, &out, &err), 78);
  EXPECT_NE(
      err.find("server.max_body_bytes: environment variable CICLO_TEST_UNSET_VARIABLE is not set"),
      std::string::npos)
      << err;
}

TEST(Daemon, IdleAndSlowClientsNeverStopANewClientFromBeingServed) {
  DaemonOptions options;
  // A small pool, so that the idle connections below outnumber its threads.
  options.server_yaml = "  request_deadline_ms: 1000\n  keep_alive_timeout_ms: 60000\n";
  options.threads = 32;
  Daemon d(options);
  ASSERT_TRUE(d.start()) << d.log();

  // 64 keep-alive connections that made one request each and then stay idle.
  std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>> idle;
  for (int i = 0; i < 64; ++i) {
    auto s = std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1",
                                                            static_cast<Poco::UInt16>(d.port()));
    s->setKeepAlive(true);
    s->setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest req("GET", "/healthz", Poco::Net::HTTPMessage::HTTP_1_1);
    req.setKeepAlive(true);
    s->sendRequest(req);
    Poco::Net::HTTPResponse resp;
    std::string body;
    Poco::StreamCopier::copyToString(s->receiveResponse(resp), body);
    ASSERT_EQ(resp.getStatus(), 200);
    idle.push_back(std::move(s));
  }
  // Slowloris: 16 connections trickling a header byte by byte, never finishing it.
  std::atomic<bool> stop{false};
  std::atomic<int> cutOff{0};
  std::vector<std::thread> trickles;
  for (int i = 0; i < 16; ++i) {
    trickles.emplace_back([&] {
      Poco::Net::StreamSocket s;
      s.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(d.port())));
      try {
        s.sendBytes("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", 38);
        while (!stop) {
          s.sendBytes("a", 1);
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          s.setReceiveTimeout(Poco::Timespan(0, 1000));
          char c;
          try {
            if (s.receiveBytes(&c, 1) <= 0) break;  // the server closed it
          } catch (const Poco::TimeoutException&) {
          }
        }
      } catch (const Poco::Exception&) {
      }
      if (!stop) ++cutOff;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // A new client is served while all of the above hold their connections.
  for (int i = 0; i < 5; ++i) {
    auto r = d.request("GET", "/healthz");
    EXPECT_EQ(r.status, 200) << r.body;
  }
  // The slow senders are cut off once past the request deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (cutOff < 16 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(cutOff, 16) << "every slowloris connection is closed by the server";
  stop = true;
  for (auto& t : trickles) t.join();
  EXPECT_EQ(d.stop(), 0);
}

TEST(Daemon, AKeepAliveConnectionServesRequestsInTurnAndClosesWhenIdle) {
  DaemonOptions options;
  options.server_yaml = "  keep_alive_timeout_ms: 400\n";
  Daemon d(options);
  ASSERT_TRUE(d.start()) << d.log();
  Poco::Net::StreamSocket s;
  s.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(d.port())));
  s.setReceiveTimeout(Poco::Timespan(10, 0));
  // Two requests in one write: the second is already read into the session's buffer when the
  // first has been answered, and must be served from there.
  const std::string twice =
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n";
  s.sendBytes(twice.data(), static_cast<int>(twice.size()));
  std::string received;
  char buf[4096];
  auto answers = [&] {
    std::size_t n = 0;
    for (auto at = received.find("HTTP/1.1 200"); at != std::string::npos;
         at = received.find("HTTP/1.1 200", at + 1))
      ++n;
    return n;
  };
  while (answers() < 2 || received.find("\"ready\"") == std::string::npos) {
    const int n = s.receiveBytes(buf, sizeof buf);
    ASSERT_GT(n, 0) << "closed after " << received;
    received.append(buf, static_cast<std::size_t>(n));
  }
  // A third request on the same connection, then nothing: the server closes it once the
  // keep-alive timeout has passed, not before.
  const std::string again = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  s.sendBytes(again.data(), static_cast<int>(again.size()));
  received.clear();
  while (answers() < 1) {
    const int n = s.receiveBytes(buf, sizeof buf);
    ASSERT_GT(n, 0) << "closed before the third answer";
    received.append(buf, static_cast<std::size_t>(n));
  }
  const auto idleSince = std::chrono::steady_clock::now();
  EXPECT_EQ(s.receiveBytes(buf, sizeof buf), 0) << "the idle connection is closed";
  EXPECT_GE(std::chrono::steady_clock::now() - idleSince, std::chrono::milliseconds(300));
  EXPECT_EQ(d.stop(), 0);
}

TEST(Daemon, AtTheConnectionLimitTheLongestIdleConnectionMakesRoom) {
  DaemonOptions options;
  options.server_yaml = "  keep_alive_timeout_ms: 60000\n  max_connections: 16\n";
  Daemon d(options);
  ASSERT_TRUE(d.start()) << d.log();
  std::vector<std::unique_ptr<Poco::Net::StreamSocket>> idle;
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 40; ++i) {  // more than twice the limit
    auto s = std::make_unique<Poco::Net::StreamSocket>();
    s->connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(d.port())));
    s->setReceiveTimeout(Poco::Timespan(10, 0));
    s->sendBytes(request.data(), static_cast<int>(request.size()));
    char buf[1024];
    const int n = s->receiveBytes(buf, sizeof buf);
    ASSERT_GT(n, 12) << "connection " << i << " was not served";
    EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 200");
    idle.push_back(std::move(s));
  }
  // The first ones made room for the later ones: the server has closed them.
  char c;
  EXPECT_EQ(idle.front()->receiveBytes(&c, 1), 0);
  auto r = d.request("GET", "/healthz");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(d.stop(), 0);
}

// Creates leads from several threads until told to stop; remembers which got a 2xx.
class Writers {
 public:
  Writers(const Daemon& d, const std::string& key, int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([&, t] {
        for (int i = 0; !stop_; ++i) {
          const std::string email =
              "w" + std::to_string(t) + "-" + std::to_string(i) + "@example.it";
          auto r = d.call("POST", "/v1/leads", key, "{\"email\":\"" + email + "\"}");
          std::lock_guard lock(mutex_);
          if (r.status == 201) acknowledged_.insert(email);
          if (r.status >= 500) serverErrors_.push_back(r.status);
          if (r.status < 0) break;  // the daemon is gone
        }
      });
    }
  }
  void join() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  std::set<std::string> acknowledged() {
    std::lock_guard lock(mutex_);
    return acknowledged_;
  }
  std::vector<int> serverErrors() {
    std::lock_guard lock(mutex_);
    return serverErrors_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::set<std::string> acknowledged_;
  std::vector<int> serverErrors_;
  std::vector<std::thread> threads_;
};

class Lifecycle : public DaemonTest {};

void expectEachExactlyOnce(Daemon& d, const std::string& key, const std::set<std::string>& emails) {
  for (const auto& email : emails) {
    auto r = d.call("GET", "/v1/leads?email=" + email, key);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json(r.body)->getArray("data")->size(), 1u) << email;
  }
}

TEST_P(Lifecycle, SigtermFinishesInFlightRequestsAndExitsZero) {
  Writers writers(*daemon_, writer_, 6);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(daemon_->stop(), 0);
  writers.join();
  EXPECT_TRUE(writers.serverErrors().empty());
  const auto acknowledged = writers.acknowledged();
  EXPECT_GT(acknowledged.size(), 10u);
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  expectEachExactlyOnce(*daemon_, reader_, acknowledged);
}

TEST_P(Lifecycle, KillNineLosesNoAcknowledgedLead) {
  Writers writers(*daemon_, writer_, 8);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  daemon_->kill();
  writers.join();
  const auto acknowledged = writers.acknowledged();
  EXPECT_GT(acknowledged.size(), 10u);
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  expectEachExactlyOnce(*daemon_, reader_, acknowledged);
}

CICLO_ON_BOTH_BACKENDS(Lifecycle);

}  // namespace
}  // namespace ciclo::testing

namespace ciclo::testing {
namespace {

TEST(Daemon, ServesHealthReadinessMetricsAndItsOpenApiDocument) {
  Daemon d;
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_EQ(d.request("GET", "/healthz").status, 200);
  auto ready = d.request("GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(json(ready.body)->getValue<std::string>("status"), "ready");
  d.request("GET", "/nowhere");
  // A request is counted once its answer is sent, so it may show a moment after the client
  // has the answer.
  const std::string notFound =
      "ciclo_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1";
  auto metrics = d.request("GET", "/metrics");
  for (int i = 0; i < 100 && metrics.body.find(notFound) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    metrics = d.request("GET", "/metrics");
  }
  EXPECT_EQ(metrics.status, 200);
  EXPECT_TRUE(metrics.header("content-type").starts_with("text/plain"));
  for (const char* family :
       {notFound.c_str(), "ciclo_http_request_duration_seconds_bucket", "ciclo_outbox_lag",
        "ciclo_webhook_deliveries_total{result=\"failed\"}", "ciclo_store_commits_total"}) {
    EXPECT_NE(metrics.body.find(family), std::string::npos) << family;
  }
  auto openapi = d.request("GET", "/v1/openapi.json");
  ASSERT_EQ(openapi.status, 200);
  // Over 64 KiB: the body goes out after its head rather than copied behind it.
  EXPECT_GT(openapi.body.size(), 64u * 1024);
  EXPECT_EQ(openapi.header("content-length"), std::to_string(openapi.body.size()));
  auto doc = json(openapi.body);
  EXPECT_EQ(doc->getValue<std::string>("openapi"), "3.0.3");
  EXPECT_TRUE(doc->getObject("paths")->has("/v1/leads"));
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace ciclo::testing

namespace ciclo::testing {
namespace {

// The client's address is the connection's peer, or the first untrusted hop of
// X-Forwarded-For when the peer is a trusted proxy. It shows as the proof of a consent.
TEST(Daemon, ClientAddressesComeFromTrustedProxiesOnly) {
  auto consentIp = [](Daemon& d, const std::string& key, const std::string& email,
                      const std::string& forwarded) {
    auto r = d.call("POST", "/v1/leads", key,
                    R"({"email":")" + email + R"(","consent":{"granted":true,"text":"News, yes"}})",
                    {{"X-Forwarded-For", forwarded}});
    return json(r.body)->getObject("consent")->getValue<std::string>("ip");
  };
  DaemonOptions trusting;
  trusting.server_yaml = "  trusted_proxies: [127.0.0.0/8]\n";
  Daemon behindProxy(trusting);
  const std::string key = behindProxy.createKey("leads:write");
  ASSERT_TRUE(behindProxy.start()) << behindProxy.log();
  EXPECT_EQ(consentIp(behindProxy, key, "a@example.it", "198.51.100.23"), "198.51.100.23");
  EXPECT_EQ(consentIp(behindProxy, key, "b@example.it", "203.0.113.9, 198.51.100.23, 127.0.0.2"),
            "198.51.100.23")
      << "the first untrusted hop from the right";
  EXPECT_EQ(consentIp(behindProxy, key, "c@example.it", "not-an-ip"), "127.0.0.1");
  behindProxy.stop();

  Daemon direct;
  const std::string key2 = direct.createKey("leads:write");
  ASSERT_TRUE(direct.start()) << direct.log();
  EXPECT_EQ(consentIp(direct, key2, "d@example.it", "198.51.100.23"), "127.0.0.1")
      << "an untrusted peer's header is ignored";
  direct.stop();
}

}  // namespace
}  // namespace ciclo::testing
