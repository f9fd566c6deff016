#pragma once
// The HTTP transport: one epoll loop accepts connections, reads whole requests (framed by
// host/http_wire) and keeps a deadline for each request's head and body and for idle
// keep-alive connections. The loop answers requests whose routes are quick (they never wait:
// RouteOptions::quick) itself; a pool of handler threads answers the others. Idle and slow
// clients hold no thread, so they never keep a new client from being served. Answers given
// later (Response::later) are sent by the loop once settled. Requests refused below the
// handlers (malformed, too large, the server busy) are answered as problem+json too.

#include <memory>
#include <string>
#include <variant>

#include "domain/result.h"
#include "host/config.h"
#include "host/http.h"

namespace ciclo::host {

// Where a request is admitted: on the event loop, which must never wait, or on a handler
// thread, which may.
enum class Lane { kLoop, kThread };
struct ToThread {};

// What the transport asks of the application, in order, for each request.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Routing, authentication and header checks, on a request read whole (a body over
  // server.max_body_bytes is left unread): the route to run, an answer already, or - on the
  // loop, where nothing may wait - ToThread when admitting or running the request might
  // (a route that is not quick, an API key not verified lately): a handler thread then
  // admits it again.
  virtual std::variant<const Route*, Response, ToThread> admit(Request& request, Lane lane) = 0;
  // Runs the route with the body read: on the loop for a quick route admitted there.
  virtual Response handle(const Route& route, Request& request) = 0;
  // Called after the response was sent (or failed to send); for logs and metrics.
  virtual void completed(const Request& request, const Response& response, double millis) = 0;
};

class HttpServer {
 public:
  HttpServer(const ServerConfig& config, RequestHandler& handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds (without SO_REUSEPORT: a port in use is an error) and starts serving; returns
  // the bound port.
  Result<int> start();
  // Stops accepting, closes idle connections, waits for in-flight requests to finish.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ciclo::host
