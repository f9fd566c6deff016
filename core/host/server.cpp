#include "host/server.h"

#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/String.h>
#include <Poco/ThreadPool.h>
#include <poll.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <list>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

namespace ciclo::host {

namespace {

using Clock = std::chrono::steady_clock;
using Poco::Net::StreamSocket;

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

// The connections being served, each with what it is doing and until when it may do so.
class ConnectionRegistry {
 public:
  enum class State { kIdle, kReading, kHandling, kWriting };
  struct Entry {
    StreamSocket socket;
    State state = State::kIdle;
    Clock::time_point deadline{};
    bool closed = false;
  };
  using Handle = std::list<Entry>::iterator;

  // A new connection owes its first request at once: it is reading, not idle, so that
  // shedding idle connections never cuts one off before it was served.
  Handle add(const StreamSocket& s, Clock::time_point deadline) {
    std::lock_guard lock(mutex_);
    entries_.push_front(Entry{s, State::kReading, deadline, false});
    return entries_.begin();
  }
  void set(Handle h, State state, Clock::time_point deadline) {
    std::lock_guard lock(mutex_);
    h->state = state;
    h->deadline = deadline;
  }
  void remove(Handle h) {
    {
      std::lock_guard lock(mutex_);
      entries_.erase(h);
    }
    changed_.notify_all();
  }

  // Closes connections past their deadline; when more than `busyLimit` are open, also the
  // idle ones, so that a thread is free for a new client. Returns how many it closed.
  int sweep(std::size_t busyLimit, bool closeAllIdle) {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    const bool shed = closeAllIdle || entries_.size() > busyLimit;
    int closed = 0;
    for (auto& e : entries_) {
      if (e.closed) continue;
      if (now >= e.deadline || (shed && e.state == State::kIdle)) {
        try {
          e.socket.shutdown();
        } catch (const Poco::Exception&) {
        }
        e.closed = true;
        ++closed;
      }
    }
    return closed;
  }

  bool waitEmpty(Clock::time_point until) {
    std::unique_lock lock(mutex_);
    return changed_.wait_until(lock, until, [&] { return entries_.empty(); });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::list<Entry> entries_;
};

std::string newRequestId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "req_";
  for (int i = 0; i < 20; ++i) id += kHex[rng() & 15];
  return id;
}

bool isTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool acceptableRequestId(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ':';
  });
}

}  // namespace

struct HttpServer::Impl {
  Impl(const ServerConfig& c, RequestHandler& h) : config(c), handler(h) {}

  const ServerConfig& config;
  RequestHandler& handler;
  std::vector<Network> trusted;
  ConnectionRegistry registry;
  std::atomic<bool> stopping{false};
  std::unique_ptr<Poco::ThreadPool> pool;
  std::unique_ptr<Poco::Net::TCPServer> server;
  Poco::Net::HTTPServerParams::Ptr params;
  std::thread watchdog;
  std::mutex watchdogMutex;
  std::condition_variable watchdogWake;

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

  void runWatchdog() {
    const std::size_t busyLimit = static_cast<std::size_t>(config.threads) * 3 / 4;
    std::unique_lock lock(watchdogMutex);
    while (!stopping) {
      watchdogWake.wait_for(lock, std::chrono::milliseconds(100));
      registry.sweep(busyLimit, false);
    }
  }
};

namespace {

struct UnsupportedVersion {};

// Poco's session, waiting for the next request with one poll(2): Poco 1.11's Socket::poll
// creates, fills and closes an epoll set at every call, four system calls per request.
class ServerSession : public Poco::Net::HTTPServerSession {
 public:
  ServerSession(const StreamSocket& socket, Poco::Net::HTTPServerParams::Ptr params)
      : HTTPServerSession(socket, params),
        keepAliveTimeout_(params->getKeepAliveTimeout()),
        requestsLeft_(params->getMaxKeepAliveRequests()) {}

  // True when a request has begun to arrive within the timeout (the request deadline for
  // the first, the keep-alive timeout after that); false when the connection is done.
  bool awaitRequest() {
    if (!first_ && (!getKeepAlive() || requestsLeft_ == 0)) return false;
    const Poco::Timespan timeout = first_ ? getTimeout() : keepAliveTimeout_;
    first_ = false;
    if (requestsLeft_ > 0) --requestsLeft_;
    if (buffered() > 0) return true;
    pollfd p{socket().impl()->sockfd(), POLLIN, 0};
    for (;;) {
      const int n = ::poll(&p, 1, static_cast<int>(timeout.totalMilliseconds()));
      if (n < 0 && errno == EINTR) continue;
      return n > 0;
    }
  }
  bool mayKeepAlive() const { return requestsLeft_ != 0; }
  // Writes a whole answer, head and body, with one send(2).
  void sendAll(const std::string& bytes) { write(bytes.data(), static_cast<int>(bytes.size())); }

 private:
  bool first_ = true;
  Poco::Timespan keepAliveTimeout_;
  int requestsLeft_;  // negative: no limit
};

class HttpConnection : public Poco::Net::TCPServerConnection {
 public:
  HttpConnection(const StreamSocket& s, HttpServer::Impl& server)
      : TCPServerConnection(s), server_(server) {}

  void run() override {
    using State = ConnectionRegistry::State;
    auto& srv = server_;
    ServerSession session(socket(), srv.params);
    const auto deadline = std::chrono::milliseconds(srv.config.request_deadline_ms);
    // Declared after the session so that it is removed before the session closes the socket.
    struct Registration {
      ConnectionRegistry& registry;
      ConnectionRegistry::Handle handle;
      ~Registration() { registry.remove(handle); }
    } reg{srv.registry, srv.registry.add(socket(), Clock::now() + deadline)};
    const Poco::Net::SocketAddress peer = socket().peerAddress();

    while (!srv.stopping && session.awaitRequest()) {
      const auto started = Clock::now();
      srv.registry.set(reg.handle, State::kReading, started + deadline);
      Request request;
      Response response;
      bool keepAlive = false;
      bool responded = false;
      try {
        Poco::Net::HTTPServerResponseImpl out(session);
        Poco::Net::HTTPServerRequestImpl in(out, session, srv.params.get());
        request.method = in.getMethod();
        const std::string& uri = in.getURI();
        const auto q = uri.find('?');
        request.path = uri.substr(0, q);
        request.query = q == std::string::npos ? std::string() : uri.substr(q + 1);
        int lengths = 0;
        for (const auto& [k, v] : in) {
          // Poco tolerates header lines without a colon or with spaces in the name; RFC 9112
          // says to refuse them, since proxies may read them differently (request smuggling).
          if (k.empty() || !std::all_of(k.begin(), k.end(), isTokenChar)) {
            throw Poco::Net::MessageException("invalid header field name");
          }
          lengths += Poco::icompare(k, "Content-Length") == 0;
          request.headers.emplace_back(k, v);
        }
        // Where a body ends must be read one way only: one Content-Length, and no transfer
        // coding but chunked (RFC 9112 section 6).
        if (lengths > 1) throw Poco::Net::MessageException("Content-Length given twice");
        if (in.has("Transfer-Encoding") &&
            Poco::icompare(in.get("Transfer-Encoding"), "chunked") != 0) {
          throw Poco::Net::MessageException("a transfer coding other than chunked");
        }
        if (in.getVersion() == Poco::Net::HTTPMessage::HTTP_1_1 && !in.has("Host")) {
          throw Poco::Net::MessageException("HTTP/1.1 requires a Host header");
        }
        if (in.has("Transfer-Encoding") && in.has("Content-Length")) {
          throw Poco::Net::MessageException("both Transfer-Encoding and Content-Length");
        }
        const std::string rid = in.get("X-Request-Id", "");
        request.request_id = acceptableRequestId(rid) ? rid : newRequestId();
        request.client_ip = srv.clientIp(peer, in.get("X-Forwarded-For", ""));

        if (in.getVersion() != Poco::Net::HTTPMessage::HTTP_1_1 &&
            in.getVersion() != Poco::Net::HTTPMessage::HTTP_1_0) {
          throw UnsupportedVersion();
        }
        const bool hasBody =
            in.hasContentLength() ? in.getContentLength64() > 0 : in.getChunkedTransferEncoding();
        bool bodyUnread = hasBody;
        auto admitted = srv.handler.admit(request);
        if (auto* early = std::get_if<Response>(&admitted)) {
          response = std::move(*early);
        } else {
          const Route& route = *std::get<const Route*>(admitted);
          const std::size_t limit = std::min(route.options.max_body, srv.config.max_body_bytes);
          if (in.hasContentLength() && in.getContentLength64() > static_cast<Poco::Int64>(limit)) {
            response = problemResponse(
                413, "", "the body is larger than " + std::to_string(limit) + " bytes");
          } else {
            if (in.getExpectContinue()) out.sendContinue();
            std::string body;
            bool tooLarge = false;
            if (hasBody) {
              std::istream& stream = in.stream();
              char buf[16384];
              while (stream.read(buf, sizeof buf) || stream.gcount() > 0) {
                body.append(buf, static_cast<std::size_t>(stream.gcount()));
                if (body.size() > limit) {
                  tooLarge = true;
                  break;
                }
              }
              if (!tooLarge && in.hasContentLength() &&
                  static_cast<Poco::Int64>(body.size()) != in.getContentLength64()) {
                throw Poco::Net::MessageException("the body ended before Content-Length");
              }
              bodyUnread = tooLarge;
            }
            if (tooLarge) {
              response = problemResponse(
                  413, "", "the body is larger than " + std::to_string(limit) + " bytes");
            } else {
              request.body = std::move(body);
              srv.registry.set(reg.handle, State::kHandling, Clock::time_point::max());
              response = srv.handler.handle(route, request);
            }
          }
        }
        keepAlive = srv.params->getKeepAlive() && in.getKeepAlive() && session.mayKeepAlive() &&
                    !bodyUnread && !srv.stopping;
        srv.registry.set(reg.handle, State::kWriting, Clock::now() + deadline);
        send(session, out, in.getVersion(), request, response, keepAlive);
        responded = true;
        session.setKeepAlive(keepAlive);
        if (bodyUnread) drain();
      } catch (const Poco::Net::NoMessageException&) {
        break;  // the client closed the connection between requests
      } catch (const UnsupportedVersion&) {
        sendError(session, 400, "only HTTP/1.0 and HTTP/1.1 are spoken here", request, started);
        break;
      } catch (const Poco::Net::MessageException& e) {
        if (!responded)
          sendError(session, 400, "the request is malformed: " + safeMessage(e), request, started);
        break;
      } catch (const Poco::Exception& e) {
        // A network error or a deadline expiry mid-request; the socket may be gone.
        if (!responded && !session.networkException()) {
          sendError(session, 400, "the request could not be read", request, started);
        }
        break;
      }
      srv.handler.completed(
          request, response,
          std::chrono::duration<double, std::milli>(Clock::now() - started).count());
      if (!keepAlive) break;
      srv.registry.set(
          reg.handle, State::kIdle,
          Clock::now() + std::chrono::milliseconds(srv.config.keep_alive_timeout_ms) + deadline);
    }
  }

 private:
  // Reads and drops what the client is still sending of a body we refused, for a short while,
  // so that it gets to read our answer instead of a reset connection.
  void drain() {
    constexpr std::size_t kMaxDrain = 8u << 20;
    const auto until = Clock::now() + std::chrono::seconds(2);
    char buf[16384];
    std::size_t total = 0;
    try {
      socket().setReceiveTimeout(Poco::Timespan(200 * 1000));
      while (total < kMaxDrain && Clock::now() < until) {
        const int n = socket().receiveBytes(buf, sizeof buf);
        if (n <= 0) break;
        total += static_cast<std::size_t>(n);
      }
    } catch (const Poco::Exception&) {
      // Timed out or reset: either way the answer was sent.
    }
  }

  static std::string safeMessage(const Poco::Exception& e) {
    // Poco's parser messages name the problem ("Invalid HTTP version string"); nothing else.
    std::string m = e.message().empty() ? e.what() : e.message();
    if (m.size() > 120) m.resize(120);
    return isValidUtf8(m) ? m : "invalid bytes";
  }

  static void send(ServerSession& session, Poco::Net::HTTPServerResponseImpl& out,
                   const std::string& version, const Request& request, const Response& response,
                   bool keepAlive) {
    out.setVersion(version == Poco::Net::HTTPMessage::HTTP_1_0 ? version
                                                               : Poco::Net::HTTPMessage::HTTP_1_1);
    out.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(response.status));
    out.setKeepAlive(keepAlive);
    out.set("X-Request-Id", request.request_id);
    out.set("Cache-Control", "no-store");
    out.set("X-Content-Type-Options", "nosniff");
    for (const auto& [k, v] : response.headers) out.set(k, v);
    if (!response.body.empty()) out.setContentType(response.content_type);
    out.setContentLength64(static_cast<Poco::Int64>(response.body.size()));
    // Head and body in one send(2): Poco's sendBuffer() takes two, and the client then wakes
    // up twice. A large body goes on its own rather than be copied behind the head.
    constexpr std::size_t kCopyLimit = 64 * 1024;
    std::ostringstream head;
    out.write(head);
    std::string bytes = std::move(head).str();
    const bool withBody = request.method != "HEAD" && !response.body.empty();
    if (withBody && response.body.size() <= kCopyLimit) bytes += response.body;
    session.sendAll(bytes);
    if (withBody && response.body.size() > kCopyLimit) session.sendAll(response.body);
  }

  void sendError(ServerSession& session, int status, const std::string& detail, Request& request,
                 Clock::time_point started) {
    if (request.request_id.empty()) request.request_id = newRequestId();
    const Response response = problemResponse(status, "", detail);
    try {
      Poco::Net::HTTPServerResponseImpl out(session);
      send(session, out, "HTTP/1.1", request, response, false);
    } catch (const Poco::Exception&) {
      // The client is gone; nothing more to say.
    }
    server_.handler.completed(
        request, response,
        std::chrono::duration<double, std::milli>(Clock::now() - started).count());
  }

  HttpServer::Impl& server_;
};

class ConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  explicit ConnectionFactory(HttpServer::Impl& server) : server_(server) {}
  Poco::Net::TCPServerConnection* createConnection(const StreamSocket& socket) override {
    return new HttpConnection(socket, server_);
  }

 private:
  HttpServer::Impl& server_;
};

}  // namespace

HttpServer::HttpServer(const ServerConfig& config, RequestHandler& handler)
    : impl_(std::make_unique<Impl>(config, handler)) {}

HttpServer::~HttpServer() {
  stop();
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

  Poco::Net::ServerSocket socket;
  try {
    const Poco::Net::SocketAddress address(s.config.host, static_cast<Poco::UInt16>(s.config.port));
    // Poco's ServerSocket(address) constructor sets SO_REUSEPORT, which would let a second
    // daemon share the port silently; bind without it.
    socket.bind(address, /*reuseAddress=*/true, /*reusePort=*/false);
    socket.listen(256);
  } catch (const Poco::Exception& e) {
    return Error::invalid("cannot listen on " + s.config.host + ":" +
                          std::to_string(s.config.port) + ": " + e.displayText());
  }

  s.params = new Poco::Net::HTTPServerParams;
  s.params->setKeepAlive(true);
  s.params->setKeepAliveTimeout(
      Poco::Timespan(static_cast<long>(s.config.keep_alive_timeout_ms) * 1000));
  s.params->setTimeout(Poco::Timespan(static_cast<long>(s.config.request_deadline_ms) * 1000));
  s.params->setMaxKeepAliveRequests(10000);
  s.params->setMaxThreads(s.config.threads);
  s.params->setMaxQueued(s.config.max_queued);
  s.params->setThreadIdleTime(Poco::Timespan(30, 0));
  s.pool = std::make_unique<Poco::ThreadPool>("http", 4, s.config.threads + 4, 30);
  s.server =
      std::make_unique<Poco::Net::TCPServer>(new ConnectionFactory(s), *s.pool, socket, s.params);
  s.server->start();
  s.watchdog = std::thread([&s] { s.runWatchdog(); });
  return static_cast<int>(socket.address().port());
}

void HttpServer::stop() {
  auto& s = *impl_;
  if (!s.server || s.stopping.exchange(true)) return;
  s.server->stop();  // stops accepting
  s.watchdogWake.notify_all();
  if (s.watchdog.joinable()) s.watchdog.join();
  // In-flight requests finish; idle keep-alive connections are closed now.
  const auto until = Clock::now() + std::chrono::seconds(30);
  do {
    s.registry.sweep(0, true);
  } while (!s.registry.waitEmpty(std::min(until, Clock::now() + std::chrono::milliseconds(100))) &&
           Clock::now() < until);
  s.pool->joinAll();
}

}  // namespace ciclo::host
