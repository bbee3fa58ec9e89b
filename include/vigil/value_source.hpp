#pragma once
// Where a scoring run reads its values from, a batch of series at a time: a Dataset in memory,
// or a cube's values.npy read from disk in pieces, so that a cube larger than host memory is
// scored with the memory of one batch.
#include <cstdint>
#include <memory>
#include <string>

#include "vigil/dataset.hpp"
#include "vigil/ingest.hpp"

namespace vigil {

class ValueSource {
 public:
  virtual ~ValueSource() = default;
  // out[t * n + k] = the value of series columns[k] at step t, for t < T; inf becomes NaN.
  // `columns` in any order, each at most once. Throws InputError (file, problem) when the source
  // cannot be read.
  virtual void gather(const uint32_t* columns, size_t n, float* out) const = 0;
  // The same for the ingest's "observed" flags; false when every point was observed (no flags).
  virtual bool gather_observed(const uint32_t* columns, size_t n, uint8_t* out) const = 0;
  // The whole Dataset when the values are already in memory (batches may then use it in place).
  virtual const Dataset* in_memory() const { return nullptr; }
};

// Views `data` (which must outlive the source).
std::unique_ptr<ValueSource> memory_source(const Dataset& data);

// A cube whose values stay on disk: `header` holds the keys, grid and roles (values empty, T
// set), `values` reads values.npy. Checks everything read_cube checks (shape against keys.csv,
// truncation) before returning.
struct OpenedCube {
  Dataset header;
  std::unique_ptr<ValueSource> values;
};
OpenedCube open_cube(const std::string& dir, const IngestOptions& options);

}  // namespace vigil
