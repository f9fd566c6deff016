#pragma once
// Periodic jobs on the daemon's clock: a job runs when the clock has passed its next time,
// so tests move the clock instead of waiting. Jobs run one at a time on one thread.

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "domain/clock.h"
#include "domain/result.h"

namespace ciclo::host {

class Scheduler {
 public:
  explicit Scheduler(const Clock& clock);
  ~Scheduler();

  // Returns a handle for cancel(). The first run comes one interval from now.
  int every(std::string name, std::chrono::milliseconds interval, std::function<Status()> job);
  void cancel(int handle);
  void start();
  void stop();

 private:
  struct Job {
    int handle;
    std::string name;
    std::chrono::milliseconds interval;
    std::function<Status()> run;
    Timestamp next;
  };
  void loop();

  const Clock& clock_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Job> jobs_;
  int nextHandle_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ciclo::host
