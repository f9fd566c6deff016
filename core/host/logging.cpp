#include "host/logging.h"

#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <sstream>

#include "domain/clock.h"

namespace ciclo::host {

void writeLogText(std::string line) {
  static std::mutex mutex;
  line += '\n';
  std::lock_guard lock(mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void writeLogLine(const Poco::JSON::Object& line) {
  std::ostringstream out;
  line.stringify(out);
  writeLogText(out.str());
}

void JsonLineChannel::log(const Poco::Message& msg) {
  static const char* kLevels[] = {"",       "fatal", "critical", "error", "warning",
                                  "notice", "info",  "debug",    "trace"};
  Poco::JSON::Object line(Poco::JSON_PRESERVE_KEY_ORDER);
  line.set("ts", formatTimestamp(std::chrono::time_point_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now())));
  const int prio = static_cast<int>(msg.getPriority());
  line.set("level", std::string(prio >= 1 && prio <= 8 ? kLevels[prio] : "info"));
  line.set("logger", msg.getSource());
  line.set("msg", msg.getText());
  writeLogLine(line);
}

void setUpLogging(const std::string& level) {
  Poco::AutoPtr<Poco::Channel> channel(new JsonLineChannel);
  Poco::Logger::root().setChannel(channel);
  Poco::Logger::root().setLevel(level);
  // Loggers created before this call keep their own channel and level.
  std::vector<std::string> names;
  Poco::Logger::names(names);
  for (const auto& name : names) {
    Poco::Logger::get(name).setChannel(channel);
    Poco::Logger::get(name).setLevel(level);
  }
}

}  // namespace ciclo::host
