#pragma once
// Logs are JSON lines on stderr: one object per line, with "ts", "level" and "msg" or
// request fields. Poco's loggers are routed here too, so every line has one shape.

#include <Poco/Channel.h>
#include <Poco/JSON/Object.h>

#include <chrono>
#include <string>

namespace ciclo::host {

// Writes one JSON object as one line at once, behind any request lines still kept; safe
// from any thread.
void writeLogLine(const Poco::JSON::Object& line);
// Writes one line that is already a serialised JSON object (without the newline), at once.
void writeLogText(std::string line);
// Keeps a request's line to be written with others: within kRequestLinesKept of being given,
// as soon as 64 KiB are kept, before any line written at once, and when the process ends.
// A request line costs a write system call otherwise; a crash loses at most the lines of
// the last kRequestLinesKept.
void keepRequestLogText(std::string line);
inline constexpr std::chrono::milliseconds kRequestLinesKept{100};

// Routes Poco::Logger messages to writeLogLine.
class JsonLineChannel : public Poco::Channel {
 public:
  void log(const Poco::Message& msg) override;
};

// Installs JsonLineChannel on the root logger at `level` ("information", "debug", ...).
void setUpLogging(const std::string& level);

}  // namespace ciclo::host
