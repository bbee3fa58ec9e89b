#pragma once
// The data model of DESIGN.md: series = one combination of dimension values on a regular grid,
// stored time-major ([T][N], the N series contiguous at each time step).
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace vigil {

// Dimension values of every series, interned per dimension so millions of series stay compact.
struct Keys {
  std::vector<std::string> dims;                    // dimension names, in column order
  std::vector<std::vector<std::string>> dictionary; // per dim: distinct values
  std::vector<uint32_t> codes;                      // [series][dim] -> index into dictionary[dim]

  size_t num_dims() const { return dims.size(); }
  size_t num_series() const { return dims.empty() ? series_without_dims : codes.size() / dims.size(); }
  const std::string& value(size_t series, size_t dim) const {
    return dictionary[dim][codes[series * dims.size() + dim]];
  }
  uint32_t code(size_t series, size_t dim) const { return codes[series * dims.size() + dim]; }
  int dim_index(const std::string& name) const;  // -1 when absent
  // Intern a value of dimension `dim`, returning its code.
  uint32_t intern(size_t dim, const std::string& value);
  // Code of an existing value, or -1.
  long long find_code(size_t dim, const std::string& value) const;
  // "metric=play_starts,stack=web" (for messages and summaries); "*" for the one series of an
  // input without dimension columns.
  std::string describe(size_t series) const;

  size_t series_without_dims = 0;  // a single-series input has no dimension columns
  std::vector<std::unordered_map<std::string, uint32_t>> index;  // per dim: value -> code
};

struct Dataset {
  Keys keys;
  int64_t start = 0;        // unix seconds of the first grid point
  int64_t step = 0;         // seconds between grid points
  size_t T = 0;             // grid points per series
  std::vector<float> values;     // [T][N], NaN = missing
  // [T][N], 1 where the input had a row for the point. Empty: every grid point came from the
  // input (a cube). Gaps filled with NaN by ingest have 0; an input NaN/inf value has 1.
  std::vector<uint8_t> observed;
  std::string group_dim = "region";  // empty when absent
  std::string stack_dim = "stack";   // empty when absent
  std::string source;                // path it came from (for messages)

  size_t N() const { return keys.num_series(); }
  int64_t time_at(size_t t) const { return start + static_cast<int64_t>(t) * step; }
  float at(size_t t, size_t series) const { return values[t * N() + series]; }
  bool was_observed(size_t t, size_t series) const {
    return observed.empty() || observed[t * N() + series] != 0;
  }
};

}  // namespace vigil
