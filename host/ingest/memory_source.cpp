// The in-memory ValueSource: a Dataset already read (a CSV input, a generated scenario).
#include <cstring>

#include "vigil/value_source.hpp"

namespace vigil {
namespace {

// Copies the columns of each row [T][N] -> [T][n], a run of consecutive columns at a time.
template <typename V>
void gather_rows(const V* from, size_t T, size_t N, const uint32_t* columns, size_t n, V* out) {
#pragma omp parallel for schedule(static)
  for (size_t t = 0; t < T; ++t) {
    const V* row = from + t * N;
    for (size_t k = 0; k < n;) {
      size_t k1 = k + 1;
      while (k1 < n && columns[k1] == columns[k1 - 1] + 1) ++k1;
      std::memcpy(out + t * n + k, row + columns[k], (k1 - k) * sizeof(V));
      k = k1;
    }
  }
}

class MemoryValues final : public ValueSource {
 public:
  explicit MemoryValues(const Dataset& data) : data_(data) {}
  void gather(const uint32_t* columns, size_t n, float* out) const override {
    gather_rows(data_.values.data(), data_.T, data_.N(), columns, n, out);
  }
  bool gather_observed(const uint32_t* columns, size_t n, uint8_t* out) const override {
    if (data_.observed.empty()) return false;
    gather_rows(data_.observed.data(), data_.T, data_.N(), columns, n, out);
    return true;
  }
  const Dataset* in_memory() const override { return &data_; }

 private:
  const Dataset& data_;
};

}  // namespace

std::unique_ptr<ValueSource> memory_source(const Dataset& data) { return std::make_unique<MemoryValues>(data); }

}  // namespace vigil
