#include "cuda_resources.cuh"

#include <algorithm>

namespace vigil::cuda {

size_t Resources::free_device_bytes() const {
  size_t free_bytes = 0, total_bytes = 0;
  VIGIL_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return device_limit_ ? std::min(free_bytes, device_limit_) : free_bytes;
}

float* Resources::staging(int k, size_t count) {
  if (staging_[k].size() < count) {
    staging_[k] = PinnedBuffer<float>();  // free first: the old and the new need not both fit
    staging_[k] = PinnedBuffer<float>(count);
  }
  return staging_[k].data();
}

void Resources::release_staging() {
  for (auto& s : staging_) s = PinnedBuffer<float>();
}

size_t units_per_chunk(size_t free_bytes, size_t fixed_bytes, size_t bytes_per_unit, size_t units, int resident) {
  const size_t budget = free_bytes / 2 > fixed_bytes ? (free_bytes / 2 - fixed_bytes) / resident : 0;
  return std::clamp<size_t>(budget / std::max<size_t>(bytes_per_unit, 1), 1, std::max<size_t>(units, 1));
}

}  // namespace vigil::cuda
