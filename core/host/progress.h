#pragma once
// Progress of a long admin command, on stderr: on a terminal a bar redrawn in place with the
// rate and the time left; otherwise (a log, a pipe) a plain line every few seconds.

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace ciclo::host {

class ProgressMeter {
 public:
  // `label` starts each plain line ("import"); `unit` names what is counted ("rows");
  // `terminal` draws the bar.
  ProgressMeter(std::ostream& out, bool terminal, std::string label, std::string unit);

  // `done` units so far, `fraction` of the whole work (0..1).
  void update(std::int64_t done, double fraction);
  // The last state, drawn whatever the time since the previous one, and a line end.
  void finish(std::int64_t done, double fraction);

  // "1:05", "2:03:10"
  static std::string duration(double seconds);

 private:
  using Clock = std::chrono::steady_clock;
  void draw(std::int64_t done, double fraction);

  std::ostream& out_;
  bool terminal_;
  std::string label_;
  std::string unit_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point drawn_{};
};

}  // namespace ciclo::host
