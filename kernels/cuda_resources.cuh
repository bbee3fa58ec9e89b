#pragma once
// What the CUDA stages share, made once per backend (so once per run) and reused by the forecast
// and the peers: the streams, the pinned staging buffers, the device memory budget, and one
// paging policy with one out-of-memory fallback.
#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <vector>

#include "cuda_check.cuh"
#include "vigil/error.hpp"
#include "vigil/peers.hpp"

namespace vigil::cuda {

// Waits for the streams when the scope ends, also by an exception, so that no copy or kernel
// still uses a buffer (device, pinned, event rows) declared before the guard when it is freed.
class SyncOnExit {
 public:
  SyncOnExit(const Stream* streams, int count) : streams_(streams), count_(count) {}
  SyncOnExit(const SyncOnExit&) = delete;
  SyncOnExit& operator=(const SyncOnExit&) = delete;
  ~SyncOnExit() {
    for (int k = 0; k < count_; ++k) cudaStreamSynchronize(streams_[k].get());
  }

 private:
  const Stream* streams_;
  int count_;
};

class Resources {
 public:
  static constexpr int kStreams = 2;

  const Stream& stream(int k) const { return streams_[k]; }
  const Stream* streams() const { return streams_; }

  // 0: the device's free memory; otherwise no more than `bytes` (tests of large inputs).
  void limit_device_memory(size_t bytes) { device_limit_ = bytes; }
  // Free device memory as the stages may count it: the device's, capped by the limit.
  size_t free_device_bytes() const;

  // The pinned staging buffer of stream k, grown to at least `count` floats and kept for the
  // next call: pinning is slow, so it is done once per size, not once per call.
  float* staging(int k, size_t count);
  // Frees the staging buffers (after an allocation failure, before retrying smaller).
  void release_staging();

 private:
  Stream streams_[kStreams];
  PinnedBuffer<float> staging_[kStreams];
  size_t device_limit_ = 0;
};

// The paging policy of every stage: `resident` chunks live on the device at once within half of
// the free memory (the rest is headroom for the allocator and other users), after `fixed_bytes`
// that do not depend on the chunk. Returns units (series, time steps) per chunk, in [1, units].
size_t units_per_chunk(size_t free_bytes, size_t fixed_bytes, size_t bytes_per_unit, size_t units, int resident);

// Runs allocate(chunk), halving the chunk after each out-of-memory failure (cleanup() then
// releases what a failed attempt left). Failing at one unit, it stops with one clear line.
template <typename Allocate, typename Cleanup>
size_t allocate_halving(size_t chunk, const char* what, Allocate allocate, Cleanup cleanup) {
  for (;;) {
    try {
      allocate(chunk);
      return chunk;
    } catch (const OutOfMemory& e) {
      cleanup();
      cudaGetLastError();  // the failed allocation's error is not sticky: clear it for the next call
      if (chunk <= 1)
        throw InputError(std::string("CUDA device: cannot allocate the buffers of even one ") + what + " (" +
                         e.what() + "); free device memory or use --backend cpu");
      chunk /= 2;
    }
  }
}

}  // namespace vigil::cuda

namespace vigil {
// The peers stage on a backend's resources (its streams and memory limit); the overload of
// include/vigil/peers.hpp makes resources of its own for the call.
void peers_cuda(const PeerParams& params, const PeerInput& in, const PeerOutput& out, size_t max_chunk_steps,
                cuda::Resources& resources);
// The peers' kernels with their launch shape, for the bench's occupancy report.
struct PeerKernel {
  const char* name;
  const void* function;
  int threads;
};
std::vector<PeerKernel> peers_kernels();
// Device memory the device-resident peers stage needs for a batch of T x N on `layout`: the
// layout, the correlation state, cell_z, the group totals, breadth and correlation.
size_t peers_device_bytes(size_t T, size_t N, const PeerLayout& layout);
// The peers stage on arrays already on the device ([T][N] z in, [T][C] cell_z and [T][N]
// breadth and correlation out), queued on `stream` after whatever wrote z; all of T at once.
void peers_on_device(const PeerParams& params, const float* z, size_t T, size_t N, const PeerLayout& layout,
                     float* cell_z, float* breadth, float* correlation, cudaStream_t stream);
}  // namespace vigil
