// The long-CSV reader. The file is mapped, cut at line breaks into one piece per thread, and the
// pieces are parsed in parallel into rows that refer to chunk-local series ids; the merge then
// ranks the dimension values, orders the series, infers the grid and places every row.
#include <algorithm>
#include <cfloat>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <numeric>
#include <thread>
#include <unordered_map>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/text_checks.hpp"
#include "ingest/csv_text.hpp"
#include "vigil/error.hpp"
#include "vigil/limits.hpp"
#include "vigil/ingest.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

// Smaller pieces are not worth a thread.
constexpr size_t kMinChunkBytes = 256 * 1024;

// A data row, kept until the grid is known. Its line is not stored (it is needed only for an
// error message, and then found again by walking the chunk): 16 bytes a row instead of 24.
struct Row {
  int64_t time;
  uint32_t series;  // id in its chunk's key tables; kEncoded marks the `encoded` table
  float value;
};

// Series ids of the chunk's `encoded` table carry this bit; ids without it are in `raw`.
constexpr uint32_t kEncoded = 0x80000000u;

// Interns byte strings in an open-addressing table: a key seen before costs one hash and one
// comparison, and millions of distinct keys share one arena instead of a string each.
class KeyTable {
 public:
  uint32_t intern(std::string_view key) {
    if (slots_.empty()) slots_.assign(1024, 0);
    const size_t hash = std::hash<std::string_view>{}(key);
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const uint32_t slot = slots_[i];
      if (slot == 0) {
        const uint32_t id = static_cast<uint32_t>(hashes_.size());
        arena_.append(key);
        ends_.push_back(arena_.size());
        hashes_.push_back(hash);
        slots_[i] = id + 1;
        if (hashes_.size() * 2 > slots_.size()) grow();
        return id;
      }
      if (hashes_[slot - 1] == hash && this->key(slot - 1) == key) return slot - 1;
    }
  }
  size_t size() const { return hashes_.size(); }
  std::string_view key(uint32_t id) const {
    const size_t begin = id ? ends_[id - 1] : 0;
    return std::string_view(arena_).substr(begin, ends_[id] - begin);
  }

 private:
  void grow() {
    slots_.assign(slots_.size() * 2, 0);
    const size_t mask = slots_.size() - 1;
    for (uint32_t id = 0; id < hashes_.size(); ++id) {
      size_t i = hashes_[id] & mask;
      while (slots_[i]) i = (i + 1) & mask;
      slots_[i] = id + 1;
    }
  }
  std::string arena_;
  std::vector<size_t> ends_;
  std::vector<size_t> hashes_;
  std::vector<uint32_t> slots_;  // id + 1; 0 = empty
};

// The distinct timestamps of a chunk: an open-addressing set, as every row of a file ordered by
// series brings a new timestamp to look up.
class TimeSet {
 public:
  void insert(int64_t time) {
    if (slots_.empty()) slots_.assign(1024, kEmpty);
    const size_t mask = slots_.size() - 1;
    // Fibonacci hashing spreads regular timestamps (multiples of the step) over the slots.
    for (size_t i = (static_cast<uint64_t>(time) * 0x9E3779B97F4A7C15ull) >> 20 & mask;; i = (i + 1) & mask) {
      if (slots_[i] == time) return;
      if (slots_[i] == kEmpty) {
        slots_[i] = time;
        if (++size_ * 2 > slots_.size()) grow();
        return;
      }
    }
  }
  // Appends the set's times to `out`.
  void append_to(std::vector<int64_t>& out) const {
    for (int64_t time : slots_)
      if (time != kEmpty) out.push_back(time);
  }

 private:
  static constexpr int64_t kEmpty = INT64_MIN;  // parse_timestamp never returns it
  void grow() {
    std::vector<int64_t> old = std::move(slots_);
    slots_.assign(old.size() * 2, kEmpty);
    size_ = 0;
    for (int64_t time : old)
      if (time != kEmpty) insert(time);
  }
  std::vector<int64_t> slots_;
  size_t size_ = 0;
};

// Where the header put each column.
struct Layout {
  size_t columns = 0;
  size_t time_col = 0, value_col = 0;
  std::vector<size_t> dim_cols;
  std::vector<std::string> dims;
  // Dimension columns side by side: an unquoted row's key is then the bytes from the first to
  // the last of them, commas included, with no copy.
  bool dims_adjacent = false;
  std::string header;  // "timestamp,region,value", for messages
};

struct Chunk {
  std::string_view text;
  std::vector<Row> rows;
  // Series keys. `raw`: the text of adjacent unquoted dimension fields ("web,android,br").
  // `encoded`: any other row's dimension values, each as a 4-byte length and the bytes. One
  // series may appear in both; the merge unites them by value.
  KeyTable raw, encoded;
  TimeSet times;
  uint32_t lines = 0;       // lines in `text`; every chunk but the last ends with a line break
  uint32_t error_line = 0;  // the first problem, its line within the chunk; 0 = none
  std::string error;
};

enum class ValueStatus { ok, not_a_number, out_of_range };

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Empty, nan and +-inf become NaN: a point that was reported but carries no usable value.
ValueStatus parse_value(std::string_view text, float& out) {
  text = trim(text);
  if (text.empty()) {
    out = NAN;
    return ValueStatus::ok;
  }
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (*begin == '+' && end - begin > 1 && begin[1] != '-') ++begin;  // from_chars rejects '+'
  auto [ptr, ec] = std::from_chars(begin, end, out);
  if (ec == std::errc::result_out_of_range && ptr == end) {
    // Too small for float32 rounds to zero; too large is an error rather than a silent inf.
    double wide = 0;
    const auto [wide_ptr, wide_ec] = std::from_chars(begin, end, wide);
    if (wide_ec != std::errc() || wide_ptr != end || std::fabs(wide) > FLT_MAX)
      return ValueStatus::out_of_range;
    out = static_cast<float>(wide);
    return ValueStatus::ok;
  }
  if (ec != std::errc() || ptr != end) return ValueStatus::not_a_number;
  if (!std::isfinite(out)) out = NAN;
  return ValueStatus::ok;
}

Layout parse_header(const std::string& path, long long line_number, std::string_view line) {
  std::vector<std::string_view> fields;
  std::string scratch;
  if (const char* problem = csv::split(line, fields, scratch))
    throw InputError(where(path, line_number, std::string("header: ") + problem));
  Layout layout;
  layout.columns = fields.size();
  std::vector<std::string> names(fields.begin(), fields.end());
  bool has_time = false, has_value = false;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty())
      throw InputError(where(path, line_number, "header: column " + std::to_string(i + 1) + " has no name"));
    if (std::find(names.begin(), names.begin() + i, names[i]) != names.begin() + i)
      throw InputError(where(path, line_number, "header: column '" + names[i] + "' appears twice"));
    if (names[i] == "timestamp") {
      layout.time_col = i;
      has_time = true;
    } else if (names[i] == "value") {
      layout.value_col = i;
      has_value = true;
    } else {
      layout.dim_cols.push_back(i);
      layout.dims.push_back(names[i]);
    }
    layout.header += (i ? "," : "") + names[i];
  }
  layout.dims_adjacent = !layout.dim_cols.empty() &&
                         layout.dim_cols.back() - layout.dim_cols.front() + 1 == layout.dim_cols.size();
  for (const char* required : {"timestamp", "value"}) {
    if (required == std::string_view("timestamp") ? has_time : has_value) continue;
    throw InputError(where(path, line_number,
                           std::string("header has no '") + required + "' column (columns: " +
                               csv::join(names) + "); expected timestamp,<dims>...,value"));
  }
  check_dim_names(path, line_number, layout.dims);
  return layout;
}

// Rough row count, so the row vector does not regrow through GBs.
size_t estimate_rows(std::string_view text) {
  const std::string_view sample = text.substr(0, 64 * 1024);
  const size_t breaks = static_cast<size_t>(std::count(sample.begin(), sample.end(), '\n'));
  if (sample.empty() || breaks == 0) return 16;
  return static_cast<size_t>(static_cast<double>(text.size()) * breaks / sample.size() * 1.05) + 16;
}

// Scans the line at `p` for commas, recording up to `capacity` of them and counting all. Stops
// at the line break, at a double quote (the caller then splits the line with csv::split) or at
// `end`, and returns where it stopped. This scan is most of the parsing work, hence SSE2.
const char* scan_commas(const char* p, const char* end, const char** commas, size_t capacity, size_t& count) {
  count = 0;
  auto record = [&](const char* at) {
    if (count < capacity) commas[count] = at;
    ++count;
  };
#if defined(__SSE2__)
  const __m128i comma = _mm_set1_epi8(','), newline = _mm_set1_epi8('\n'), quote = _mm_set1_epi8('"');
  while (end - p >= 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    unsigned hits = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, comma)));
    const unsigned stops = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(block, newline), _mm_cmpeq_epi8(block, quote))));
    if (stops) hits &= (stops & (0u - stops)) - 1;  // only the commas before the first stop
    for (; hits; hits &= hits - 1) record(p + __builtin_ctz(hits));
    if (stops) return p + __builtin_ctz(stops);
    p += 16;
  }
#endif
  for (; p < end && *p != '\n' && *p != '"'; ++p)
    if (*p == ',') record(p);
  return p;
}

// What is wrong with a row's dimension values (text_checks.hpp), or "".
std::string key_problem(const std::string_view* fields, const Layout& layout) {
  for (size_t d = 0; d < layout.dim_cols.size(); ++d) {
    const std::string_view value = fields[layout.dim_cols[d]];
    if (const char* problem = text_problem(value, limits::kMaxValueBytes)) {
      std::string message = layout.dims[d] + " value " + in_quotes(value) + " " + problem;
      if (value.size() > limits::kMaxValueBytes)
        message += " (" + std::to_string(value.size()) + " bytes; at most " +
                   std::to_string(limits::kMaxValueBytes) + ")";
      return message;
    }
  }
  return "";
}

void parse_chunk(Chunk& chunk, const Layout& layout) {
  chunk.rows.reserve(estimate_rows(chunk.text));
  std::vector<std::string_view> plain_fields(layout.columns), quoted_fields;
  std::vector<const char*> commas(layout.columns);
  std::string scratch, key, last_time_text;
  std::vector<uint32_t> successor;  // raw id -> 1 + the raw id of the row that followed it
  int64_t last_time = 0;
  uint32_t last_raw_series = 0;
  bool have_last_time = false, have_last_raw = false;
  uint32_t line_number = 0;
  auto fail = [&](std::string problem) {
    chunk.error_line = line_number;
    chunk.error = std::move(problem);
  };

  const char* p = chunk.text.data();
  const char* const end = p + chunk.text.size();
  while (p < end) {
    ++line_number;
    const char* const line_start = p;
    size_t commas_found = 0;
    const char* const stop = scan_commas(p, end, commas.data(), commas.size(), commas_found);
    const bool quoted = stop < end && *stop == '"';
    const std::string_view* fields;
    size_t field_count;
    if (quoted) {  // rare: the general splitter takes the line
      const char* nl = static_cast<const char*>(std::memchr(stop, '\n', static_cast<size_t>(end - stop)));
      std::string_view line(line_start, static_cast<size_t>((nl ? nl : end) - line_start));
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      p = nl ? nl + 1 : end;
      if (const char* problem = csv::split(line, quoted_fields, scratch)) return fail(problem);
      fields = quoted_fields.data();
      field_count = quoted_fields.size();
    } else {
      p = stop < end ? stop + 1 : end;
      const char* line_end = stop;
      if (line_end > line_start && line_end[-1] == '\r') --line_end;
      if (line_end == line_start) continue;  // a blank line
      field_count = commas_found + 1;
      if (field_count == layout.columns) {
        const char* field_start = line_start;
        for (size_t i = 0; i < commas_found; ++i) {
          plain_fields[i] = std::string_view(field_start, static_cast<size_t>(commas[i] - field_start));
          field_start = commas[i] + 1;
        }
        plain_fields[commas_found] =
            std::string_view(field_start, static_cast<size_t>(line_end - field_start));
      }
      fields = plain_fields.data();
    }
    if (field_count != layout.columns)
      return fail("expected " + std::to_string(layout.columns) + " fields (" + layout.header + "), found " +
                  std::to_string(field_count));

    // Rows of one time step usually follow each other: parse each distinct text once.
    const std::string_view time_text = fields[layout.time_col];
    if (!have_last_time || time_text != last_time_text) {
      const std::optional<int64_t> time = parse_timestamp(time_text);
      if (!time) return fail("timestamp " + in_quotes(time_text) + " is not ISO-8601 or unix seconds");
      last_time = *time;
      last_time_text.assign(time_text);
      have_last_time = true;
      chunk.times.insert(last_time);
    }

    float value;
    const std::string_view value_text = fields[layout.value_col];
    switch (parse_value(value_text, value)) {
      case ValueStatus::ok:
        break;
      case ValueStatus::not_a_number:
        return fail("value " + in_quotes(value_text) + " is not a number");
      case ValueStatus::out_of_range:
        return fail("value " + in_quotes(value_text) + " is out of range for float32");
    }

    uint32_t series = 0;  // without dimension columns, every row is of the one series
    if (layout.dims_adjacent && !quoted) {
      const std::string_view first = fields[layout.dim_cols.front()], last = fields[layout.dim_cols.back()];
      const std::string_view raw(first.data(), static_cast<size_t>(last.data() + last.size() - first.data()));
      // Files repeat one order of series (all series at each time step, or each series through
      // time), so the series that followed the previous one last time is a good guess; checking
      // it costs one comparison instead of a hash and a probe.
      const uint32_t guess = have_last_raw ? successor[last_raw_series] : 0;
      if (guess && chunk.raw.key(guess - 1) == raw) {
        series = guess - 1;
      } else {
        const size_t known = chunk.raw.size();
        series = chunk.raw.intern(raw);
        if (series >= known)  // a series new to this chunk: its values are checked once
          if (const std::string problem = key_problem(fields, layout); !problem.empty()) return fail(problem);
        if (series >= successor.size()) successor.resize(series + 1, 0);
        if (have_last_raw) successor[last_raw_series] = series + 1;
      }
      last_raw_series = series;
      have_last_raw = true;
    } else if (!layout.dim_cols.empty()) {
      key.clear();
      for (size_t col : layout.dim_cols) {
        const uint32_t length = static_cast<uint32_t>(fields[col].size());
        key.append(reinterpret_cast<const char*>(&length), sizeof length);
        key.append(fields[col]);
      }
      const size_t known = chunk.encoded.size();
      series = chunk.encoded.intern(key);
      if (series >= known)
        if (const std::string problem = key_problem(fields, layout); !problem.empty()) return fail(problem);
      series |= kEncoded;
    }
    chunk.rows.push_back(Row{last_time, series, value});
  }
  chunk.lines = line_number;
}

// The line within the chunk of its row `index`: rows are the chunk's non-blank lines, in order.
uint32_t line_in_chunk(const Chunk& chunk, size_t index) {
  csv::Lines lines(chunk.text);
  std::string_view line;
  long long number = 0;
  size_t row = 0;
  while (lines.next(line, number))
    if (!line.empty() && row++ == index) break;
  return static_cast<uint32_t>(number);
}

// Cuts `body` after line breaks into about `pieces` parts of similar size.
std::vector<std::string_view> cut(std::string_view body, size_t pieces) {
  std::vector<std::string_view> parts;
  size_t begin = 0;
  for (size_t i = 1; i <= pieces; ++i) {
    size_t stop = body.size();
    if (i < pieces) {
      stop = std::max(begin, body.size() / pieces * i);
      const size_t nl = body.find('\n', stop);
      stop = nl == std::string_view::npos ? body.size() : nl + 1;
    }
    parts.push_back(body.substr(begin, stop - begin));
    begin = stop;
  }
  return parts;
}

void parse_parallel(std::vector<Chunk>& chunks, const Layout& layout) {
  std::vector<std::exception_ptr> failures(chunks.size());
  auto work = [&](size_t i) {
    try {
      parse_chunk(chunks[i], layout);
    } catch (...) {
      failures[i] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (size_t i = 1; i < chunks.size(); ++i) threads.emplace_back(work, i);
  work(0);
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& failure : failures)
    if (failure) std::rethrow_exception(failure);
}

// The most common positive gap between consecutive distinct timestamps; ties go to the smaller.
int64_t infer_step(const std::vector<int64_t>& times) {
  std::vector<int64_t> gaps;
  gaps.reserve(times.size());
  for (size_t i = 1; i < times.size(); ++i) gaps.push_back(times[i] - times[i - 1]);
  std::sort(gaps.begin(), gaps.end());
  int64_t best = 0;
  size_t best_count = 0;
  for (size_t i = 0; i < gaps.size();) {
    size_t j = i;
    while (j < gaps.size() && gaps[j] == gaps[i]) ++j;
    if (j - i > best_count) {
      best = gaps[i];
      best_count = j - i;
    }
    i = j;
  }
  return best;
}

// A row's series as an index into its chunk's keys: the raw table, then the encoded one.
size_t local_index(const Chunk& chunk, uint32_t series) {
  return series & kEncoded ? chunk.raw.size() + (series & ~kEncoded) : series;
}

// Builds data.keys from the chunks' key tables: dictionaries sorted, so codes order like
// values, and series sorted by their codes. Returns, per chunk, local_index -> series index.
std::vector<std::vector<uint32_t>> merge_series(const std::vector<Chunk>& chunks, const Layout& layout,
                                                Keys& keys) {
  const size_t D = layout.dims.size();
  std::vector<std::vector<uint32_t>> to_series(chunks.size());
  keys.dims = layout.dims;
  if (D == 0) {
    keys.series_without_dims = 1;
    for (size_t c = 0; c < chunks.size(); ++c) to_series[c].assign(1, 0);
    return to_series;
  }

  // Distinct values per dimension; each chunk-local series as D first-seen value ids.
  std::vector<std::unordered_map<std::string_view, uint32_t>> value_ids(D);
  std::vector<std::vector<std::string_view>> values(D);
  std::vector<std::vector<uint32_t>> local_ids(chunks.size());
  auto add_value = [&](size_t c, size_t d, std::string_view value) {
    const auto [it, inserted] = value_ids[d].try_emplace(value, static_cast<uint32_t>(values[d].size()));
    if (inserted) values[d].push_back(value);
    local_ids[c].push_back(it->second);
  };
  for (size_t c = 0; c < chunks.size(); ++c) {
    const Chunk& chunk = chunks[c];
    local_ids[c].reserve((chunk.raw.size() + chunk.encoded.size()) * D);
    for (uint32_t id = 0; id < chunk.raw.size(); ++id) {
      std::string_view key = chunk.raw.key(id);
      for (size_t d = 0; d + 1 < D; ++d) {
        const size_t comma = key.find(',');
        add_value(c, d, key.substr(0, comma));
        key.remove_prefix(comma + 1);
      }
      add_value(c, D - 1, key);
    }
    for (uint32_t id = 0; id < chunk.encoded.size(); ++id) {
      std::string_view key = chunk.encoded.key(id);
      for (size_t d = 0; d < D; ++d) {
        uint32_t length;
        std::memcpy(&length, key.data(), sizeof length);
        add_value(c, d, key.substr(sizeof length, length));
        key.remove_prefix(sizeof length + length);
      }
    }
  }
  std::vector<std::vector<uint32_t>> rank(D);
  keys.dictionary.assign(D, {});
  keys.index.assign(D, {});
  for (size_t d = 0; d < D; ++d) {
    std::vector<uint32_t> order(values[d].size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](uint32_t a, uint32_t b) { return values[d][a] < values[d][b]; });
    rank[d].resize(order.size());
    keys.dictionary[d].reserve(order.size());
    keys.index[d].reserve(order.size());
    for (uint32_t r = 0; r < order.size(); ++r) {
      rank[d][order[r]] = r;
      keys.dictionary[d].emplace_back(values[d][order[r]]);
      keys.index[d].emplace(keys.dictionary[d].back(), r);
    }
  }

  // One series per distinct code tuple, across chunks.
  KeyTable series_table;
  std::vector<uint32_t> tuples;  // [series][D] codes, in first-seen order
  std::vector<std::vector<uint32_t>> first_seen(chunks.size());
  std::vector<uint32_t> tuple(D);
  for (size_t c = 0; c < chunks.size(); ++c) {
    const size_t n = chunks[c].raw.size() + chunks[c].encoded.size();
    first_seen[c].resize(n);
    for (size_t id = 0; id < n; ++id) {
      for (size_t d = 0; d < D; ++d) tuple[d] = rank[d][local_ids[c][id * D + d]];
      const uint32_t series = series_table.intern(
          std::string_view(reinterpret_cast<const char*>(tuple.data()), D * sizeof(uint32_t)));
      if (series * D == tuples.size()) tuples.insert(tuples.end(), tuple.begin(), tuple.end());
      first_seen[c][id] = series;
    }
  }
  const size_t N = series_table.size();
  std::vector<uint32_t> order(N);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return std::lexicographical_compare(tuples.begin() + a * D, tuples.begin() + (a + 1) * D,
                                        tuples.begin() + b * D, tuples.begin() + (b + 1) * D);
  });
  std::vector<uint32_t> position(N);
  keys.codes.resize(N * D);
  for (uint32_t r = 0; r < N; ++r) {
    position[order[r]] = r;
    std::copy(tuples.begin() + order[r] * D, tuples.begin() + (order[r] + 1) * D, keys.codes.begin() + r * D);
  }
  for (size_t c = 0; c < chunks.size(); ++c) {
    to_series[c].resize(first_seen[c].size());
    for (size_t id = 0; id < first_seen[c].size(); ++id) to_series[c][id] = position[first_seen[c][id]];
  }
  return to_series;
}

// The first row, in file order, that cannot be placed: off the grid, or a duplicate that
// DuplicatePolicy::Error forbids.
struct Problem {
  static constexpr size_t kNone = SIZE_MAX;
  size_t chunk = kNone, row = 0;
  bool off_grid = false;
  size_t series = 0;
  bool operator<(const Problem& other) const {
    return chunk != other.chunk ? chunk < other.chunk : row < other.row;
  }
};

// Places, in file order, the rows whose time step lies in [t_begin, t_end), so that
// --duplicates last|sum resolve as a single pass would. The worker with t_begin 0 also reports
// rows off the grid. Stops at its first problem: a later one cannot be the first in the file.
Problem place_rows(const std::vector<Chunk>& chunks, const std::vector<std::vector<uint32_t>>& to_series,
                   DuplicatePolicy duplicates, bool snap, size_t t_begin, size_t t_end, Dataset& data) {
  const size_t N = data.N();
  for (size_t c = 0; c < chunks.size(); ++c) {
    const Chunk& chunk = chunks[c];
    for (size_t r = 0; r < chunk.rows.size(); ++r) {
      const Row& row = chunk.rows[r];
      const int64_t offset = row.time - data.start;
      if (offset % data.step != 0 && !snap) {
        if (t_begin == 0) return Problem{c, r, true, 0};
        continue;
      }
      const size_t t = static_cast<size_t>((snap ? offset + data.step / 2 : offset) / data.step);
      if (t < t_begin || t >= t_end) continue;
      const size_t series = to_series[c][local_index(chunk, row.series)];
      const size_t cell = t * N + series;
      float& value = data.values[cell];
      if (!data.observed[cell]) {
        data.observed[cell] = 1;
        value = row.value;
        continue;
      }
      switch (duplicates) {
        case DuplicatePolicy::Last:
          value = row.value;
          break;
        case DuplicatePolicy::Sum:
          if (std::isnan(value))
            value = row.value;
          else if (!std::isnan(row.value))
            value += row.value;
          break;
        case DuplicatePolicy::Error:
          return Problem{c, r, false, series};
      }
    }
  }
  return Problem{};
}

// The line of the earliest row before row `r` of chunk `c` with the same point: looked for only
// when a duplicate is an error.
template <class LineOf>
long long first_line_of_point(const std::vector<Chunk>& chunks,
                              const std::vector<std::vector<uint32_t>>& to_series, size_t c, size_t r,
                              size_t series, const LineOf& line_of) {
  const int64_t time = chunks[c].rows[r].time;
  for (size_t c2 = 0; c2 <= c; ++c2)
    for (size_t r2 = 0; r2 < (c2 == c ? r : chunks[c2].rows.size()); ++r2) {
      const Row& other = chunks[c2].rows[r2];
      if (other.time == time && to_series[c2][local_index(chunks[c2], other.series)] == series)
        return line_of(c2, r2);
    }
  return 0;
}

}  // namespace

Dataset read_csv(const std::string& path, const IngestOptions& options) {
  return read_csv(path, options, nullptr);
}

Dataset read_csv(const std::string& path, const IngestOptions& options, IngestStats* stats) {
  const auto started = std::chrono::steady_clock::now();
  csv::FileBytes file(path);
  csv::Lines lines(csv::strip_bom(file.view()));
  std::string_view header;
  long long header_line = 0;
  bool has_header = false;
  while (lines.next(header, header_line))
    if (!header.empty()) {
      has_header = true;
      break;
    }
  if (!has_header) throw InputError(where(path, 0, "empty file"));
  const Layout layout = parse_header(path, header_line, header);

  const std::string_view body = lines.rest();
  const size_t wanted = options.threads > 0 ? static_cast<size_t>(options.threads)
                                            : std::max(1u, std::thread::hardware_concurrency());
  const std::vector<std::string_view> parts =
      cut(body, std::min(wanted, std::max<size_t>(1, body.size() / kMinChunkBytes)));
  std::vector<Chunk> chunks(parts.size());
  for (size_t c = 0; c < parts.size(); ++c) chunks[c].text = parts[c];
  parse_parallel(chunks, layout);

  // The first problem in file order; each chunk's first line follows from the earlier chunks.
  std::vector<long long> first_line(chunks.size());
  long long next_line = header_line + 1;
  size_t rows = 0;
  for (size_t c = 0; c < chunks.size(); ++c) {
    first_line[c] = next_line;
    if (chunks[c].error_line)
      throw InputError(where(path, next_line + chunks[c].error_line - 1, chunks[c].error));
    next_line += chunks[c].lines;
    rows += chunks[c].rows.size();
  }
  if (rows == 0) throw InputError(where(path, 0, "has a header but no data rows"));
  auto line_of = [&](size_t c, size_t row) { return first_line[c] + line_in_chunk(chunks[c], row) - 1; };

  std::vector<int64_t> times;
  for (Chunk& chunk : chunks) {
    chunk.times.append_to(times);
    chunk.times = {};
  }
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  const bool inferred = options.step == 0;
  const int64_t step = inferred ? infer_step(times) : options.step;
  if (step <= 0)
    throw InputError(
        where(path, 0, "every row has the same timestamp, so the step cannot be inferred; pass --step"));

  Dataset data;
  data.source = path;
  data.group_dim = options.group_dim;
  data.stack_dim = options.stack_dim;
  data.start = times.front();
  data.step = step;
  const std::vector<std::vector<uint32_t>> to_series = merge_series(chunks, layout, data.keys);
  check_grid(path, times.front(), step, 1);  // the step (--step), before it divides anything
  data.T = static_cast<size_t>((times.back() - times.front() + (options.snap_to_grid ? step / 2 : 0)) / step) + 1;
  check_grid(path, data.start, step, data.T);
  const size_t N = data.N();
  // A mistyped timestamp or --step can ask for a grid far larger than the data; say so instead
  // of trying to allocate it.
  const double cells = static_cast<double>(data.T) * static_cast<double>(N);
  if (cells > 64.0 * static_cast<double>(rows) && cells > double(1 << 28))
    throw InputError(where(path, 0,
                           "timestamps from " + format_iso(times.front()) + " to " +
                               format_iso(times.back()) + " at step " + format_duration(step) +
                               " make a grid of " + std::to_string(data.T) + " points x " +
                               std::to_string(N) + " series for only " + std::to_string(rows) +
                               " rows; is a timestamp or --step wrong?"));
  data.values.assign(data.T * N, NAN);
  data.observed.assign(data.T * N, 0);

  // Each worker owns a band of time steps, so no two write one cell.
  const size_t workers = std::min(chunks.size(), data.T);
  std::vector<Problem> problems(workers);
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers; ++w)
    threads.emplace_back([&, w] {
      problems[w] = place_rows(chunks, to_series, options.duplicates, options.snap_to_grid, data.T * w / workers,
                               data.T * (w + 1) / workers, data);
    });
  problems[0] = place_rows(chunks, to_series, options.duplicates, options.snap_to_grid, 0, data.T / workers, data);
  for (std::thread& t : threads) t.join();

  const Problem first = *std::min_element(problems.begin(), problems.end());
  if (first.chunk != Problem::kNone) {
    const int64_t time = chunks[first.chunk].rows[first.row].time;
    if (first.off_grid)
      throw InputError(where(path, line_of(first.chunk, first.row),
                             "timestamp " + format_iso(time) + " is not on the grid (start " +
                                 format_iso(data.start) + ", step " + format_duration(step) +
                                 (inferred ? ", the most common gap; --step sets it)" : ")") +
                                 "; --off-grid snap places such rows on the nearest grid point"));
    const long long earlier =
        first_line_of_point(chunks, to_series, first.chunk, first.row, first.series, line_of);
    throw InputError(
        where(path, line_of(first.chunk, first.row),
              "duplicate point" +
                  (data.keys.dims.empty() ? "" : " for series " + data.keys.describe(first.series)) + " at " +
                  format_iso(time) + " (first at line " + std::to_string(earlier) +
                  "); use --duplicates last|sum"));
  }

  if (stats) {
    stats->rows = rows;
    stats->bytes = file.view().size();
    stats->threads = static_cast<int>(chunks.size());
    stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
  return data;
}

}  // namespace vigil
