#pragma once
// Input limits (README "Limits and guarantees"). Past any of them an input is rejected with one
// line naming the file (and line) and exit code 2, rather than amplified into every output row.
#include <cstddef>
#include <cstdint>

namespace vigil::limits {

constexpr size_t kMaxDims = 64;            // dimension columns of a CSV or cube
constexpr size_t kMaxNameBytes = 256;      // a dimension name, an event name, a metric name in a config
constexpr size_t kMaxValueBytes = 1024;    // a dimension value (a series key part)
constexpr int64_t kMaxStepSeconds = 366 * 86400;  // a grid step
constexpr size_t kMaxConfigBytes = 1 << 20;       // a config file
constexpr int kMaxConfigDepth = 32;               // nesting of a config's mappings and lists
constexpr size_t kMaxConfigNodes = 100000;        // values in a config, YAML aliases expanded

}  // namespace vigil::limits
