#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil {

// ISO-8601 ("2026-03-02T00:15:00Z", "2026-03-02 00:15:00", fractional seconds and "+01:00"
// offsets accepted; no offset = UTC) or unix seconds. Returns nullopt when unparseable.
std::optional<int64_t> parse_timestamp(std::string_view text);
// "2026-03-02T00:15:00Z"
std::string format_iso(int64_t unix_seconds);
// "5m", "15min", "1h", "1d", "300s", "300" (seconds). nullopt when unparseable or <= 0.
std::optional<int64_t> parse_duration(std::string_view text);

}  // namespace vigil
