// CUDA backend: one thread per series streams through time over the time-major batch, so at
// every step a warp reads 32 consecutive series (coalesced) and its state rows likewise. The
// math is forecast_step() from include/vigil/math/forecast.hpp, the same the CPU backend runs.
#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_check.cuh"
#include "cuda_resources.cuh"
#include "vigil/backend.hpp"
#include "vigil/error.hpp"

namespace vigil {
namespace {

// The evidence stage: one thread per series walks through time; a warp reads consecutive series
// of each row (coalesced), the state stays in registers.
__global__ void evidence_kernel(EvidenceParams p, const float* __restrict__ values,
                                const uint8_t* __restrict__ transform, float* __restrict__ z,
                                float* __restrict__ z_base,
                                const float* __restrict__ forecast, size_t T, size_t N, size_t per_day,
                                float* __restrict__ local, float* __restrict__ calibrated,
                                float* __restrict__ accumulated, float* __restrict__ baseline) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= N) return;
  EvidenceState s;
  evidence_init(p, s);
  const bool is_count = transform[i] == kCount;
  for (size_t t = 0; t < T; ++t) {
    const size_t at = t * N + i;
    float earlier[3];
    earlier_forecasts(forecast, t, i, N, per_day, earlier);
    const float widen = young_widening(p, s, values[at]);
    z[at] /= widen;
    if (z_base) z_base[at] /= widen;
    const EvidenceOut o = evidence_step(p, s, values[at], is_count, z[at], forecast[at], earlier);
    if (local) local[at] = o.local;  // null: not wanted
    if (calibrated) calibrated[at] = o.calibrated;
    if (accumulated) accumulated[at] = o.accumulated;
    if (baseline) baseline[at] = o.baseline;
  }
}

__global__ void forecast_kernel(ForecastParams p, const float* __restrict__ values,
                                const uint8_t* __restrict__ transform, const uint32_t* __restrict__ event_offsets,
                                const EventEffect* __restrict__ event_effects, bool freeze_events,
                                const Clock* __restrict__ clocks, float* __restrict__ state, ForecastOutput out,
                                size_t T, size_t n, size_t first_series) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  init_state(p, StateRef{state + i, n});
  const RegisterState s(StateRef{state + i, n});  // the scalar fields in registers, the arrays in memory
  const uint8_t code = transform[i];
  const size_t series = first_series + i;  // event rows are indexed by the global series index
  const uint32_t n_events = event_offsets ? event_offsets[series + 1] - event_offsets[series] : 0;
  const EventEffect* events = n_events ? event_effects + event_offsets[series] : nullptr;
  for (size_t t = 0; t < T; ++t) {
    const Clock c = clocks[t];  // the same address for every thread: one broadcast load
    const PointScore r =
        forecast_point(p, s, c, values[t * n + i], code, events, n_events, static_cast<uint32_t>(t), freeze_events);
    out.store(t * n + i, r);  // optional outputs are null when not asked for
  }
}

// Where each step falls in the day and the week, computed once on the host by clock_at (the
// CPU backend's own function, so the same knots and weights) instead of per thread and step with
// 64-bit divisions on the device.
std::vector<Clock> clock_table(const ForecastParams& p, size_t T) {
  std::vector<Clock> clocks(T);
  for (size_t t = 0; t < T; ++t) clocks[t] = clock_at(p, static_cast<int64_t>(t));
  return clocks;
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
    size_t outputs = 0;
    for (int o = 0; o < kOutputs; ++o) outputs += out[o] != nullptr;
    const size_t state_bytes = static_cast<size_t>(state_floats(p)) * sizeof(float);
    const size_t device_per_series = T * sizeof(float) * (1 + outputs) + sizeof(uint8_t) + state_bytes;
    const size_t staging_per_series = T * sizeof(float) * (1 + outputs);
    size_t chunk = cuda::units_per_chunk(resources_.free_device_bytes(), 0, device_per_series, N, kStreams);
    chunk = std::min(chunk, std::max<size_t>(1, kStagingBytes / staging_per_series));
    if (chunk > 1024) chunk -= chunk % 1024;

    const cuda::Stream* streams = resources_.streams();
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

    const std::vector<Clock> clock_rows = clock_table(p, T);
    cuda::DeviceBuffer<Clock> clocks(T, streams[0].get());
    VIGIL_CUDA_CHECK(
        cudaMemcpyAsync(clocks.data(), clock_rows.data(), T * sizeof(Clock), cudaMemcpyHostToDevice, streams[0].get()));
    streams[0].sync();  // the other stream's kernels read the table too

    // Per stream: its device buffers for `chunk` series, allocated once; its pinned staging
    // ([T][n] values, then `outputs` x [T][n]) is the resources'.
    struct Lane {
      cuda::DeviceBuffer<float> values, state, outputs[kOutputs];
      cuda::DeviceBuffer<uint8_t> codes;
      float* staged_in = nullptr;
      float* staged_out = nullptr;
      size_t i0 = 0, n = 0;  // the chunk in flight (n = 0: none)
    };
    Lane lanes[kStreams];
    // Declared after every buffer the streams use: an exception thrown mid-loop waits for both
    // streams before those buffers are freed.
    const cuda::SyncOnExit sync_on_exit(streams, kStreams);
    chunk = cuda::allocate_halving(
        chunk, "series",
        [&](size_t c) {
          for (int k = 0; k < kStreams; ++k) {
            Lane& lane = lanes[k];
            cudaStream_t st = streams[k].get();
            lane.values = cuda::DeviceBuffer<float>(T * c, st);
            lane.state = cuda::DeviceBuffer<float>(static_cast<size_t>(state_floats(p)) * c, st);
            for (int o = 0; o < kOutputs; ++o) lane.outputs[o] = cuda::DeviceBuffer<float>(out[o] ? T * c : 0, st);
            lane.codes = cuda::DeviceBuffer<uint8_t>(c, st);
            lane.staged_in = resources_.staging(k, T * c * (1 + outputs));
            lane.staged_out = lane.staged_in + T * c;
          }
          for (int k = 0; k < kStreams; ++k) streams[k].sync();  // stream-ordered allocations fail here too
        },
        [&] {
          for (Lane& lane : lanes) lane = Lane{};
          for (int k = 0; k < kStreams; ++k) cudaStreamSynchronize(streams[k].get());
          resources_.release_staging();
        });

    // Outputs of a lane's finished chunk, from its staging buffer into the caller's [T][N].
    auto unpack = [&](Lane& lane) {
      if (!lane.n) return;
      size_t slot = 0;
      for (int o = 0; o < kOutputs; ++o) {
        if (!out[o]) continue;
        const float* from = lane.staged_out + slot++ * T * lane.n;
#pragma omp parallel for schedule(static)
        for (size_t t = 0; t < T; ++t)
          std::memcpy(out[o] + t * N + lane.i0, from + t * lane.n, lane.n * sizeof(float));
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
        std::memcpy(lane.staged_in + t * n, in.values + t * N + i0, n * sizeof(float));
      VIGIL_CUDA_CHECK(cudaMemcpyAsync(lane.values.data(), lane.staged_in, T * n * sizeof(float),
                                       cudaMemcpyHostToDevice, st));
      VIGIL_CUDA_CHECK(cudaMemcpyAsync(lane.codes.data(), in.transform + i0, n, cudaMemcpyHostToDevice, st));
      ForecastOutput kernel_out;
      for (int o = 0; o < kOutputs; ++o)
        if (out[o]) kernel_out[o] = lane.outputs[o].data();
      const unsigned blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
      forecast_kernel<<<blocks, kThreads, 0, st>>>(
          p, lane.values.data(), lane.codes.data(), in.event_offsets ? event_offsets.data() : nullptr,
          event_effects.data(), in.freeze_events, clocks.data(), lane.state.data(), kernel_out, T, n, i0);
      VIGIL_CUDA_CHECK_LAUNCH();
      size_t slot = 0;
      for (int o = 0; o < kOutputs; ++o)
        if (out[o])
          VIGIL_CUDA_CHECK(cudaMemcpyAsync(lane.staged_out + slot++ * T * n, kernel_out[o], T * n * sizeof(float),
                                           cudaMemcpyDeviceToHost, st));
      lane.i0 = i0;
      lane.n = n;
    }
    for (int k = 0; k < kStreams; ++k) {
      streams[k].sync();
      unpack(lanes[k]);
    }
  }

  void limit_device_memory(size_t bytes) override { resources_.limit_device_memory(bytes); }

  // The device-resident batch: the values, codes, events, clock table and peer layout go up once;
  // forecast, peers and evidence run one after the other on one stream over device arrays; only
  // the outputs asked for come back. A batch whose arrays do not fit the device (a caller that
  // did not size it by batch_shape, or a memory limit) runs the stage calls in turn instead,
  // each of which pages through the device.
  void score_batch(const BatchStagesInput& in, const BatchStagesOutput& out) override {
    const size_t T = in.forecast.T, N = in.forecast.N;
    if (T == 0 || N == 0) return;
    if (in.forecast.freeze_events) throw std::invalid_argument("score_batch: freeze_events is the first pass's");
    bool resident = false;
    try {
      resident = score_resident(in, out);
    } catch (const cuda::OutOfMemory&) {
      // Device (or pinned) memory taken by someone else since it was counted: the buffers are
      // freed by now; the stage calls page through what is left, and rewrite every output.
      cudaGetLastError();
      resident = false;
    }
    if (!resident) {
      Backend::score_batch(in, out);
      if (out.times) out.times->resident = false;
    }
  }

  // The resident path; false (having done nothing) when the batch does not fit the device.
  bool score_resident(const BatchStagesInput& in, const BatchStagesOutput& out) {
    const size_t T = in.forecast.T, N = in.forecast.N;
    const ForecastParams& p = in.forecast_params;
    EvidenceParams ep = in.evidence_params;  // an output nobody reads is not computed
    ep.with_local = ep.with_local && out.evidence.local;
    ep.with_calibrated = ep.with_calibrated && out.evidence.calibrated;
    ep.with_accumulated = ep.with_accumulated && out.evidence.accumulated;
    ep.with_baseline = ep.with_baseline && out.evidence.baseline;
    const bool events = in.forecast.event_offsets != nullptr;
    const PeerLayout* layout = out.peers.cell_z ? in.layout : nullptr;  // no peer output wanted: no peer stage
    // Device arrays [T][N]: values, forecast, z, then the optional ones.
    size_t arrays = 3;
    for (int o = 2; o < kOutputs; ++o) arrays += out.forecast[o] != nullptr;
    arrays += ep.with_local + ep.with_calibrated + ep.with_accumulated + ep.with_baseline;
    const size_t needed = T * N * arrays * sizeof(float) + N * (1 + state_floats(p) * sizeof(float)) +
                          T * sizeof(Clock) +
                          (events ? (N + 1) * sizeof(uint32_t) + in.forecast.event_count * sizeof(EventEffect) : 0) +
                          (layout ? peers_device_bytes(T, N, *layout) : 0);
    if (needed > resources_.free_device_bytes() / 2) return false;  // the paging policy's headroom (units_per_chunk)

    const cuda::Stream& stream = resources_.stream(0);
    cudaStream_t st = stream.get();
    BatchStageTimes times;
    times.resident = true;
    cuda::Event marks[6] = {cuda::Event(cudaEventDefault), cuda::Event(cudaEventDefault),
                            cuda::Event(cudaEventDefault), cuda::Event(cudaEventDefault),
                            cuda::Event(cudaEventDefault), cuda::Event(cudaEventDefault)};
    auto mark = [&](int k) { VIGIL_CUDA_CHECK(cudaEventRecord(marks[k].get(), st)); };

    auto device_array = [&](bool wanted) { return cuda::DeviceBuffer<float>(wanted ? T * N : 0, st); };
    cuda::DeviceBuffer<float> values = device_array(true), state(static_cast<size_t>(state_floats(p)) * N, st);
    cuda::DeviceBuffer<float> forecast_out[kOutputs];
    for (int o = 0; o < kOutputs; ++o) forecast_out[o] = device_array(o < 2 || out.forecast[o]);
    cuda::DeviceBuffer<float> evidence_out[4] = {device_array(ep.with_local), device_array(ep.with_calibrated),
                                                 device_array(ep.with_accumulated), device_array(ep.with_baseline)};
    cuda::DeviceBuffer<float> cell_z(layout ? T * layout->cells() : 0, st);
    cuda::DeviceBuffer<float> breadth = device_array(layout), correlation = device_array(layout);
    cuda::DeviceBuffer<uint8_t> codes(N, st);
    cuda::DeviceBuffer<Clock> clocks(T, st);
    cuda::DeviceBuffer<uint32_t> event_offsets(events ? N + 1 : 0, st);
    cuda::DeviceBuffer<EventEffect> event_effects(events ? in.forecast.event_count : 0, st);
    // After every buffer the stream uses: an exception waits for the stream before they are freed.
    const cuda::SyncOnExit sync_on_exit(resources_.streams(), 1);

    mark(0);
    const std::vector<Clock> clock_rows = clock_table(p, T);
    times.upload_bytes = T * N * sizeof(float) + N + T * sizeof(Clock);
    VIGIL_CUDA_CHECK(cudaMemcpyAsync(codes.data(), in.forecast.transform, N, cudaMemcpyHostToDevice, st));
    VIGIL_CUDA_CHECK(cudaMemcpyAsync(clocks.data(), clock_rows.data(), T * sizeof(Clock), cudaMemcpyHostToDevice, st));
    if (events) {
      VIGIL_CUDA_CHECK(cudaMemcpyAsync(event_offsets.data(), in.forecast.event_offsets, (N + 1) * sizeof(uint32_t),
                                       cudaMemcpyHostToDevice, st));
      if (in.forecast.event_count)
        VIGIL_CUDA_CHECK(cudaMemcpyAsync(event_effects.data(), in.forecast.event_effects,
                                         in.forecast.event_count * sizeof(EventEffect), cudaMemcpyHostToDevice, st));
      times.upload_bytes += (N + 1) * sizeof(uint32_t) + in.forecast.event_count * sizeof(EventEffect);
    }
    upload(in.forecast.values, values.data(), T * N, st);
    mark(1);

    ForecastOutput device_out;
    for (int o = 0; o < kOutputs; ++o) device_out[o] = forecast_out[o].data();  // null where not wanted
    const unsigned blocks = static_cast<unsigned>((N + kThreads - 1) / kThreads);
    forecast_kernel<<<blocks, kThreads, 0, st>>>(p, values.data(), codes.data(),
                                                 events ? event_offsets.data() : nullptr, event_effects.data(), false,
                                                 clocks.data(), state.data(), device_out, T, N, 0);
    VIGIL_CUDA_CHECK_LAUNCH();
    mark(2);
    if (layout)
      peers_on_device(in.peer_params, device_out.z, T, N, *layout, cell_z.data(), breadth.data(),
                      correlation.data(), st);
    mark(3);
    evidence_kernel<<<blocks, kThreads, 0, st>>>(ep, values.data(), codes.data(), device_out.z, device_out.z_base,
                                                 device_out.forecast, T, N, in.per_day, evidence_out[0].data(),
                                                 evidence_out[1].data(), evidence_out[2].data(),
                                                 evidence_out[3].data());
    VIGIL_CUDA_CHECK_LAUNCH();
    mark(4);

    struct Wanted {
      float* host;
      const float* device;
      size_t count;
    };
    std::vector<Wanted> wanted;
    for (int o = 0; o < kOutputs; ++o)
      if (out.forecast[o]) wanted.push_back({out.forecast[o], device_out[o], T * N});
    if (layout) {
      wanted.push_back({out.peers.cell_z, cell_z.data(), cell_z.size()});
      wanted.push_back({out.peers.breadth, breadth.data(), T * N});
      wanted.push_back({out.peers.correlation, correlation.data(), T * N});
    }
    float* evidence_host[4] = {out.evidence.local, out.evidence.calibrated, out.evidence.accumulated,
                               out.evidence.baseline};
    for (int k = 0; k < 4; ++k)
      if (evidence_out[k].data()) wanted.push_back({evidence_host[k], evidence_out[k].data(), T * N});
    for (const Wanted& w : wanted) {
      download(w.device, w.host, w.count, st);
      times.download_bytes += w.count * sizeof(float);
    }
    mark(5);
    stream.sync();
    const auto ms = [&](int a, int b) {
      float v = 0;
      VIGIL_CUDA_CHECK(cudaEventElapsedTime(&v, marks[a].get(), marks[b].get()));
      return v * 1e-3;
    };
    times.upload = ms(0, 1);
    times.forecast = ms(1, 2);
    times.peers = ms(2, 3);
    times.evidence = ms(3, 4);
    times.download = ms(4, 5);
    totals_.forecast += times.forecast;
    totals_.peers += times.peers;
    totals_.evidence += times.evidence;
    totals_.upload += times.upload;
    totals_.download += times.download;
    totals_.upload_bytes += times.upload_bytes;
    totals_.download_bytes += times.download_bytes;
    totals_.resident = true;
    if (out.times) *out.times = times;
    return true;
  }

  BatchStageTimes batch_totals() const override { return totals_; }

  // Batches from the device memory found (not the host's): the resident path needs about its
  // values and scores on the device within half the free memory (score_batch), so a batch of a
  // third of it leaves the margin for the layout, state and events. The run's host memory budget
  // still caps it (run_scoring): the batch's arrays live on the host too.
  BatchShape batch_shape() const override { return {resources_.free_device_bytes() / 3, 1}; }

  std::vector<KernelOccupancy> occupancy() const override {
    std::vector<KernelOccupancy> r;
    r.push_back(occupancy_of("forecast", reinterpret_cast<const void*>(&forecast_kernel), kThreads));
    r.push_back(occupancy_of("evidence", reinterpret_cast<const void*>(&evidence_kernel), kThreads));
    for (const PeerKernel& k : peers_kernels()) r.push_back(occupancy_of(k.name, k.function, k.threads));
    return r;
  }

  void peers(const PeerParams& params, const PeerInput& in, const PeerOutput& out) override {
    peers_cuda(params, in, out, 0, resources_);
  }

  // Not yet fused with the forecast (issue 18): the batch's values and z go up once more, a chunk
  // of series at a time on one stream, with the resources' paging policy and OOM fallback. The
  // chunk's columns are strided in [T][N]: 2-D copies gather and scatter them.
  void evidence(const EvidenceParams& params, const EvidenceInput& in, const EvidenceOutput& out) override {
    const size_t T = in.T, N = in.N;
    if (T == 0 || N == 0) return;
    const cuda::Stream& stream = resources_.stream(0);
    cudaStream_t st = stream.get();
    constexpr size_t kArrays = 8;  // values, z, forecast, then local, calibrated, accumulated, baseline, z_base
    size_t chunk = cuda::units_per_chunk(resources_.free_device_bytes(), 0, T * kArrays * sizeof(float) + 1, N, 1);
    cuda::DeviceBuffer<float> arrays;
    cuda::DeviceBuffer<uint8_t> codes;
    const cuda::SyncOnExit sync_on_exit(resources_.streams(), 1);
    chunk = cuda::allocate_halving(
        chunk, "series",
        [&](size_t c) {
          arrays = cuda::DeviceBuffer<float>(kArrays * T * c, st);
          codes = cuda::DeviceBuffer<uint8_t>(c, st);
          stream.sync();
        },
        [&] {
          arrays = {};
          codes = {};
          cudaStreamSynchronize(st);
        });
    const size_t row = N * sizeof(float);
    for (size_t i0 = 0; i0 < N; i0 += chunk) {
      const size_t n = std::min(chunk, N - i0), width = n * sizeof(float);
      float* d[kArrays];
      for (size_t k = 0; k < kArrays; ++k) d[k] = arrays.data() + k * T * n;
      VIGIL_CUDA_CHECK(cudaMemcpy2DAsync(d[0], width, in.values + i0, row, width, T, cudaMemcpyHostToDevice, st));
      VIGIL_CUDA_CHECK(cudaMemcpy2DAsync(d[1], width, in.z + i0, row, width, T, cudaMemcpyHostToDevice, st));
      VIGIL_CUDA_CHECK(cudaMemcpy2DAsync(d[2], width, in.forecast + i0, row, width, T, cudaMemcpyHostToDevice, st));
      if (in.z_base)
        VIGIL_CUDA_CHECK(cudaMemcpy2DAsync(d[7], width, in.z_base + i0, row, width, T, cudaMemcpyHostToDevice, st));
      VIGIL_CUDA_CHECK(cudaMemcpyAsync(codes.data(), in.transform + i0, n, cudaMemcpyHostToDevice, st));
      const unsigned blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
      evidence_kernel<<<blocks, kThreads, 0, st>>>(params, d[0], codes.data(), d[1], in.z_base ? d[7] : nullptr, d[2],
                                                   T, n, in.per_day, d[3], d[4], d[5], d[6]);
      VIGIL_CUDA_CHECK_LAUNCH();
      float* host_out[4] = {out.local, out.calibrated, out.accumulated, out.baseline};
      for (int k = 0; k < 4; ++k)
        if (host_out[k])  // null: not wanted (its device rows are NaN)
          VIGIL_CUDA_CHECK(
            cudaMemcpy2DAsync(host_out[k] + i0, row, d[3 + k], width, width, T, cudaMemcpyDeviceToHost, st));
      VIGIL_CUDA_CHECK(cudaMemcpy2DAsync(in.z + i0, row, d[1], width, width, T, cudaMemcpyDeviceToHost, st));
      if (in.z_base)
        VIGIL_CUDA_CHECK(cudaMemcpy2DAsync(in.z_base + i0, row, d[7], width, width, T, cudaMemcpyDeviceToHost, st));
      stream.sync();  // the next chunk reuses the device buffers
    }
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
    const cuda::PinnedBuffer<char> host(bytes);
    std::memset(host.data(), 1, bytes);
    return best_rate(stream, static_cast<double>(bytes), [&] {
      VIGIL_CUDA_CHECK(cudaMemcpyAsync(d.data(), host.data(), bytes, cudaMemcpyHostToDevice, stream.get()));
    });
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

  // Host <-> device copies of the resident batch through the resources' two pinned staging
  // slots (kept from call to call): the host fills (or empties) one slot while the other's copy
  // runs. Pageable memory would make the driver stage every copy itself, synchronously.
  void upload(const float* host, float* device, size_t count, cudaStream_t st) {
    copy_through_staging(host, device, count, st, cudaMemcpyHostToDevice);
  }
  void download(const float* device, float* host, size_t count, cudaStream_t st) {
    copy_through_staging(device, host, count, st, cudaMemcpyDeviceToHost);
  }
  void copy_through_staging(const float* from, float* to, size_t count, cudaStream_t st, cudaMemcpyKind kind) {
    const size_t slice = std::min(count, kSliceFloats);
    float* slot[2] = {resources_.staging(0, slice), resources_.staging(1, slice)};
    cuda::Event done[2];
    size_t pending_at[2] = {0, 0}, pending_n[2] = {0, 0};  // a download's slice to copy out
    auto finish = [&](int k) {
      VIGIL_CUDA_CHECK(cudaEventSynchronize(done[k].get()));
      if (kind == cudaMemcpyDeviceToHost && pending_n[k]) copy_host(slot[k], to + pending_at[k], pending_n[k]);
      pending_n[k] = 0;
    };
    bool used[2] = {false, false};
    for (size_t at = 0, j = 0; at < count; at += slice, ++j) {
      const int k = static_cast<int>(j % 2);
      const size_t n = std::min(slice, count - at);
      if (used[k]) finish(k);
      if (kind == cudaMemcpyHostToDevice) {
        copy_host(from + at, slot[k], n);
        VIGIL_CUDA_CHECK(cudaMemcpyAsync(to + at, slot[k], n * sizeof(float), kind, st));
      } else {
        VIGIL_CUDA_CHECK(cudaMemcpyAsync(slot[k], from + at, n * sizeof(float), kind, st));
        pending_at[k] = at;
        pending_n[k] = n;
      }
      VIGIL_CUDA_CHECK(cudaEventRecord(done[k].get(), st));
      used[k] = true;
    }
    for (int k = 0; k < 2; ++k)
      if (used[k]) finish(k);
  }
  static void copy_host(const float* from, float* to, size_t n) {
    constexpr size_t kPart = size_t{1} << 20;
#pragma omp parallel for schedule(static)
    for (size_t a = 0; a < n; a += kPart) std::memcpy(to + a, from + a, std::min(kPart, n - a) * sizeof(float));
  }

  KernelOccupancy occupancy_of(const char* name, const void* kernel, int threads) const {
    cudaFuncAttributes attributes{};
    VIGIL_CUDA_CHECK(cudaFuncGetAttributes(&attributes, kernel));
    int blocks = 0;
    VIGIL_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, threads, 0));
    cudaDeviceProp prop{};
    VIGIL_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
    KernelOccupancy o;
    o.kernel = name;
    o.threads_per_block = threads;
    o.registers = attributes.numRegs;
    o.blocks_per_sm = blocks;
    o.occupancy = static_cast<double>(blocks * threads) / prop.maxThreadsPerMultiProcessor;
    return o;
  }

  static constexpr int kStreams = cuda::Resources::kStreams;
  static constexpr int kOutputs = ForecastOutput::kCount;
  static constexpr int kThreads = 128;
  // Pinned staging per stream at most: large enough to fill the device with threads, small
  // enough not to pin a large share of host memory.
  static constexpr size_t kStagingBytes = size_t{1} << 30;
  // A resident batch's copies go through staging in slices of 64 MiB.
  static constexpr size_t kSliceFloats = size_t{16} << 20;

  int device_ = 0;
  BatchStageTimes totals_;
  std::string name_;
  cuda::Resources resources_;  // streams, pinned staging and the memory limit, for every stage
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
