#include "http/http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

namespace ciclo::connectors {

namespace {

struct Transfer {
  const HttpRequest* request;
  const HttpClientOptions* options;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool tooLarge = false;
  bool blocked = false;
  std::string blockedAddress;
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Header lines of every response curl reads (a proxy's CONNECT answer first): a status
// line starts the list again, so what is left belongs to the final response.
std::size_t onHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    t.headers.clear();
  } else if (const auto colon = line.find(':');
             colon != std::string_view::npos && t.headers.size() < 200) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    t.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  return n;
}

std::size_t onData(char* data, std::size_t size, std::size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (t.body.size() + n > t.request->max_response_bytes) {
    t.body.append(data, t.request->max_response_bytes - t.body.size());
    t.tooLarge = true;
    return 0;  // aborts the transfer
  }
  t.body.append(data, n);
  return n;
}

std::string addressText(const curl_sockaddr* a) {
  char text[INET6_ADDRSTRLEN] = {};
  if (a->family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a->addr)->sin_addr, text,
              sizeof text);
  } else if (a->family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a->addr)->sin6_addr, text,
              sizeof text);
  }
  return text;
}

// Called by curl with the resolved address it is about to connect to: the one place where
// the check cannot be raced by a DNS answer that changes between check and use.
curl_socket_t onOpenSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto& t = *static_cast<Transfer*>(user);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  // Through a proxy, the one address connected to is the proxy the operator configured.
  if (t.request->proxy.empty() && !t.options->allow_private_networks &&
      isForbiddenAddress(addressText(address))) {
    t.blocked = true;
    t.blockedAddress = addressText(address);
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype, address->protocol);
}

bool inRange4(std::uint32_t ip, const char* network, int prefix) {
  in_addr net{};
  inet_pton(AF_INET, network, &net);
  const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (ip & mask) == (ntohl(net.s_addr) & mask);
}

bool forbidden4(std::uint32_t ip) {
  static const std::pair<const char*, int> kRanges[] = {
      {"0.0.0.0", 8},      {"10.0.0.0", 8},     {"100.64.0.0", 10}, {"127.0.0.0", 8},
      {"169.254.0.0", 16}, {"172.16.0.0", 12},  {"192.0.0.0", 24},  {"192.0.2.0", 24},
      {"192.88.99.0", 24}, {"192.168.0.0", 16}, {"198.18.0.0", 15}, {"198.51.100.0", 24},
      {"203.0.113.0", 24}, {"224.0.0.0", 4},    {"240.0.0.0", 4},
  };
  for (const auto& [net, prefix] : kRanges) {
    if (inRange4(ip, net, prefix)) return true;
  }
  return false;
}

}  // namespace

bool isForbiddenAddress(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return forbidden4(ntohl(v4.s_addr));
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) != 1) return true;  // not an address: refuse
  const auto* b = v6.s6_addr;
  static const std::uint8_t kZero[16] = {};
  if (std::memcmp(b, kZero, 15) == 0 && (b[15] == 0 || b[15] == 1)) return true;  // :: and ::1
  const bool mapped = std::memcmp(b, kZero, 10) == 0 && b[10] == 0xff && b[11] == 0xff;
  const bool compat = std::memcmp(b, kZero, 12) == 0;
  if (mapped || compat) {
    return forbidden4((std::uint32_t{b[12]} << 24) | (std::uint32_t{b[13]} << 16) |
                      (std::uint32_t{b[14]} << 8) | b[15]);
  }
  if ((b[0] & 0xfe) == 0xfc) return true;                  // fc00::/7 unique local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;  // fe80::/10 link-local
  if (b[0] == 0xff) return true;                           // multicast
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return true;  // 2001:db8::/32
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)
    return true;                                  // 64:ff9b::/96 NAT64
  if (b[0] == 0x20 && b[1] == 0x02) return true;  // 2002::/16 6to4 can wrap a private IPv4
  return false;
}

bool isAllowedHost(const std::string& host, const std::vector<std::string>& allowed) {
  const std::string h = lower(host);
  for (const auto& entry : allowed) {
    const std::string a = lower(entry);
    if (a.starts_with("*.")) {
      if (h.size() > a.size() - 1 && h.ends_with(a.substr(1))) return true;
    } else if (h == a) {
      return true;
    }
  }
  return false;
}

std::optional<std::chrono::seconds> parseRetryAfter(const std::string& value,
                                                    std::chrono::system_clock::time_point now) {
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return std::chrono::seconds(999'999'999);
    return std::chrono::seconds(std::stoll(value));
  }
  const time_t at = curl_getdate(value.c_str(), nullptr);
  if (at == -1) return std::nullopt;
  const auto delay = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::from_time_t(at) - now);
  return std::max(delay, std::chrono::seconds(0));
}

std::string HttpOutcome::header(const std::string& name) const {
  const std::string wanted = lower(name);
  for (const auto& [k, v] : headers) {
    if (lower(k) == wanted) return v;
  }
  return {};
}

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

namespace {

// The host part of an http(s) URL, lower-case, or "" when the URL does not parse.
std::string urlHost(const std::string& url) {
  CURLU* u = curl_url();
  std::string host;
  char* part = nullptr;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &part, 0) == CURLUE_OK && part) {
    host = lower(part);
  }
  curl_free(part);
  curl_url_cleanup(u);
  return host;
}

// How long to wait before trying `out` again, or nullopt when it is not worth another try.
std::optional<std::chrono::milliseconds> retryDelay(const HttpRequest& request,
                                                    const HttpOutcome& out, int tried) {
  using namespace std::chrono;
  const bool transient =
      out.kind == HttpOutcome::Kind::kRetry ||
      (out.kind == HttpOutcome::Kind::kResponse &&
       (out.status == 429 || out.status == 502 || out.status == 503 || out.status == 504));
  if (!transient) return std::nullopt;
  if (const auto after = parseRetryAfter(out.header("Retry-After"), system_clock::now())) {
    if (*after > request.max_retry_wait) return std::nullopt;  // the caller plans for later
    return duration_cast<milliseconds>(*after);
  }
  if (out.status == 429) return std::nullopt;  // rate limited without saying for how long
  // Full jitter: a uniform delay up to base * 2^(tries - 1), so that clients that failed
  // together do not come back together.
  const auto ceiling = std::min<milliseconds>(
      request.max_retry_wait, request.retry_base * (1LL << std::min(tried - 1, 20)));
  thread_local std::mt19937_64 random{std::random_device{}()};
  return milliseconds(std::uniform_int_distribution<long long>(0, ceiling.count())(random));
}

}  // namespace

HttpOutcome HttpClient::send(const HttpRequest& request) const {
  for (int tried = 1;; ++tried) {
    HttpOutcome out = sendOnce(request);
    out.attempts = tried;
    if (tried >= request.attempts) return out;
    const auto delay = retryDelay(request, out, tried);
    if (!delay) return out;
    std::this_thread::sleep_for(*delay);
  }
}

HttpOutcome HttpClient::sendOnce(const HttpRequest& request) const {
  HttpOutcome out;
  if (!request.url.starts_with("https://") && !request.url.starts_with("http://")) {
    out.kind = HttpOutcome::Kind::kPermanent;
    out.error = "only http and https URLs are allowed";
    return out;
  }
  if (!request.allowed_hosts.empty() || !request.proxy.empty()) {
    const std::string host = urlHost(request.url);
    if (request.allowed_hosts.empty()) {
      out.kind = HttpOutcome::Kind::kPermanent;
      out.error = "a request through a proxy must name the hosts it may reach";
      return out;
    }
    if (host.empty() || !isAllowedHost(host, request.allowed_hosts)) {
      out.kind = HttpOutcome::Kind::kPermanent;
      out.error = "the host " + (host.empty() ? std::string("of the URL") : host) +
                  " is not on the allow-list";
      return out;
    }
  }
  CURL* curl = curl_easy_init();
  if (!curl) {
    out.error = "cannot start a transfer";
    return out;
  }
  Transfer t{&request, &options_, {}, {}, false, false, {}};
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : request.headers)
    headers = curl_slist_append(headers, (k + ": " + v).c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.total_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, onData);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, onOpenSocket);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  // An empty proxy turns off the environment's http_proxy/https_proxy as well.
  curl_easy_setopt(curl, CURLOPT_PROXY, request.proxy.c_str());
  if (!request.proxy.empty())
    curl_easy_setopt(curl, CURLOPT_PROXYTYPE, static_cast<long>(CURLPROXY_HTTP));

  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  char* ip = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip) out.connected_ip = ip;
  out.body = std::move(t.body);
  out.headers = std::move(t.headers);
  if (t.blocked) {
    out.kind = HttpOutcome::Kind::kPermanent;
    out.error = "the address " + t.blockedAddress + " is not allowed";
  } else if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && t.tooLarge)) {
    out.kind = HttpOutcome::Kind::kResponse;
    out.status = static_cast<int>(status);
  } else if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT) {
    out.kind = HttpOutcome::Kind::kPermanent;
    out.error = curl_easy_strerror(rc);
  } else {
    out.kind = HttpOutcome::Kind::kRetry;
    out.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return out;
}

}  // namespace ciclo::connectors
