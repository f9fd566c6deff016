#pragma once
// connectors/http: outbound HTTP for plugins and the host, over libcurl. Every call has a
// connect and a total timeout, verifies TLS, never follows redirects, caps the response
// size, and refuses - at the moment of connecting, after DNS - addresses on loopback,
// private, link-local, metadata or otherwise non-public networks unless allowed.
// A request may name the hosts it may reach (an allow-list), an HTTP proxy to go through,
// and a number of attempts: failures worth repeating are tried again after a growing,
// jittered delay, or after the peer's Retry-After when it is short enough.

#include <chrono>
#include <optional>
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
  // Hosts the URL may name: "api.example.com" or "*.example.com"; empty: any public host.
  std::vector<std::string> allowed_hosts;
  // "http://host:port" to tunnel through; empty: none (the environment's proxy variables
  // are ignored). Through a proxy the proxy resolves the target, so the address guard
  // cannot see it: a proxied request must name its allowed_hosts.
  std::string proxy;
  // Tries in all (1: no retry). Timeouts, lost connections, 502, 503, 504 and a 429 or 503
  // whose Retry-After is within max_retry_wait are tried again.
  int attempts = 1;
  std::chrono::milliseconds retry_base{500};  // the first delay; doubles, with full jitter
  std::chrono::milliseconds max_retry_wait{30000};
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
  std::vector<std::pair<std::string, std::string>> headers;  // of the response, in order
  int attempts = 0;                                          // how many tries were made

  // The first value of a response header, by case-insensitive name, or "".
  std::string header(const std::string& name) const;
};

struct HttpClientOptions {
  bool allow_private_networks = false;  // tests only: lets requests reach loopback and LANs
  std::string user_agent = "Ciclo/0.1";
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  // Sends with the request's retries; the outcome is the last try's.
  HttpOutcome send(const HttpRequest& request) const;

 private:
  HttpOutcome sendOnce(const HttpRequest& request) const;
  HttpClientOptions options_;
};

// True for addresses no outbound request may reach: loopback, RFC 1918 and RFC 6598,
// link-local (cloud metadata), multicast, unspecified, documentation, IPv6 ULA and
// IPv4-mapped forms of those. `address` is a numeric IPv4 or IPv6 address.
bool isForbiddenAddress(const std::string& address);

// Whether `host` is one of `allowed` ("api.example.com", or "*.example.com" for its
// subdomains), case-insensitively.
bool isAllowedHost(const std::string& host, const std::vector<std::string>& allowed);

// A Retry-After value (RFC 9110: delay-seconds or an HTTP-date) as a delay from `now`;
// nullopt when it is neither.
std::optional<std::chrono::seconds> parseRetryAfter(const std::string& value,
                                                    std::chrono::system_clock::time_point now);

}  // namespace ciclo::connectors
