#include "host/logging.h"

#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <thread>

#include "domain/clock.h"

namespace ciclo::host {

namespace {

void writeAll(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere left to log to
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Set once the kept lines are written for the last time, as the process ends: what is
// logged after that (by other objects ending) is written at once.
std::atomic<bool> linesEnded{false};

// Request lines kept for one write, and the thread that writes them when they are due.
class RequestLines {
 public:
  static RequestLines& instance() {
    static RequestLines lines;
    return lines;
  }

  void keep(std::string line) {
    line += '\n';
    std::unique_lock lock(mutex_);
    const bool wasEmpty = kept_.empty();
    kept_ += line;
    if (kept_.size() >= kFull) {
      lock.unlock();
      write({});
      return;
    }
    if (wasEmpty) {
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
      due_.notify_one();
    }
  }

  // Writes what is kept, then `line`, in that order, as one write.
  void write(std::string_view line) {
    std::lock_guard order(writing_);
    std::string bytes;
    {
      std::lock_guard lock(mutex_);
      bytes.swap(kept_);
    }
    bytes += line;
    writeAll(bytes);
  }

  ~RequestLines() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    due_.notify_one();
    if (thread_.joinable()) thread_.join();
    write({});
    linesEnded = true;
  }

 private:
  static constexpr std::size_t kFull = 64 * 1024;

  void run() {
    ::pthread_setname_np(::pthread_self(), "ciclo-log");
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      due_.wait(lock, [&] { return stopping_ || !kept_.empty(); });
      // The first line kept waits its time: the lines of requests meanwhile join it.
      due_.wait_for(lock, kRequestLinesKept, [&] { return stopping_; });
      lock.unlock();
      write({});
      lock.lock();
    }
  }

  std::mutex writing_;  // one write at a time, so that lines keep their order
  std::mutex mutex_;
  std::condition_variable due_;
  std::string kept_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

void writeLogText(std::string line) {
  line += '\n';
  if (linesEnded) return writeAll(line);
  RequestLines::instance().write(line);
}

void keepRequestLogText(std::string line) {
  if (linesEnded) return writeLogText(std::move(line));
  RequestLines::instance().keep(std::move(line));
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
