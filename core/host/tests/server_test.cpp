// The HTTP transport on its own, with a handler that the test controls: what it does when
// every handler thread is busy, with answers given later, with a failure before the handler,
// and which requests the loop answers itself. (The daemon's own tests cover deadlines, idle
// clients and malformed requests.)

#include "host/server.h"

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace ciclo::host {
namespace {

// Routes everything to one of two routes. GET /block waits until released; GET /later
// answers later, when the test settles it; GET /throw fails in admit(). Paths under /quick
// take the quick route, which the loop runs; /quick/thread is left to a thread by the loop.
class TestHandler : public RequestHandler {
 public:
  TestHandler() {
    route_.method = quick_.method = "GET";
    route_.pattern = "/";
    quick_.pattern = "/quick";
    quick_.options.quick = true;
  }

  std::variant<const Route*, Response, ToThread> admit(Request& request, Lane lane) override {
    if (request.path == "/throw") throw std::runtime_error("admission failed");
    {
      std::lock_guard lock(mutex_);
      ++(lane == Lane::kLoop ? admittedOnLoop_ : admittedOnThread_);
    }
    if (request.path.starts_with("/quick")) {
      if (lane == Lane::kLoop && request.path == "/quick/thread") return ToThread{};
      return &quick_;
    }
    if (lane == Lane::kLoop) return ToThread{};
    return &route_;
  }

  Response handle(const Route&, Request& request) override {
    std::unique_lock lock(mutex_);
    if (request.path == "/block") {
      ++blocked_;
      changed_.notify_all();
      changed_.wait(lock, [&] { return released_; });
    } else if (request.path == "/later") {
      later_ = std::make_shared<LaterResponse>();
      changed_.notify_all();
      Response r;
      r.later = later_;
      return r;
    }
    return Response{200, "text/plain", request.path, {}, {}};
  }

  void completed(const Request&, const Response&, double) override {}

  std::pair<int, int> admissions() {
    std::lock_guard lock(mutex_);
    return {admittedOnLoop_, admittedOnThread_};
  }

  void awaitBlocked(int n) {
    std::unique_lock lock(mutex_);
    ASSERT_TRUE(changed_.wait_for(lock, std::chrono::seconds(10), [&] { return blocked_ == n; }));
  }
  std::shared_ptr<LaterResponse> awaitLater() {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return later_ != nullptr; });
    return std::exchange(later_, nullptr);
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  Route route_, quick_;
  std::mutex mutex_;
  int admittedOnLoop_ = 0, admittedOnThread_ = 0;
  std::condition_variable changed_;
  int blocked_ = 0;
  bool released_ = false;
  std::shared_ptr<LaterResponse> later_;
};

class Client {
 public:
  explicit Client(int port) {
    socket_.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
    socket_.setReceiveTimeout(Poco::Timespan(10, 0));
  }
  void send(const std::string& path) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
    socket_.sendBytes(request.data(), static_cast<int>(request.size()));
  }
  // One whole answer: its head and Content-Length bytes of body.
  std::string receive() {
    for (;;) {
      const auto end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        const auto at = buffer_.find("Content-Length: ");
        const std::size_t length = at < end ? std::stoul(buffer_.substr(at + 16)) : 0;
        if (buffer_.size() >= end + 4 + length) {
          std::string answer = buffer_.substr(0, end + 4 + length);
          buffer_.erase(0, answer.size());
          return answer;
        }
      }
      char buf[4096];
      const int n = socket_.receiveBytes(buf, sizeof buf);
      if (n <= 0) return "closed: " + buffer_;
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }
  std::string exchange(const std::string& path) {
    send(path);
    return receive();
  }

 private:
  Poco::Net::StreamSocket socket_;
  std::string buffer_;
};

ServerConfig oneThread() {
  ServerConfig config;
  config.port = 0;
  config.threads = 1;
  config.max_queued = 1;
  return config;
}

// One server with one handler thread and room for one queued request, per test.
class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto port = server_.start();
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = port.value();
  }
  void TearDown() override { server_.stop(); }

  const ServerConfig config_ = oneThread();
  TestHandler handler_;
  HttpServer server_{config_, handler_};
  int port_ = 0;
};

TEST_F(HttpServerTest, RequestsBeyondTheQueueAreAnswered503WithRetryAfter) {
  Client busy(port_), second(port_), third(port_);
  busy.send("/block");
  handler_.awaitBlocked(1);  // the one handler thread is taken
  second.send("/second");
  third.send("/third");
  // One of the two waits in the queue; the other finds it full. Which one is the loop's
  // order of reading them, so both are taken as they come.
  auto secondAnswer = std::async(std::launch::async, [&] { return second.receive(); });
  auto thirdAnswer = std::async(std::launch::async, [&] { return third.receive(); });
  std::string refused, queued;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (refused.empty() && std::chrono::steady_clock::now() < deadline) {
    for (auto* answer : {&secondAnswer, &thirdAnswer}) {
      if (answer->wait_for(std::chrono::milliseconds(10)) != std::future_status::ready) continue;
      refused = answer->get();
      handler_.release();
      queued = (answer == &secondAnswer ? thirdAnswer : secondAnswer).get();
      break;
    }
  }
  if (refused.empty()) handler_.release();  // so that the server can stop
  ASSERT_FALSE(refused.empty()) << "neither was refused";
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 503 ")) << refused;
  EXPECT_NE(refused.find("Retry-After: 1\r\n"), std::string::npos) << refused;
  EXPECT_NE(refused.find("application/problem+json"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Connection: close\r\n"), std::string::npos) << refused;
  EXPECT_TRUE(queued.starts_with("HTTP/1.1 200 ")) << queued;
  EXPECT_TRUE(busy.receive().starts_with("HTTP/1.1 200 "));
}

TEST_F(HttpServerTest, AnAnswerGivenLaterIsSentOnceSettledAndTheConnectionGoesOn) {
  Client client(port_), other(port_);
  client.send("/later");
  const auto later = handler_.awaitLater();
  ASSERT_TRUE(later);
  // The handler thread is free meanwhile: another client is served by it.
  EXPECT_TRUE(other.exchange("/now").ends_with("\r\n\r\n/now"));
  later->settle(Response{201, "text/plain", "settled", {{"Location", "/x"}}, {}});
  const std::string answer = client.receive();
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 201 ")) << answer;
  EXPECT_NE(answer.find("Location: /x\r\n"), std::string::npos) << answer;
  EXPECT_TRUE(answer.ends_with("\r\n\r\nsettled")) << answer;
  EXPECT_TRUE(client.exchange("/again").ends_with("\r\n\r\n/again")) << "kept alive";
}

TEST_F(HttpServerTest, AFailureBeforeTheHandlerIs500ProblemAndTheConnectionGoesOn) {
  Client client(port_);
  const std::string answer = client.exchange("/throw");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 500 ")) << answer;
  EXPECT_NE(answer.find("application/problem+json"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("admission failed"), std::string::npos) << "the cause stays in the log";
  EXPECT_TRUE(client.exchange("/next").starts_with("HTTP/1.1 200 "));
}

TEST_F(HttpServerTest, TheLoopAnswersAQuickRouteWhileEveryHandlerThreadIsBusy) {
  Client busy(port_), quick(port_);
  busy.send("/block");
  handler_.awaitBlocked(1);  // the one handler thread is taken
  const std::string answer = quick.exchange("/quick/1");
  EXPECT_TRUE(answer.ends_with("\r\n\r\n/quick/1")) << answer;
  EXPECT_TRUE(quick.exchange("/quick/2").ends_with("\r\n\r\n/quick/2")) << "kept alive";
  handler_.release();
  EXPECT_TRUE(busy.receive().ends_with("\r\n\r\n/block"));
  // The loop admitted all three; only /block went on to a thread, and was admitted there.
  EXPECT_EQ(handler_.admissions(), std::make_pair(3, 1));
}

TEST_F(HttpServerTest, ARequestTheLoopLeavesToAThreadIsAdmittedThereAgain) {
  Client client(port_);
  EXPECT_TRUE(client.exchange("/quick/thread").ends_with("\r\n\r\n/quick/thread"));
  EXPECT_EQ(handler_.admissions(), std::make_pair(1, 1));
  EXPECT_TRUE(client.exchange("/quick/loop").ends_with("\r\n\r\n/quick/loop"));
  EXPECT_EQ(handler_.admissions(), std::make_pair(2, 1)) << "answered on the loop";
}

// A handler thread gives the connection back to the loop once it has sent the answer. A
// client that closes the moment the answer arrives has the loop close and free the connection
// at once, so the thread must not touch it after the handover (under AddressSanitizer, a use
// after free is caught here).
TEST_F(HttpServerTest, AClientThatClosesAsSoonAsItsAnswerArrivesLeavesTheServerSound) {
  for (int i = 0; i < 2000; ++i) {
    Client client(port_);
    const std::string path = "/closing/" + std::to_string(i);
    ASSERT_TRUE(client.exchange(path).ends_with("\r\n\r\n" + path));
  }
  Client last(port_);
  EXPECT_TRUE(last.exchange("/last").ends_with("\r\n\r\n/last"));
  EXPECT_EQ(handler_.admissions(), std::make_pair(2001, 2001));
}

}  // namespace
}  // namespace ciclo::host
