#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil {

// ISO-8601 ("2026-03-02T00:15:00Z", "2026-03-02 00:15:00", fractional seconds and "+01:00"
// offsets accepted; no offset = UTC) or unix seconds. Returns nullopt when unparseable.
// Also accepted: a date alone ("2026-03-02" = midnight UTC), "HH:MM" without seconds, offsets
// "+0100" and "+01", decimal unix seconds. Fractions round to the nearest second. Years 0000 to
// 9999 only, for unix seconds too.
std::optional<int64_t> parse_timestamp(std::string_view text);
// "2026-03-02T00:15:00Z"
std::string format_iso(int64_t unix_seconds);
// "5m", "15min", "1h", "1d", "300s", "300" (seconds). nullopt when unparseable or <= 0.
// Units: s/sec/second(s), m/min/minute(s), h/hr/hour(s), d/day(s), w/week(s).
std::optional<int64_t> parse_duration(std::string_view text);
// The largest whole unit: 300 -> "5m", 3600 -> "1h", 90 -> "90s" (parse_duration reads it back).
std::string format_duration(int64_t seconds);

}  // namespace vigil
