// CUDA backend: one thread per series streams through time over the time-major batch, so at
// every step a warp reads 32 consecutive series (coalesced) and its state rows likewise. The
// math is forecast_step() from include/vigil/math/forecast.hpp, the same the CPU backend runs.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cuda_check.cuh"
#include "vigil/backend.hpp"
#include "vigil/error.hpp"

namespace vigil {
namespace {

// Optional outputs are null pointers when not asked for.
struct KernelOutputs {
  float* forecast;
  float* z;
  float* z_base;
  float* z_derivative;
  float* z_volatility;
};

__global__ void forecast_kernel(ForecastParams p, const float* __restrict__ values,
                                const uint8_t* __restrict__ transform, const uint32_t* __restrict__ event_offsets,
                                const EventEffect* __restrict__ event_effects, bool freeze_events,
                                float* __restrict__ state, KernelOutputs out, size_t T, size_t n, size_t first_series) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const StateRef s{state + i, n};
  init_state(p, s);
  const uint8_t code = transform[i];
  const size_t series = first_series + i;  // event rows are indexed by the global series index
  const uint32_t n_events = event_offsets ? event_offsets[series + 1] - event_offsets[series] : 0;
  const EventEffect* events = n_events ? event_effects + event_offsets[series] : nullptr;
  for (size_t t = 0; t < T; ++t) {
    const Clock c = clock_at(p, static_cast<int64_t>(t));
    const PointScore r =
        forecast_point(p, s, c, values[t * n + i], code, events, n_events, static_cast<uint32_t>(t), freeze_events);
    const size_t k = t * n + i;
    out.forecast[k] = r.forecast;
    out.z[k] = r.z;
    if (out.z_base) out.z_base[k] = r.z_base;
    if (out.z_derivative) out.z_derivative[k] = r.z_derivative;
    if (out.z_volatility) out.z_volatility[k] = r.z_volatility;
  }
}

class CudaBackend final : public Backend {
 public:
  CudaBackend() {
    VIGIL_CUDA_CHECK(cudaGetDevice(&device_));
    cudaDeviceProp prop{};
    VIGIL_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
    name_ = prop.name;
  }
  std::string name() const override { return "cuda"; }
  std::string device() const override { return name_; }

  // Series are processed in column chunks sized to the free device memory (or the limit set by
  // limit_device_memory), each through pinned staging buffers on one of two streams: while one
  // stream's chunk is copied and scored, the host packs the next chunk's values into the other
  // stream's staging buffer and unpacks the outputs of that stream's previous chunk. A chunk
  // whose device buffers cannot be allocated is retried at half the size; failing at one
  // series, the run stops with one clear line.
  void forecast(const ForecastParams& p, const ForecastInput& in, const ForecastOutput& out) override {
    const size_t N = in.N, T = in.T;
    if (N == 0 || T == 0) return;
    float* const host_out[kOutputs] = {out.forecast, out.z, out.z_base, out.z_derivative, out.z_volatility};
    size_t outputs = 0;
    for (float* o : host_out) outputs += o != nullptr;
    const size_t state_bytes = static_cast<size_t>(state_floats(p)) * sizeof(float);
    const size_t device_per_series = T * sizeof(float) * (1 + outputs) + sizeof(uint8_t) + state_bytes;
    const size_t staging_per_series = T * sizeof(float) * (1 + outputs);
    size_t free_bytes = 0, total_bytes = 0;
    VIGIL_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    if (device_limit_) free_bytes = std::min(free_bytes, device_limit_);
    // Half the free memory (headroom for the allocator and other users), split between streams.
    size_t chunk = std::max<size_t>(1, free_bytes / 2 / kStreams / device_per_series);
    chunk = std::min({chunk, N, std::max<size_t>(1, kStagingBytes / staging_per_series)});
    if (chunk > 1024) chunk -= chunk % 1024;

    cuda::Stream streams[kStreams];
    // The event rows are small (a few occurrences per series): copied whole, once.
    cuda::DeviceBuffer<uint32_t> event_offsets(in.event_offsets ? N + 1 : 0, streams[0].get());
    cuda::DeviceBuffer<EventEffect> event_effects(in.event_offsets ? in.event_count : 0, streams[0].get());
    if (in.event_offsets) {
      VIGIL_CUDA_CHECK(cudaMemcpyAsync(event_offsets.data(), in.event_offsets, (N + 1) * sizeof(uint32_t),
                                       cudaMemcpyHostToDevice, streams[0].get()));
      if (in.event_count)
        VIGIL_CUDA_CHECK(cudaMemcpyAsync(event_effects.data(), in.event_effects, in.event_count * sizeof(EventEffect),
                                         cudaMemcpyHostToDevice, streams[0].get()));
      streams[0].sync();
    }

    // Per stream: its device buffers and pinned staging, for `chunk` series, allocated once.
    struct Lane {
      cuda::DeviceBuffer<float> values, state, outputs[kOutputs];
      cuda::DeviceBuffer<uint8_t> codes;
      cuda::PinnedBuffer<float> staged_in, staged_out;  // [T][n] values; kOutputs x [T][n]
      size_t i0 = 0, n = 0;                             // the chunk in flight (n = 0: none)
    };
    Lane lanes[kStreams];
    for (;;) {
      try {
        for (int k = 0; k < kStreams; ++k) {
          Lane& lane = lanes[k];
          cudaStream_t st = streams[k].get();
          lane.values = cuda::DeviceBuffer<float>(T * chunk, st);
          lane.state = cuda::DeviceBuffer<float>(static_cast<size_t>(state_floats(p)) * chunk, st);
          for (int o = 0; o < kOutputs; ++o)
            lane.outputs[o] = cuda::DeviceBuffer<float>(host_out[o] ? T * chunk : 0, st);
          lane.codes = cuda::DeviceBuffer<uint8_t>(chunk, st);
          lane.staged_in = cuda::PinnedBuffer<float>(T * chunk);
          lane.staged_out = cuda::PinnedBuffer<float>(T * chunk * outputs);
        }
        for (auto& s : streams) s.sync();  // stream-ordered allocations report failure here too
        break;
      } catch (const cuda::OutOfMemory& e) {
        for (Lane& lane : lanes) lane = Lane{};
        for (auto& s : streams) cudaStreamSynchronize(s.get());
        cudaGetLastError();
        if (chunk == 1)
          throw InputError(std::string("CUDA device: cannot allocate the buffers of even one series (") + e.what() +
                           "); free device memory or use --backend cpu");
        chunk = std::max<size_t>(1, chunk / 2);
      }
    }

    // Outputs of a lane's finished chunk, from its staging buffer into the caller's [T][N].
    auto unpack = [&](Lane& lane) {
      if (!lane.n) return;
      size_t slot = 0;
      for (int o = 0; o < kOutputs; ++o) {
        if (!host_out[o]) continue;
        const float* from = lane.staged_out.data() + slot++ * T * lane.n;
#pragma omp parallel for schedule(static)
        for (size_t t = 0; t < T; ++t)
          std::memcpy(host_out[o] + t * N + lane.i0, from + t * lane.n, lane.n * sizeof(float));
      }
      lane.n = 0;
    };
    for (size_t i0 = 0, k = 0; i0 < N; i0 += chunk, ++k) {
      const size_t n = std::min(chunk, N - i0);
      Lane& lane = lanes[k % kStreams];
      const cuda::Stream& stream = streams[k % kStreams];
      cudaStream_t st = stream.get();
      stream.sync();  // the lane's previous chunk is done: its staging buffers are free
      unpack(lane);
#pragma omp parallel for schedule(static)
      for (size_t t = 0; t < T; ++t)
        std::memcpy(lane.staged_in.data() + t * n, in.values + t * N + i0, n * sizeof(float));
      VIGIL_CUDA_CHECK(cudaMemcpyAsync(lane.values.data(), lane.staged_in.data(), T * n * sizeof(float),
                                       cudaMemcpyHostToDevice, st));
      VIGIL_CUDA_CHECK(cudaMemcpyAsync(lane.codes.data(), in.transform + i0, n, cudaMemcpyHostToDevice, st));
      float* kernel_out[kOutputs] = {};
      for (int o = 0; o < kOutputs; ++o)
        if (host_out[o]) kernel_out[o] = lane.outputs[o].data();
      const unsigned blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
      forecast_kernel<<<blocks, kThreads, 0, st>>>(
          p, lane.values.data(), lane.codes.data(), in.event_offsets ? event_offsets.data() : nullptr,
          event_effects.data(), in.freeze_events, lane.state.data(),
          KernelOutputs{kernel_out[0], kernel_out[1], kernel_out[2], kernel_out[3], kernel_out[4]}, T, n, i0);
      VIGIL_CUDA_CHECK_LAUNCH();
      size_t slot = 0;
      for (int o = 0; o < kOutputs; ++o)
        if (host_out[o])
          VIGIL_CUDA_CHECK(cudaMemcpyAsync(lane.staged_out.data() + slot++ * T * n, kernel_out[o],
                                           T * n * sizeof(float), cudaMemcpyDeviceToHost, st));
      lane.i0 = i0;
      lane.n = n;
    }
    for (int k = 0; k < kStreams; ++k) {
      streams[k].sync();
      unpack(lanes[k]);
    }
  }

  void limit_device_memory(size_t bytes) override { device_limit_ = bytes; }

  void peers(const PeerParams& params, const PeerInput& in, const PeerOutput& out) override {
    peers_cuda(params, in, out);
  }

  double copy_bandwidth_gbs() override {
    const size_t bytes = size_t{1} << 30;
    cuda::Stream stream;
    cuda::DeviceBuffer<char> a(bytes, stream.get()), b(bytes, stream.get());
    VIGIL_CUDA_CHECK(cudaMemsetAsync(a.data(), 1, bytes, stream.get()));
    return best_rate(stream, 2.0 * bytes, [&] {
      VIGIL_CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, stream.get()));
    });
  }

  double host_to_device_gbs() override {
    const size_t bytes = size_t{1} << 28;
    cuda::Stream stream;
    cuda::DeviceBuffer<char> d(bytes, stream.get());
    char* host = nullptr;
    VIGIL_CUDA_CHECK(cudaMallocHost(&host, bytes));
    std::memset(host, 1, bytes);
    double rate = 0;
    try {
      rate = best_rate(stream, static_cast<double>(bytes), [&] {
        VIGIL_CUDA_CHECK(cudaMemcpyAsync(d.data(), host, bytes, cudaMemcpyHostToDevice, stream.get()));
      });
    } catch (...) {
      cudaFreeHost(host);
      throw;
    }
    cudaFreeHost(host);
    return rate;
  }

 private:
  // Best of five timed repetitions after one warm-up, timed with events.
  template <typename Op>
  static double best_rate(const cuda::Stream& stream, double bytes, Op op) {
    cuda::Event start(cudaEventDefault), stop(cudaEventDefault);
    op();
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
      VIGIL_CUDA_CHECK(cudaEventRecord(start.get(), stream.get()));
      op();
      VIGIL_CUDA_CHECK(cudaEventRecord(stop.get(), stream.get()));
      VIGIL_CUDA_CHECK(cudaEventSynchronize(stop.get()));
      float ms = 0;
      VIGIL_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
      best = std::max(best, bytes / (ms * 1e-3) / 1e9);
    }
    return best;
  }

  static constexpr int kStreams = 2;
  static constexpr int kOutputs = 5;
  static constexpr int kThreads = 128;
  // Pinned staging per stream at most: large enough to fill the device with threads, small
  // enough not to pin a large share of host memory.
  static constexpr size_t kStagingBytes = size_t{1} << 30;

  int device_ = 0;
  std::string name_;
  size_t device_limit_ = 0;  // 0: the device's free memory
};

}  // namespace

int cuda_device_count_impl() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return count;
}

std::unique_ptr<Backend> make_cuda_backend() { return std::make_unique<CudaBackend>(); }

}  // namespace vigil
