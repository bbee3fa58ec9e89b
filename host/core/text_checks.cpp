#include "core/text_checks.hpp"

#include <algorithm>

#include "vigil/error.hpp"
#include "vigil/limits.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {

size_t utf8_sequence_length(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char c = byte(pos);
  if (c < 0x80) return 1;
  size_t length;
  uint32_t code;
  if (c >= 0xC2 && c <= 0xDF) length = 2, code = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) length = 3, code = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) length = 4, code = c & 0x07;
  else return 0;
  if (pos + length > text.size()) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) return 0;
    code = code << 6 | (byte(pos + i) & 0x3F);
  }
  const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < smallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

const char* text_problem(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) return "is too long";
  for (size_t pos = 0; pos < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[pos]);
    if (c < 0x20 || c == 0x7f) return "holds a control character";
    const size_t length = utf8_sequence_length(text, pos);
    if (length == 0) return "is not valid UTF-8";
    pos += length;
  }
  return nullptr;
}

void check_text(const std::string& file, long long line, const std::string& what, std::string_view text,
                size_t max_bytes) {
  const char* problem = text_problem(text, max_bytes);
  if (!problem) return;
  std::string message = what + " " + in_quotes(text) + " " + problem;
  if (text.size() > max_bytes)
    message += " (" + std::to_string(text.size()) + " bytes; at most " + std::to_string(max_bytes) + ")";
  throw InputError(where(file, line, message));
}

void check_dim_names(const std::string& file, long long line, const std::vector<std::string>& dims) {
  if (dims.size() > limits::kMaxDims)
    throw InputError(where(file, line,
                           std::to_string(dims.size()) + " dimensions; at most " +
                               std::to_string(limits::kMaxDims) + " are supported"));
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i].empty()) throw InputError(where(file, line, "dimension " + std::to_string(i + 1) + " has no name"));
    check_text(file, line, "dimension name", dims[i], limits::kMaxNameBytes);
    if (std::find(dims.begin(), dims.begin() + static_cast<long>(i), dims[i]) != dims.begin() + static_cast<long>(i))
      throw InputError(where(file, line, "dimension " + in_quotes(dims[i]) + " appears twice"));
  }
}

void check_grid(const std::string& file, int64_t start, int64_t step, uint64_t T) {
  // The range parse_timestamp accepts: 0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
  constexpr int64_t kEarliest = -62167219200, kLatest = 253402300799;
  if (step <= 0 || step > limits::kMaxStepSeconds)
    throw InputError(where(file, 0,
                           "step of " + std::to_string(step) + " seconds is out of range (1 to " +
                               std::to_string(limits::kMaxStepSeconds) + ")"));
  if (start < kEarliest || start > kLatest)
    throw InputError(where(file, 0,
                           "start " + std::to_string(start) +
                               " (unix seconds) is out of range (years 0000 to 9999)"));
  const uint64_t span = T > 0 ? T - 1 : 0;
  if (span > static_cast<uint64_t>(kLatest - start) / static_cast<uint64_t>(step))
    throw InputError(where(file, 0,
                           std::to_string(T) + " points of " + format_duration(step) + " from " + format_iso(start) +
                               " end after the year 9999"));
}

}  // namespace vigil
