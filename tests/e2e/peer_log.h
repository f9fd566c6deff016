#pragma once
// What a Node.js peer of the end-to-end tests (webhook receiver, SMTP server) took, as it
// lists it at GET /_received on its control port.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <thread>

#include "support/daemon.h"

namespace ciclo::testing {

inline Poco::JSON::Array::Ptr peerReceived(int controlPort) {
  auto r = httpCall(controlPort, "GET", "/_received", "");
  Poco::JSON::Parser parser;
  return parser.parse(r.body).extract<Poco::JSON::Array::Ptr>();
}

// Waits until the peer took `n` items, or `seconds` passed; returns what it took.
inline Poco::JSON::Array::Ptr peerReceivedAtLeast(int controlPort, std::size_t n, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  auto got = peerReceived(controlPort);
  while (got->size() < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    got = peerReceived(controlPort);
  }
  return got;
}

}  // namespace ciclo::testing
