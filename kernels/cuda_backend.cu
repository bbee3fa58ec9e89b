// CUDA backend: one thread per series streams through time over the time-major batch, so at
// every step a warp reads 32 consecutive series (coalesced) and its state rows likewise. The
// math is forecast_step() from include/vigil/forecast.hpp, the same the CPU backend runs.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cuda_check.cuh"
#include "vigil/backend.hpp"

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

  // Series are processed in column batches sized to the free device memory; two streams
  // alternate so one batch's copies overlap the other's kernel.
  void forecast(const ForecastParams& p, const ForecastInput& in, const ForecastOutput& out) override {
    const size_t N = in.N, T = in.T;
    if (N == 0 || T == 0) return;
    // Host arrays that the kernel writes and the copies back address, in [T][N] layout.
    float* const host_out[] = {out.forecast, out.z, out.z_base, out.z_derivative, out.z_volatility};
    size_t outputs = 0;
    for (float* o : host_out) outputs += o != nullptr;
    const size_t per_series = T * sizeof(float) * (1 + outputs) + sizeof(uint8_t) +
                              static_cast<size_t>(state_floats(p)) * sizeof(float);
    size_t free_bytes = 0, total_bytes = 0;
    VIGIL_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    constexpr int kStreams = 2;
    const size_t budget = free_bytes / 2 / kStreams;  // headroom for the allocator and others
    size_t batch = std::max<size_t>(1, budget / per_series);
    batch = std::min(batch, N);
    if (batch > 1024) batch -= batch % 1024;

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
    for (size_t i0 = 0, k = 0; i0 < N; i0 += batch, ++k) {
      const size_t n = std::min(batch, N - i0);
      cudaStream_t st = streams[k % kStreams].get();
      cuda::DeviceBuffer<float> values(T * n, st), state(static_cast<size_t>(state_floats(p)) * n, st);
      cuda::DeviceBuffer<float> device_out[5];
      float* kernel_out[5] = {};
      for (int o = 0; o < 5; ++o)
        if (host_out[o]) {
          device_out[o] = cuda::DeviceBuffer<float>(T * n, st);
          kernel_out[o] = device_out[o].data();
        }
      cuda::DeviceBuffer<uint8_t> codes(n, st);
      VIGIL_CUDA_CHECK(cudaMemcpy2DAsync(values.data(), n * sizeof(float), in.values + i0, N * sizeof(float),
                                         n * sizeof(float), T, cudaMemcpyHostToDevice, st));
      VIGIL_CUDA_CHECK(cudaMemcpyAsync(codes.data(), in.transform + i0, n, cudaMemcpyHostToDevice, st));
      constexpr int kThreads = 128;
      const unsigned blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
      forecast_kernel<<<blocks, kThreads, 0, st>>>(
          p, values.data(), codes.data(), in.event_offsets ? event_offsets.data() : nullptr, event_effects.data(),
          in.freeze_events, state.data(),
          KernelOutputs{kernel_out[0], kernel_out[1], kernel_out[2], kernel_out[3], kernel_out[4]}, T, n, i0);
      VIGIL_CUDA_CHECK_LAUNCH();
      for (int o = 0; o < 5; ++o)
        if (host_out[o])
          VIGIL_CUDA_CHECK(cudaMemcpy2DAsync(host_out[o] + i0, N * sizeof(float), kernel_out[o], n * sizeof(float),
                                             n * sizeof(float), T, cudaMemcpyDeviceToHost, st));
      // Buffers free stream-ordered at scope end, after the copies back.
    }
    for (auto& s : streams) s.sync();
  }

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

  int device_ = 0;
  std::string name_;
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
