#include "domain/clock.h"

#include <charconv>
#include <cstdio>

namespace ciclo {

std::string formatTimestamp(Timestamp t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) {  // outside RFC 3339's four digits; never a real event
    char buf[64];
    std::snprintf(buf, sizeof buf, "%d-%02u-%02uT%02d:%02d:%02d.%03dZ", year,
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()),
                  static_cast<int>(hms.subseconds().count()));
    return buf;
  }
  // Fixed-width fields written digit by digit: this runs several times for every write.
  std::string out = "0000-00-00T00:00:00.000Z";
  auto put = [&out](std::size_t end, unsigned value) {
    for (std::size_t i = end; value != 0; --i, value /= 10)
      out[i] = static_cast<char>('0' + value % 10);
  };
  put(3, static_cast<unsigned>(year));
  put(6, static_cast<unsigned>(ymd.month()));
  put(9, static_cast<unsigned>(ymd.day()));
  put(12, static_cast<unsigned>(hms.hours().count()));
  put(15, static_cast<unsigned>(hms.minutes().count()));
  put(18, static_cast<unsigned>(hms.seconds().count()));
  put(22, static_cast<unsigned>(hms.subseconds().count()));
  return out;
}

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

bool parseTimestamp(std::string_view s, Timestamp& out) {
  using namespace std::chrono;
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec)) {
    return false;
  }
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return false;
  std::size_t pos = 19;
  milliseconds frac{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int scale = 100, n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac += milliseconds{(s[pos] - '0') * scale};
      scale /= 10;
      ++pos;
      ++n;
    }
    if (n == 0 || n > 9) return false;
  }
  minutes offset{0};
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return false;
    }
    offset = minutes{(oh * 60 + om) * (s[pos] == '-' ? -1 : 1)};
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  out = sys_days{ymd} + hours{h} + minutes{mi} + seconds{std::min(sec, 59)} + frac - offset;
  return true;
}

}  // namespace ciclo
