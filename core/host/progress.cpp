#include "host/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ciclo::host {

namespace {

std::string grouped(std::int64_t n) {
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

}  // namespace

ProgressMeter::ProgressMeter(std::ostream& out, bool terminal, std::string label, std::string unit)
    : out_(out), terminal_(terminal), label_(std::move(label)), unit_(std::move(unit)) {}

std::string ProgressMeter::duration(double seconds) {
  const auto total = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  char buf[32];
  if (total >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", total / 60, total % 60);
  return buf;
}

void ProgressMeter::update(std::int64_t done, double fraction) {
  const auto now = Clock::now();
  const auto every = terminal_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (drawn_ != Clock::time_point{} && now - drawn_ < every) return;
  if (drawn_ == Clock::time_point{} && !terminal_ && now - started_ < every) return;
  draw(done, fraction);
  drawn_ = now;
}

void ProgressMeter::finish(std::int64_t done, double fraction) {
  draw(done, fraction);
  if (terminal_) out_ << "\n";
  out_.flush();
}

void ProgressMeter::draw(std::int64_t done, double fraction) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  const std::string eta =
      fraction > 0 ? duration(elapsed * (1 - fraction) / fraction) : std::string("?");
  const int percent = static_cast<int>(fraction * 100);
  const std::string counts = grouped(done) + " " + unit_ + "  " +
                             grouped(static_cast<std::int64_t>(rate)) + " " + unit_ + "/s";
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    out_ << "\r[" << std::string(static_cast<std::size_t>(filled), '#')
         << std::string(static_cast<std::size_t>(kWidth - filled), '.') << "] " << percent << "%  "
         << counts << "  ETA " << eta << "\x1b[K";
  } else {
    out_ << label_ << ": " << percent << "%  " << counts << "  ETA " << eta << "\n";
  }
  out_.flush();
}

}  // namespace ciclo::host
