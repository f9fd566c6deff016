#include "host/server.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/SocketAddress.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "host/http_wire.h"

namespace ciclo::host {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A trusted proxy: an address, or a network in CIDR notation.
struct Network {
  Poco::Net::IPAddress address;
  unsigned prefix;
  bool contains(const Poco::Net::IPAddress& a) const {
    if (a.family() != address.family()) return false;
    const Poco::Net::IPAddress mask(prefix, a.family());
    return (a & mask) == (address & mask);
  }
};

std::string newRequestId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "req_";
  for (int i = 0; i < 20; ++i) id += kHex[rng() & 15];
  return id;
}

bool acceptableRequestId(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ':';
  });
}

// Who acts on a connection: the loop thread while it reads a request, waits for the next one,
// sends the rest of an answer or drains a refused body; a handler thread while it answers.
// Only the loop closes and frees a connection, and only the loop arms it in epoll: a handler
// thread gives it back (giveBack) and touches it no more, since the loop may free it at once.
enum class State {
  kReading,   // loop: a request is due (its head or body has not all arrived)
  kWorking,   // a handler thread has the connection, or an answer given later is owed on it
  kIdle,      // loop: waiting for the next request on a keep-alive connection
  kWriting,   // loop: sending what is left of an answer
  kDraining,  // loop: the answer is sent; reading and dropping the rest of a refused body
};

struct Connection {
  int fd = -1;
  Poco::Net::SocketAddress peer;
  std::string in;                  // received, not yet taken by a request
  std::optional<wire::Head> head;  // of the request being read
  bool continued = false;          // "100 Continue" sent for it
  std::atomic<State> state{State::kReading};
  Clock::time_point deadline{};  // for the loop's states
  Clock::time_point started{};   // when the request being read began
  int served = 0;
  // An answer the loop finishes sending, and what follows it.
  std::string out;
  std::size_t outAt = 0;
  enum class After { kNextRequest, kDrain, kClose } after = After::kNextRequest;
  std::size_t drained = 0;
  bool closed = false;  // its memory is kept until the loop's current round of events ends
  // An answer given later (Response::later), settled, for the loop to send.
  struct Owed;
  std::unique_ptr<Owed> owed;
};

using After = Connection::After;

// A request being answered, and how its answer goes on the wire.
struct Exchange {
  Request request;
  int minor = 1;  // HTTP/1.<minor>
  bool keepAlive = false;
  bool bodyUnread = false;  // refused for its size: drained after the answer, then closed
  Clock::time_point started;
};

struct Connection::Owed {
  Exchange exchange;
  Response response;
};

// A request read whole (or refused for its size), for a handler thread to answer.
struct Job {
  Connection* connection;
  Exchange exchange;
  std::string body;
  Clock::time_point queued;
};

// Sends what it can without blocking: the bytes sent, or -1 when the connection is gone.
long sendSome(int fd, std::string_view bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      return -1;
    }
  }
  return static_cast<long>(sent);
}

constexpr int kMaxKeepAliveRequests = 10000;
constexpr int kAwakeWorkers = 2;
constexpr auto kStaleJob = milliseconds(50);
constexpr std::size_t kMaxDrain = 8u << 20;
constexpr auto kDrainTime = std::chrono::seconds(2);
constexpr auto kSweepEvery = milliseconds(100);

thread_local bool onLoopThread = false;

}  // namespace

struct HttpServer::Impl {
  Impl(const ServerConfig& c, RequestHandler& h) : config(c), handler(h) {}

  const ServerConfig& config;
  RequestHandler& handler;
  std::vector<Network> trusted;
  std::atomic<bool> stopping{false};
  bool running = false;

  int listenFd = -1;
  int epollFd = -1;
  int wakeFd = -1;
  bool accepting = false;
  std::thread loop;
  // Every open connection; only the loop adds and removes them.
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections;
  // Connections closed during this round of events, which may still name them.
  std::vector<std::unique_ptr<Connection>> closedThisRound;

  // Requests for the handler threads.
  std::mutex jobsMutex;
  std::condition_variable jobsReady;
  std::deque<Job> jobs;
  int awake = 0;  // handler threads not waiting for a job
  bool workersStop = false;
  std::vector<std::thread> workers;

  // Connections handler threads give back to the loop.
  std::mutex inboxMutex;
  std::vector<Connection*> inbox;

  // Tags for the listening socket and the wake-up eventfd in epoll's data.
  char listenTag = 0;
  char wakeTag = 0;

  std::string clientIp(const Poco::Net::SocketAddress& peer,
                       const std::string& forwardedFor) const {
    const auto isTrusted = [&](const Poco::Net::IPAddress& a) {
      return std::any_of(trusted.begin(), trusted.end(),
                         [&](const Network& n) { return n.contains(a); });
    };
    Poco::Net::IPAddress hop = peer.host();
    if (!isTrusted(hop) || forwardedFor.empty()) return hop.toString();
    // Walk X-Forwarded-For from the right: the first hop we do not trust is the client.
    std::string_view rest(forwardedFor);
    while (!rest.empty()) {
      const auto comma = rest.rfind(',');
      std::string item(rest.substr(comma == std::string_view::npos ? 0 : comma + 1));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      Poco::Net::IPAddress next;
      if (!Poco::Net::IPAddress::tryParse(item, next)) return hop.toString();
      hop = next;
      if (!isTrusted(hop)) return hop.toString();
    }
    return hop.toString();
  }

  // ---- The loop thread: accepts, reads requests, finishes answers, keeps deadlines.

  void arm(Connection& c, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events | EPOLLONESHOT;
    ev.data.ptr = &c;
    ::epoll_ctl(epollFd, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void close(Connection& c) {
    if (c.closed) return;
    ::close(c.fd);  // also takes it out of the epoll set
    c.closed = true;
    auto it = connections.find(&c);
    closedThisRound.push_back(std::move(it->second));
    connections.erase(it);
    if (!accepting && !stopping) resumeAccepting();
  }

  void resumeAccepting() {
    if (connections.size() >= static_cast<std::size_t>(config.max_connections)) return;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &listenTag;
    accepting = ::epoll_ctl(epollFd, EPOLL_CTL_ADD, listenFd, &ev) == 0;
  }

  void pauseAccepting() {
    if (accepting) ::epoll_ctl(epollFd, EPOLL_CTL_DEL, listenFd, nullptr);
    accepting = false;
  }

  void acceptAll() {
    for (;;) {
      if (connections.size() >= static_cast<std::size_t>(config.max_connections) &&
          !shedIdleConnection()) {
        pauseAccepting();  // until a connection closes
        return;
      }
      sockaddr_storage address{};
      socklen_t length = sizeof address;
      const int fd = ::accept4(listenFd, reinterpret_cast<sockaddr*>(&address), &length,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        // EMFILE and the like: out of descriptors; try again at the next sweep.
        if (errno != EAGAIN && errno != EWOULDBLOCK) pauseAccepting();
        return;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Connection>();
      c->fd = fd;
      c->peer = Poco::Net::SocketAddress(reinterpret_cast<sockaddr*>(&address), length);
      // A new connection owes its first request at once.
      c->started = Clock::now();
      c->deadline = c->started + milliseconds(config.request_deadline_ms);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLONESHOT;
      ev.data.ptr = c.get();
      if (::epoll_ctl(epollFd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        continue;
      }
      Connection* raw = c.get();
      connections.emplace(raw, std::move(c));
    }
  }

  // At the connection limit, the connection idle the longest makes room for a new client.
  bool shedIdleConnection() {
    Connection* oldest = nullptr;
    for (auto& [key, c] : connections) {
      if (c->state.load(std::memory_order_acquire) == State::kIdle &&
          (!oldest || c->deadline < oldest->deadline))
        oldest = c.get();
    }
    if (!oldest) return false;
    close(*oldest);
    return true;
  }

  void onEvent(Connection& c) {
    if (c.closed) return;
    switch (c.state.load(std::memory_order_acquire)) {
      case State::kWriting:
        return flush(c);
      case State::kDraining:
        return drain(c);
      case State::kIdle:
      case State::kReading:
        return readRequest(c);
      case State::kWorking:
        return;  // a handler thread has it; it was not armed
    }
  }

  void readRequest(Connection& c) {
    if (c.state.load(std::memory_order_acquire) != State::kReading) {
      c.state.store(State::kReading, std::memory_order_release);
      c.started = Clock::now();
      c.deadline = c.started + milliseconds(config.request_deadline_ms);
    }
    const std::size_t cap = wire::kMaxHeadBytes + config.max_body_bytes + 64 * 1024;
    bool ended = false;
    char buf[64 * 1024];
    while (c.in.size() < cap) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < sizeof buf) break;
      } else if (n == 0) {
        ended = true;
        break;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      } else {
        return close(c);
      }
    }
    takeRequest(c, ended);
  }

  // Hands a request whose bytes have all arrived to a handler thread; otherwise waits for more.
  void takeRequest(Connection& c, bool ended) {
    if (!c.head) {
      if (c.in.empty()) return ended ? close(c) : arm(c, EPOLLIN);
      auto parsed = wire::parseHead(c.in);
      if (auto* refusal = std::get_if<wire::Refusal>(&parsed))
        return refuse(c, refusal->status, refusal->detail);
      if (std::holds_alternative<wire::NeedMore>(parsed)) return ended ? close(c) : arm(c, EPOLLIN);
      c.head = std::move(std::get<wire::Head>(parsed));
      c.continued = false;
    }
    const wire::Head& head = *c.head;
    const std::size_t limit = config.max_body_bytes;
    const std::string_view rest = std::string_view(c.in).substr(head.size);
    std::string body;
    bool unread = false;
    std::size_t consumed = head.size;
    const auto awaitBody = [&] {
      if (ended) return close(c);
      if (head.expect_continue && !c.continued && head.minor == 1) {
        c.continued = true;
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        if (sendSome(c.fd, kContinue) != static_cast<long>(kContinue.size())) return close(c);
      }
      arm(c, EPOLLIN);
    };
    if (head.chunked) {
      auto decoded = wire::decodeChunked(rest, body, limit);
      if (auto* refusal = std::get_if<wire::Refusal>(&decoded))
        return refuse(c, refusal->status, refusal->detail);
      if (std::holds_alternative<wire::NeedMore>(decoded)) {
        // Chunk framing may cost more bytes than the body it carries, but not without bound.
        if (rest.size() < 2 * limit + 64 * 1024) return awaitBody();
        unread = true;
      } else if (std::holds_alternative<wire::TooLarge>(decoded)) {
        unread = true;
      } else {
        consumed += std::get<wire::Decoded>(decoded).consumed;
      }
    } else if (const std::uint64_t length = head.content_length.value_or(0); length > 0) {
      if (length > limit) {
        unread = true;
      } else if (rest.size() < length) {
        return awaitBody();
      } else {
        body.assign(rest.substr(0, length));
        consumed += length;
      }
    }
    if (unread) {
      c.in.clear();
    } else {
      c.in.erase(0, consumed);
    }
    const int minor = c.head->minor;
    const bool keepAlive = c.head->keep_alive && ++c.served < kMaxKeepAliveRequests;
    Exchange exchange{requestOf(std::move(*c.head), c.peer), minor, keepAlive, unread, c.started};
    c.head.reset();
    c.state.store(State::kWorking, std::memory_order_release);
    // A quick route is answered here; any other request, by a handler thread.
    auto admitted = admit(exchange.request, Lane::kLoop);
    if (!std::holds_alternative<ToThread>(admitted))
      return answer(c, exchange, std::move(body), std::move(admitted));
    Job job{&c, std::move(exchange), std::move(body), Clock::now()};
    std::unique_lock lock(jobsMutex);
    if (jobs.size() >= static_cast<std::size_t>(config.max_queued)) {
      lock.unlock();
      return overloaded(std::move(job));
    }
    jobs.push_back(std::move(job));
    const bool wake = needsAnotherWorker();
    lock.unlock();
    if (wake) jobsReady.notify_one();
  }

  // Answers a request the loop refuses itself, and closes the connection after it.
  void refuse(Connection& c, int status, const std::string& detail) {
    Exchange exchange{{}, 1, false, true, c.started};
    if (c.head) {
      exchange.minor = c.head->minor;
      exchange.request = requestOf(std::move(*c.head), c.peer);
    } else {
      exchange.request.request_id = newRequestId();
    }
    c.head.reset();
    c.in.clear();
    c.state.store(State::kWorking, std::memory_order_release);
    finish(c, exchange, problemResponse(status, "", detail));
  }

  void overloaded(Job job) {
    job.exchange.keepAlive = false;
    Response response = problemResponse(503, "", "the server is busy; retry shortly");
    response.headers.emplace_back("Retry-After", "1");
    finish(*job.connection, job.exchange, response);
  }

  // Sends the rest of an answer, then goes on as the answer said.
  void flush(Connection& c) {
    const long sent = sendSome(c.fd, std::string_view(c.out).substr(c.outAt));
    if (sent < 0) return close(c);
    c.outAt += static_cast<std::size_t>(sent);
    if (c.outAt < c.out.size()) return arm(c, EPOLLOUT);
    c.out.clear();
    c.outAt = 0;
    afterAnswer(c);
  }

  void afterAnswer(Connection& c) {
    if (c.after == After::kDrain) {
      // Read and drop what the client still sends of a refused body, for a short while, so
      // that it gets to read the answer instead of a reset connection.
      ::shutdown(c.fd, SHUT_WR);
      c.state.store(State::kDraining, std::memory_order_release);
      c.deadline = Clock::now() + kDrainTime;
      c.drained = 0;
      return arm(c, EPOLLIN);
    }
    if (c.after == After::kClose || stopping) return close(c);
    c.state.store(State::kIdle, std::memory_order_release);
    c.deadline = Clock::now() + milliseconds(config.keep_alive_timeout_ms);
    if (!c.in.empty()) return readRequest(c);  // the next request came with the last one
    arm(c, EPOLLIN);
  }

  void drain(Connection& c) {
    char buf[64 * 1024];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.drained += static_cast<std::size_t>(n);
        if (c.drained > kMaxDrain) return close(c);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return arm(c, EPOLLIN);
      return close(c);
    }
  }

  // Closes what is past its deadline; when stopping, also what waits for a next request.
  void sweep() {
    const auto now = Clock::now();
    std::vector<Connection*> expired;
    for (auto& [key, c] : connections) {
      const State s = c->state.load(std::memory_order_acquire);
      if (s == State::kWorking) continue;
      const bool waiting = s == State::kIdle || (s == State::kReading && c->in.empty());
      if (now >= c->deadline || (stopping && waiting)) expired.push_back(c.get());
    }
    for (auto* c : expired) close(*c);
    if (!accepting && !stopping) resumeAccepting();
    wakeForStaleJobs(now);
  }

  // A request queued for long waits behind threads busy with slow requests: another thread
  // wakes for it.
  void wakeForStaleJobs(Clock::time_point now) {
    std::unique_lock lock(jobsMutex);
    const bool stale = !jobs.empty() && now - jobs.front().queued > kStaleJob;
    lock.unlock();
    if (stale) jobsReady.notify_one();
  }

  void takeInbox() {
    std::uint64_t count;
    (void)!::read(wakeFd, &count, sizeof count);
    std::vector<Connection*> given;
    {
      std::lock_guard lock(inboxMutex);
      given.swap(inbox);
    }
    for (auto* c : given) {
      if (c->owed) {
        const auto owed = std::move(c->owed);
        finish(*c, owed->exchange, owed->response);
      } else if (!c->out.empty()) {
        c->state.store(State::kWriting, std::memory_order_release);
        c->deadline = Clock::now() + milliseconds(config.request_deadline_ms);
        flush(*c);
      } else {
        afterAnswer(*c);
      }
    }
  }

  void runLoop() {
    epoll_event events[256];
    auto lastSweep = Clock::now();
    Clock::time_point giveUp = Clock::time_point::max();
    for (;;) {
      const int n = ::epoll_wait(epollFd, events, 256, static_cast<int>(kSweepEvery.count()));
      for (int i = 0; i < n; ++i) {
        void* tag = events[i].data.ptr;
        if (tag == &listenTag) {
          acceptAll();
        } else if (tag == &wakeTag) {
          takeInbox();
        } else {
          onEvent(*static_cast<Connection*>(tag));
        }
      }
      if (stopping && listenFd >= 0) {
        // Stop accepting: the listening socket closes, and waiting connections with it.
        pauseAccepting();
        ::close(listenFd);
        listenFd = -1;
        giveUp = Clock::now() + std::chrono::seconds(30);
        lastSweep = Clock::now() - kSweepEvery;
      }
      if (Clock::now() - lastSweep >= kSweepEvery) {
        sweep();
        lastSweep = Clock::now();
      }
      closedThisRound.clear();
      if (stopping && (connections.empty() || Clock::now() >= giveUp)) return;
    }
  }

  // ---- Handler threads: answer requests, send the answers, give connections back.

  Request requestOf(wire::Head&& head, const Poco::Net::SocketAddress& peer) const {
    Request request;
    request.method = std::move(head.method);
    const auto q = head.target.find('?');
    request.path = head.target.substr(0, q);
    request.query = q == std::string::npos ? std::string() : head.target.substr(q + 1);
    request.headers = std::move(head.fields);
    const std::string rid = request.header("X-Request-Id");
    request.request_id = acceptableRequestId(rid) ? rid : newRequestId();
    request.client_ip = clientIp(peer, request.header("X-Forwarded-For"));
    return request;
  }

  // Whether the queued requests need one more handler thread awake (jobsMutex held). One
  // already awake takes a request when it is done with its own: waking another costs two
  // context switches, and most requests take microseconds or wait a few milliseconds for a
  // commit. Those that take longer are covered by the sweep (wakeForStaleJobs).
  bool needsAnotherWorker() const {
    return !jobs.empty() &&
           (awake < kAwakeWorkers || jobs.size() > static_cast<std::size_t>(awake));
  }

  void runWorker() {
    for (;;) {
      std::unique_lock lock(jobsMutex);
      if (jobs.empty()) {
        --awake;
        jobsReady.wait(lock, [&] { return workersStop || !jobs.empty(); });
        ++awake;
      }
      if (jobs.empty()) return;
      Job job = std::move(jobs.front());
      jobs.pop_front();
      lock.unlock();
      serve(job);
    }
  }

  void serve(Job& job) {
    answer(*job.connection, job.exchange, std::move(job.body),
           admit(job.exchange.request, Lane::kThread));
  }

  std::variant<const Route*, Response, ToThread> admit(Request& request, Lane lane) {
    try {
      return handler.admit(request, lane);
    } catch (const std::exception& e) {
      Poco::Logger::get("ciclo.http")
          .error("request %s failed before its handler: %s", request.request_id,
                 std::string(e.what()));
      return problemResponse(500, "",
                             "an internal error occurred; the request id identifies it in the log");
    }
  }

  // Runs the admitted route (on the loop when it is quick, else on a handler thread) and
  // sends its answer, or leaves the loop to send it once it is settled.
  void answer(Connection& c, Exchange& exchange, std::string body,
              std::variant<const Route*, Response, ToThread> admitted) {
    Response response;
    if (auto* early = std::get_if<Response>(&admitted)) {
      response = std::move(*early);
    } else {
      const Route& route = *std::get<const Route*>(admitted);
      const std::size_t limit = std::min(route.options.max_body, config.max_body_bytes);
      if (exchange.bodyUnread || body.size() > limit) {
        response =
            problemResponse(413, "", "the body is larger than " + std::to_string(limit) + " bytes");
      } else {
        exchange.request.body = std::move(body);
        response = handler.handle(route, exchange.request);
      }
    }
    if (auto later = std::move(response.later)) {
      // The loop sends it once settled: this thread goes on to the next request meanwhile.
      c.owed.reset(new Connection::Owed{std::move(exchange), {}});
      later->onSettled([this, &c](Response settled) {
        c.owed->response = std::move(settled);
        giveBack(c);
      });
      return;
    }
    finish(c, exchange, response);
  }

  static std::string serialize(int minor, const Request& request, const Response& response,
                               bool keepAlive) {
    const bool withBody = request.method != "HEAD";
    std::string s;
    s.reserve(256 + (withBody ? response.body.size() : 0));
    s += minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
    s += std::to_string(response.status);
    s += ' ';
    s += Poco::Net::HTTPResponse::getReasonForStatus(
        static_cast<Poco::Net::HTTPResponse::HTTPStatus>(response.status));
    s += keepAlive ? "\r\nConnection: keep-alive" : "\r\nConnection: close";
    s += "\r\nX-Request-Id: ";
    s += request.request_id;
    s += "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff";
    for (const auto& [k, v] : response.headers) {
      s += "\r\n";
      s += k;
      s += ": ";
      s += v;
    }
    if (!response.body.empty()) {
      s += "\r\nContent-Type: ";
      s += response.content_type;
    }
    s += "\r\nContent-Length: ";
    s += std::to_string(response.body.size());
    s += "\r\n\r\n";
    if (withBody) s += response.body;
    return s;
  }

  // Sends an answer from the thread that has the connection, and hands it back to the loop:
  // idle for the next request, to finish sending, to drain a body left unread, or to close.
  // On the loop itself that is done at once.
  void finish(Connection& c, const Exchange& exchange, const Response& response) {
    // Once stopping, every answer is the connection's last.
    const bool keepAlive = exchange.keepAlive && !exchange.bodyUnread && !stopping;
    std::string bytes = serialize(exchange.minor, exchange.request, response, keepAlive);
    const long sent = sendSome(c.fd, bytes);
    handler.completed(
        exchange.request, response,
        std::chrono::duration<double, std::milli>(Clock::now() - exchange.started).count());
    c.after = sent < 0              ? After::kClose
              : exchange.bodyUnread ? After::kDrain
              : keepAlive           ? After::kNextRequest
                                    : After::kClose;
    if (sent >= 0 && static_cast<std::size_t>(sent) < bytes.size()) {
      bytes.erase(0, static_cast<std::size_t>(sent));
      c.out = std::move(bytes);
      c.outAt = 0;
      return giveBack(c);
    }
    // A request that came with this one is read at the loop's next round, not from in here.
    if (onLoopThread && c.in.empty()) return afterAnswer(c);
    giveBack(c);
  }

  void giveBack(Connection& c) {
    bool wake;
    {
      std::lock_guard lock(inboxMutex);
      wake = inbox.empty();
      inbox.push_back(&c);
    }
    if (wake) {
      const std::uint64_t one = 1;
      (void)!::write(wakeFd, &one, sizeof one);
    }
  }
};

HttpServer::HttpServer(const ServerConfig& config, RequestHandler& handler)
    : impl_(std::make_unique<Impl>(config, handler)) {}

HttpServer::~HttpServer() {
  stop();
  auto& s = *impl_;
  for (auto& [key, c] : s.connections) {
    ::close(c->fd);
    // An answer still owed after the 30 s of stop() may yet be settled by the store: the
    // connection it names is left allocated rather than freed under it.
    if (c->state.load() == State::kWorking) (void)c.release();
  }
  s.connections.clear();
  if (s.listenFd >= 0) ::close(s.listenFd);
  if (s.epollFd >= 0) ::close(s.epollFd);
  if (s.wakeFd >= 0) ::close(s.wakeFd);
}

Result<int> HttpServer::start() {
  auto& s = *impl_;
  for (const auto& entry : s.config.trusted_proxies) {
    const auto slash = entry.find('/');
    Poco::Net::IPAddress address;
    if (!Poco::Net::IPAddress::tryParse(entry.substr(0, slash), address)) {
      return Error::invalid("server.trusted_proxies: " + entry +
                            " is not an IP address or network");
    }
    unsigned prefix = address.length() * 8;
    if (slash != std::string::npos) {
      try {
        prefix = static_cast<unsigned>(std::stoul(entry.substr(slash + 1)));
      } catch (const std::exception&) {
        prefix = 999;
      }
      if (prefix > address.length() * 8)
        return Error::invalid("server.trusted_proxies: " + entry + " has a bad prefix");
    }
    s.trusted.push_back({address, prefix});
  }

  const std::string where = s.config.host + ":" + std::to_string(s.config.port);
  Poco::Net::SocketAddress address;
  try {
    address = Poco::Net::SocketAddress(s.config.host, static_cast<Poco::UInt16>(s.config.port));
  } catch (const Poco::Exception& e) {
    return Error::invalid("cannot listen on " + where + ": " + e.displayText());
  }
  // SO_REUSEADDR only: SO_REUSEPORT would let a second daemon share the port silently.
  s.listenFd = ::socket(address.family() == Poco::Net::SocketAddress::IPv6 ? AF_INET6 : AF_INET,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (s.listenFd < 0 || ::setsockopt(s.listenFd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(s.listenFd, address.addr(), address.length()) != 0 ||
      ::listen(s.listenFd, 1024) != 0) {
    const std::string reason = std::strerror(errno);
    return Error::invalid("cannot listen on " + where + ": " + reason);
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(s.listenFd, reinterpret_cast<sockaddr*>(&bound), &length);
  const Poco::Net::SocketAddress boundAddress(reinterpret_cast<sockaddr*>(&bound), length);

  // Each connection is a descriptor: make room for as many as the configuration allows.
  rlimit files{};
  const auto wanted = static_cast<rlim_t>(s.config.max_connections) + 256;
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < wanted) {
    files.rlim_cur = std::min(wanted, files.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &files);
  }

  s.epollFd = ::epoll_create1(EPOLL_CLOEXEC);
  s.wakeFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s.epollFd < 0 || s.wakeFd < 0) return Error::invalid("cannot start the HTTP server");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &s.wakeTag;
  ::epoll_ctl(s.epollFd, EPOLL_CTL_ADD, s.wakeFd, &ev);
  s.resumeAccepting();

  s.awake = s.config.threads;
  for (int i = 0; i < s.config.threads; ++i)
    s.workers.emplace_back([&s] {
      ::pthread_setname_np(::pthread_self(), "ciclo-handler");
      s.runWorker();
    });
  s.loop = std::thread([&s] {
    ::pthread_setname_np(::pthread_self(), "ciclo-http");
    onLoopThread = true;
    s.runLoop();
  });
  s.running = true;
  return static_cast<int>(boundAddress.port());
}

void HttpServer::stop() {
  auto& s = *impl_;
  if (!s.running || s.stopping.exchange(true)) return;
  // The loop stops accepting, closes idle connections, and returns once every request in
  // flight has been answered (or after 30 s).
  const std::uint64_t one = 1;
  (void)!::write(s.wakeFd, &one, sizeof one);
  if (s.loop.joinable()) s.loop.join();
  {
    std::lock_guard lock(s.jobsMutex);
    s.workersStop = true;
  }
  s.jobsReady.notify_all();
  for (auto& w : s.workers) w.join();
}

}  // namespace ciclo::host
