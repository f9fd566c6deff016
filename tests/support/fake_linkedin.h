#pragma once
// A local stand-in for LinkedIn's REST API (api.linkedin.com/rest), serving what its
// documentation shows: the /organizations finders q=emailDomain and q=vanityName answering
// {"elements": [...], "paging": {...}}, with only the fields member access returns unless the
// organization is one the token administers; the industry taxonomy; and its error bodies
// ({"status", "serviceErrorCode", "code", "message"}) for a missing or wrong token (401), a
// missing version (400), an inactive version (426) and throttling (429, with Retry-After
// when asked to).

#include <Poco/Net/HTTPServer.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ciclo::testing {

class FakeLinkedIn {
 public:
  struct Organization {
    long long id = 0;
    std::string name;
    std::string vanity_name;
    std::vector<std::string> email_domains;
    std::string website;
    std::string country, city;  // of the headquarters
    std::vector<long long> industries;
    std::string staff_count_range;  // "SIZE_51_TO_200"
    bool administered = false;      // the token's member is its ADMINISTRATOR: all fields
  };

  // Serves on 127.0.0.1 at an ephemeral port, accepting `token` and versions from 202401.
  explicit FakeLinkedIn(std::string token);
  ~FakeLinkedIn();

  // A manufacturer the token administers (all fields): Officine Rossi, urn:li:organization:1337,
  // officinerossi.it, headquartered in Bergamo, IT, industry 55, 51 to 200 staff.
  static Organization officineRossi() {
    return {1337,
            "Officine Rossi",
            "officine-rossi",
            {"officinerossi.it"},
            "https://www.officinerossi.it",
            "IT",
            "Bergamo",
            {55},
            "SIZE_51_TO_200",
            true};
  }

  std::string baseUrl() const;  // "http://127.0.0.1:<port>/rest"
  void add(Organization o);
  void addIndustry(long long id, std::string name);  // en_US

  // The next `n` calls answer 429 (with Retry-After: `retryAfter` unless empty); the next
  // `n` calls answer `status` with a server error body.
  void throttle(int n, std::string retryAfter);
  void fail(int n, int status);

  int calls() const { return calls_; }
  // Every request's method, path and query, in order.
  std::vector<std::string> requests() const;

 private:
  class Handler;
  class Factory;
  struct Answer {
    int status;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  Answer answer(const std::string& method, const std::string& uri,
                const std::map<std::string, std::string>& headers);

  std::string token_;
  mutable std::mutex mutex_;
  std::vector<Organization> organizations_;
  std::map<long long, std::string> industries_;
  int throttled_ = 0;
  std::string retryAfter_;
  int failing_ = 0;
  int failStatus_ = 500;
  std::vector<std::string> requests_;
  std::atomic<int> calls_{0};
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace ciclo::testing
