#pragma once
// The HTTP transport: one epoll loop accepts connections, reads whole requests (framed by
// host/http_wire) and keeps a deadline for each request's head and body and for idle
// keep-alive connections; a pool of handler threads answers them. Idle and slow clients hold
// no thread, so they never keep a new client from being served. Answers given later
// (Response::later) are sent by the loop once settled. Requests refused below the handlers
// (malformed, too large, the server busy) are answered as problem+json too.

#include <memory>
#include <string>
#include <variant>

#include "domain/result.h"
#include "host/config.h"
#include "host/http.h"

namespace ciclo::host {

// What the transport asks of the application, in order, for each request.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Routing, authentication and header checks, on a request read whole (a body over
  // server.max_body_bytes is left unread): either the route to run, or an answer already.
  virtual std::variant<const Route*, Response> admit(Request& request) = 0;
  // Runs the route with the body read.
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
