#pragma once
// The validation layer of ingest: every name and value that enters from a file (CSV header and
// keys, keys.csv, meta.json, the event schedule, a config) passes these checks where it is read,
// so the rest of the engine and every output writer may assume valid UTF-8 text of bounded
// length without control characters, and grids whose times stay within years 0000-9999.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

// Length of the valid UTF-8 sequence starting at text[pos] (1 for ASCII), 0 when the bytes there
// are not UTF-8 (overlong forms, surrogates and code points past U+10FFFF included).
size_t utf8_sequence_length(std::string_view text, size_t pos);

// What is wrong with a name or value, or nullptr: not UTF-8, a control character, longer than
// `max_bytes`.
const char* text_problem(std::string_view text, size_t max_bytes);

// Throws InputError "file:line: <what> 'text': <problem>" when text_problem finds one.
void check_text(const std::string& file, long long line, const std::string& what, std::string_view text,
                size_t max_bytes);

// Dimension names of a header or of meta.json: at most limits::kMaxDims, each a valid non-empty
// name, no name twice.
void check_dim_names(const std::string& file, long long line, const std::vector<std::string>& dims);

// A grid of T points from `start`, `step` seconds apart: step in (0, kMaxStepSeconds], every
// point's time between 0000-01-01 and 9999-12-31 (what format_iso can write). Throws InputError.
void check_grid(const std::string& file, int64_t start, int64_t step, uint64_t T);

}  // namespace vigil
