#pragma once
// Logs are JSON lines on stderr: one object per line, with "ts", "level" and "msg" or
// request fields. Poco's loggers are routed here too, so every line has one shape.

#include <Poco/Channel.h>
#include <Poco/JSON/Object.h>

namespace ciclo::host {

// Writes one JSON object as one line; safe from any thread.
void writeLogLine(const Poco::JSON::Object& line);
// Writes one line that is already a serialised JSON object (without the newline).
void writeLogText(std::string line);

// Routes Poco::Logger messages to writeLogLine.
class JsonLineChannel : public Poco::Channel {
 public:
  void log(const Poco::Message& msg) override;
};

// Installs JsonLineChannel on the root logger at `level` ("information", "debug", ...).
void setUpLogging(const std::string& level);

}  // namespace ciclo::host
