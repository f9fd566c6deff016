#pragma once
// connectors/http: outbound HTTP for plugins and the host, over libcurl. Every call has a
// connect and a total timeout, verifies TLS, never follows redirects, caps the response
// size, and refuses - at the moment of connecting, after DNS - addresses on loopback,
// private, link-local, metadata or otherwise non-public networks unless allowed.
// It says what happened; the caller's host decides about retries.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace ciclo::connectors {

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{15000};
  std::size_t max_response_bytes = 64 * 1024;
};

struct HttpOutcome {
  enum class Kind {
    kResponse,   // a response arrived (any status)
    kRetry,      // timeout, connection refused or reset, DNS failure: worth trying again
    kPermanent,  // refused by policy (blocked address, bad URL or scheme): retrying won't help
  };
  Kind kind = Kind::kRetry;
  int status = 0;
  std::string body;          // at most max_response_bytes
  std::string error;         // a short reason when kind != kResponse
  std::string connected_ip;  // the address actually connected to
};

struct HttpClientOptions {
  bool allow_private_networks = false;  // tests only: lets requests reach loopback and LANs
  std::string user_agent = "Ciclo/0.1";
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  HttpOutcome send(const HttpRequest& request) const;

 private:
  HttpClientOptions options_;
};

// True for addresses no outbound request may reach: loopback, RFC 1918 and RFC 6598,
// link-local (cloud metadata), multicast, unspecified, documentation, IPv6 ULA and
// IPv4-mapped forms of those. `address` is a numeric IPv4 or IPv6 address.
bool isForbiddenAddress(const std::string& address);

}  // namespace ciclo::connectors
