#include "host/scheduler.h"

#include <Poco/Logger.h>
#include <pthread.h>

namespace ciclo::host {

Scheduler::Scheduler(const Clock& clock) : clock_(clock) {}

Scheduler::~Scheduler() {
  stop();
}

int Scheduler::every(std::string name, std::chrono::milliseconds interval,
                     std::function<Status()> job) {
  std::lock_guard lock(mutex_);
  const int handle = nextHandle_++;
  jobs_.push_back({handle, std::move(name), interval, std::move(job), clock_.now() + interval});
  return handle;
}

void Scheduler::cancel(int handle) {
  std::lock_guard lock(mutex_);
  std::erase_if(jobs_, [&](const Job& j) { return j.handle == handle; });
}

void Scheduler::start() {
  thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "ciclo-scheduler");
    loop();
  });
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::loop() {
  auto& log = Poco::Logger::get("ciclo.scheduler");
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    // The clock may jump (tests move it), so look often rather than sleep until a time.
    wake_.wait_for(lock, std::chrono::milliseconds(100));
    for (std::size_t i = 0; i < jobs_.size() && !stopping_; ++i) {
      if (clock_.now() < jobs_[i].next) continue;
      const std::string name = jobs_[i].name;
      auto run = jobs_[i].run;
      jobs_[i].next = clock_.now() + jobs_[i].interval;
      lock.unlock();
      Status status;
      try {
        status = run();
      } catch (const std::exception& e) {
        status = Error::internal(e.what());
      }
      if (!status.ok()) log.warning("job %s failed: %s", name, status.error().message);
      lock.lock();
    }
  }
}

}  // namespace ciclo::host
