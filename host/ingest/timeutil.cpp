#include "vigil/timeutil.hpp"

#include <charconv>
#include <cstdio>

namespace vigil {
namespace {

// Howard Hinnant's days-from-civil: proleptic Gregorian date -> days since 1970-01-01.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at `pos`.
bool read_digits(std::string_view s, size_t pos, size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!is_digit(s[i])) return false;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  out = v;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

constexpr int64_t kEarliest = 62167219201;  // -kEarliest: a second before 0000-01-01
constexpr int64_t kLatest = 253402300800;   // 10000-01-01T00:00:00Z

// Unix seconds, integer or decimal; the fraction rounds half away from zero.
std::optional<int64_t> parse_unix(std::string_view s) {
  const bool negative = !s.empty() && s.front() == '-';
  if (negative || (!s.empty() && s.front() == '+')) s.remove_prefix(1);
  if (s.empty() || !is_digit(s.front())) return std::nullopt;
  int64_t whole = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), whole);
  if (ec != std::errc()) return std::nullopt;
  const char* end = s.data() + s.size();
  const char* p = ptr;
  bool round_up = false;
  if (p != end && *p == '.') {
    ++p;
    round_up = p != end && is_digit(*p) && *p >= '5';
    while (p != end && is_digit(*p)) ++p;
  }
  if (p != end) return std::nullopt;
  // The years ISO-8601 can write, 0000 to 9999: grid arithmetic then cannot overflow.
  if (whole >= (negative ? kEarliest : kLatest)) return std::nullopt;
  whole += round_up;
  return negative ? -whole : whole;
}

// YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|±HH[:MM]|±HHMM]
std::optional<int64_t> parse_iso(std::string_view s) {
  unsigned year, month, day;
  if (s.size() < 10 || !read_digits(s, 0, 4, year) || s[4] != '-' || !read_digits(s, 5, 2, month) ||
      s[7] != '-' || !read_digits(s, 8, 2, day))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  int64_t seconds = days_from_civil(year, month, day) * 86400;
  if (s.size() == 10) return seconds;

  const char sep = s[10];
  if (sep != 'T' && sep != 't' && sep != ' ') return std::nullopt;
  unsigned hour, minute, second = 0;
  if (!read_digits(s, 11, 2, hour) || s.size() < 16 || s[13] != ':' || !read_digits(s, 14, 2, minute))
    return std::nullopt;
  size_t pos = 16;
  if (pos < s.size() && s[pos] == ':') {
    if (!read_digits(s, pos + 1, 2, second)) return std::nullopt;
    pos += 3;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
      ++pos;
      if (pos >= s.size() || !is_digit(s[pos])) return std::nullopt;
      seconds += s[pos] >= '5';  // to the nearest second: the grid is whole seconds
      while (pos < s.size() && is_digit(s[pos])) ++pos;
    }
  }
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  seconds += hour * 3600 + minute * 60 + second;
  if (pos == s.size()) return seconds;

  if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) return seconds;
  if (s[pos] != '+' && s[pos] != '-') return std::nullopt;
  const int sign = s[pos] == '+' ? 1 : -1;
  unsigned off_hour, off_minute = 0;
  if (!read_digits(s, pos + 1, 2, off_hour)) return std::nullopt;
  pos += 3;
  if (pos < s.size()) {
    if (s[pos] == ':') ++pos;
    if (!read_digits(s, pos, 2, off_minute) || pos + 2 != s.size()) return std::nullopt;
  }
  if (off_hour > 23 || off_minute > 59) return std::nullopt;
  return seconds - sign * static_cast<int64_t>(off_hour * 3600 + off_minute * 60);
}

}  // namespace

std::optional<int64_t> parse_timestamp(std::string_view text) {
  text = trim(text);
  if (text.size() >= 10 && text[4] == '-') return parse_iso(text);
  return parse_unix(text);
}

std::string format_iso(int64_t unix_seconds) {
  int64_t days = unix_seconds / 86400, rest = unix_seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02u:%02u:%02uZ", static_cast<long long>(y), m, d,
                static_cast<unsigned>(rest / 3600), static_cast<unsigned>(rest / 60 % 60),
                static_cast<unsigned>(rest % 60));
  return buf;
}

std::optional<int64_t> parse_duration(std::string_view text) {
  text = trim(text);
  int64_t count = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (ec != std::errc() || ptr == text.data() || count <= 0) return std::nullopt;
  const std::string_view unit = trim(text.substr(static_cast<size_t>(ptr - text.data())));
  struct Unit {
    std::string_view name;
    int64_t seconds;
  };
  static const Unit kUnits[] = {
      {"", 1},         {"s", 1},      {"sec", 1},       {"secs", 1},      {"second", 1},   {"seconds", 1},
      {"m", 60},       {"min", 60},   {"mins", 60},     {"minute", 60},   {"minutes", 60}, {"h", 3600},
      {"hr", 3600},    {"hrs", 3600}, {"hour", 3600},   {"hours", 3600},  {"d", 86400},    {"day", 86400},
      {"days", 86400}, {"w", 604800}, {"week", 604800}, {"weeks", 604800}};
  for (const Unit& u : kUnits) {
    if (u.name != unit) continue;
    if (count > INT64_MAX / u.seconds) return std::nullopt;
    return count * u.seconds;
  }
  return std::nullopt;
}

std::string format_duration(int64_t seconds) {
  if (seconds > 0) {
    if (seconds % 86400 == 0) return std::to_string(seconds / 86400) + "d";
    if (seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
    if (seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  }
  return std::to_string(seconds) + "s";
}

}  // namespace vigil
