#include <omp.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "vigil/backend.hpp"
#include "vigil/error.hpp"

namespace vigil {
namespace {

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  return "unknown CPU";
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : threads_(threads > 0 ? threads : omp_get_max_threads()) {}
  std::string name() const override { return "cpu"; }
  std::string device() const override {
    return cpu_model_name() + " (" + std::to_string(threads_) + " threads)";
  }

  // Each thread owns a block of series and streams through time; at every step the block's
  // values, outputs and state rows are contiguous, as in the CUDA backend's warps.
  void forecast(const ForecastParams& p, const ForecastInput& in, const ForecastOutput& out) override {
    const size_t N = in.N, T = in.T;
    if (N == 0 || T == 0) return;
    constexpr size_t kBlock = 256;
    const size_t blocks = (N + kBlock - 1) / kBlock;
    const int S = state_floats(p);
    std::vector<Clock> clocks(T);
    for (size_t t = 0; t < T; ++t) clocks[t] = clock_at(p, static_cast<int64_t>(t));
#pragma omp parallel num_threads(threads_)
    {
      std::vector<float> state(static_cast<size_t>(S) * kBlock);
#pragma omp for schedule(dynamic, 1)
      for (size_t b = 0; b < blocks; ++b) {
        const size_t i0 = b * kBlock, n = std::min(kBlock, N - i0);
        for (size_t j = 0; j < n; ++j) init_state(p, StateRef{state.data() + j, kBlock});
        const uint32_t* ev_off = in.event_offsets;
        // Only blocks holding series with scheduled events look them up, step by step.
        const bool block_has_events = ev_off && ev_off[i0 + n] > ev_off[i0];
        auto store = [&](size_t at, const PointScore& r) {
          out.forecast[at] = r.forecast;
          out.z[at] = r.z;
          if (out.z_base) out.z_base[at] = r.z_base;
          if (out.z_derivative) out.z_derivative[at] = r.z_derivative;
          if (out.z_volatility) out.z_volatility[at] = r.z_volatility;
        };
        // The events of the block's series are resolved per step first (a short scalar loop
        // over the few series that have any), so the step itself stays one straight loop.
        std::vector<float> effect(kBlock, 0.0f);
        std::vector<uint8_t> frozen(kBlock, 0);
        for (size_t t = 0; t < T; ++t) {
          const Clock& c = clocks[t];
          const float* x = in.values + t * N + i0;
          const size_t row = t * N + i0;
          if (block_has_events)
            for (size_t j = 0; j < n; ++j) {
              const size_t i = i0 + j;
              const EventAtStep ev = resolve_events(in.event_effects + ev_off[i], ev_off[i + 1] - ev_off[i],
                                                    static_cast<uint32_t>(t), in.freeze_events);
              effect[j] = ev.effect;
              frozen[j] = ev.frozen;
            }
#pragma omp simd
          for (size_t j = 0; j < n; ++j)
            store(row + j, forecast_step(p, StateRef{state.data() + j, kBlock}, c, x[j], in.transform[i0 + j],
                                         effect[j], frozen[j] != 0));
        }
      }
    }
  }

  void peers(const PeerParams& params, const PeerInput& in, const PeerOutput& out) override {
    peers_cpu(params, in, out, threads_);
  }

  double copy_bandwidth_gbs() override {
    const size_t n = size_t{1} << 27;  // 512 MiB per buffer: far beyond any cache
    std::vector<float> src(n), dst(n);
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (size_t i = 0; i < n; ++i) src[i] = static_cast<float>(i & 1023);  // touch pages in parallel
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) {
      const double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads_)
      {
        const size_t chunk = (n + omp_get_num_threads() - 1) / omp_get_num_threads();
        const size_t b = std::min(n, chunk * omp_get_thread_num()), e = std::min(n, b + chunk);
        std::memcpy(dst.data() + b, src.data() + b, (e - b) * sizeof(float));
      }
      const double dt = omp_get_wtime() - t0;
      best = std::max(best, 2.0 * n * sizeof(float) / dt / 1e9);
    }
    return best;
  }

 private:
  int threads_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

#ifdef VIGIL_HAVE_CUDA
std::unique_ptr<Backend> make_cuda_backend();  // kernels/cuda_backend.cu
int cuda_device_count_impl();
int cuda_device_count() { return cuda_device_count_impl(); }
#else
int cuda_device_count() { return 0; }
#endif

std::unique_ptr<Backend> make_backend(const std::string& which) {
  if (which == "cpu") return make_cpu_backend();
  if (which == "cuda" || which == "auto") {
#ifdef VIGIL_HAVE_CUDA
    if (cuda_device_count() > 0) return make_cuda_backend();
    if (which == "cuda") throw InputError("--backend cuda: no CUDA device is available");
#else
    if (which == "cuda") throw InputError("--backend cuda: this build has no CUDA backend (nvcc was not found)");
#endif
    return make_cpu_backend();
  }
  throw InputError("--backend must be auto, cpu or cuda, not '" + which + "'");
}

}  // namespace vigil
