// Peer groups on the GPU. The time-major batch is cut into chunks of time steps (contiguous in
// memory, so each crosses PCIe in one copy, and every chunk holds every group whole); per
// chunk, three kernels run the per-point math of include/vigil/math/peers.hpp:
//   cells   one thread per (t, cell) averages its members, read through `order`
//   groups  one thread per (t, group) totals its cells
//   series  one thread per series streams through the chunk's steps; its correlation state
//           stays on the device from one chunk to the next
//
// Why not cub::DeviceSegmentedReduce for the cells: its CUB 3.0 implementation gives every
// segment a thread block, and our T·C segments hold a few dozen members each (the metrics and
// device families of one stack in one region), so most of each thread block would idle. A
// thread per (t, cell) reads the members of a row as neighbouring threads sweep it, needs no
// gathered copy of z, and adds in the layout's order, so cell_z, group totals and breadth equal
// the CPU backend's exactly. Its weak case is a layout of a handful of huge cells (no group
// dimension, hundreds of thousands of series per stack): T·C threads then underfill the GPU.
#include <algorithm>
#include <cstring>
#include <optional>

#include "cuda_check.cuh"
#include "cuda_resources.cuh"
#include "vigil/peers.hpp"

namespace vigil {
namespace {

constexpr int kThreads = 256;

// Grid-stride launches: a chunk's T·C or T·G may exceed one grid.
unsigned grid_for(size_t items) {
  return static_cast<unsigned>(std::min<size_t>((items + kThreads - 1) / kThreads, size_t{1} << 20));
}

__global__ void cells_kernel(const float* __restrict__ z, const uint32_t* __restrict__ order,
                             const uint32_t* __restrict__ cell_offsets, float* __restrict__ cell_z, size_t rows,
                             size_t N, size_t C, float clip) {
  for (size_t k = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; k < rows * C;
       k += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t t = k / C, c = k % C;
    cell_z[k] = cell_mean(z + t * N, order, cell_offsets[c], cell_offsets[c + 1], clip);
  }
}

__global__ void groups_kernel(const float* __restrict__ cell_z, const uint32_t* __restrict__ group_cell_offsets,
                              GroupContext* __restrict__ context, size_t rows, size_t C, size_t G, float deviating_z) {
  for (size_t k = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; k < rows * G;
       k += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t t = k / G, g = k % G;
    context[k] = group_context(cell_z + t * C, group_cell_offsets[g], group_cell_offsets[g + 1], deviating_z);
  }
}

// Correlation state, one array per field ([6][N]) so that a warp's loads are coalesced.
constexpr int kStateFields = 6;

__device__ CorrelationState load_state(const float* s, size_t i, size_t N) {
  return CorrelationState{s[i], s[N + i], s[2 * N + i], s[3 * N + i], s[4 * N + i], s[5 * N + i]};
}

__device__ void store_state(float* s, size_t i, size_t N, const CorrelationState& v) {
  s[i] = v.steps;
  s[N + i] = v.mx;
  s[2 * N + i] = v.my;
  s[3 * N + i] = v.sxx;
  s[4 * N + i] = v.syy;
  s[5 * N + i] = v.sxy;
}

__global__ void series_kernel(PeerParams p, const float* __restrict__ z, const float* __restrict__ cell_z,
                              const GroupContext* __restrict__ context, const uint32_t* __restrict__ cell_of_series,
                              const uint32_t* __restrict__ group_of_cell, float* __restrict__ state,
                              float* __restrict__ breadth, float* __restrict__ correlation, size_t rows, size_t N,
                              size_t C, size_t G, bool first_chunk) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= N) return;
  CorrelationState s = first_chunk ? correlation_init() : load_state(state, i, N);
  const uint32_t c = cell_of_series[i], g = group_of_cell[c];
  for (size_t t = 0; t < rows; ++t) {
    const PeerPoint r = peer_step(p, context[t * G + g], cell_z[t * C + c], z[t * N + i], s);
    breadth[t * N + i] = r.breadth;
    correlation[t * N + i] = r.correlation;
  }
  store_state(state, i, N, s);
}

template <typename T>
cuda::DeviceBuffer<T> upload(const std::vector<T>& host, cudaStream_t stream) {
  cuda::DeviceBuffer<T> buffer(host.size(), stream);
  if (!host.empty())
    VIGIL_CUDA_CHECK(
        cudaMemcpyAsync(buffer.data(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice, stream));
  return buffer;
}

// One chunk of time steps on the device, from its upload to its readback. Two of them, one per
// stream, are allocated once for the largest chunk and reused.
struct Chunk {
  size_t t0 = 0, rows = 0;
  cudaStream_t stream = nullptr;
  cuda::DeviceBuffer<float> z, cell_z, breadth, correlation;
  cuda::DeviceBuffer<GroupContext> context;
};

}  // namespace

std::vector<PeerKernel> peers_kernels() {
  return {{"peers_cells", reinterpret_cast<const void*>(&cells_kernel), kThreads},
          {"peers_groups", reinterpret_cast<const void*>(&groups_kernel), kThreads},
          {"peers_series", reinterpret_cast<const void*>(&series_kernel), kThreads}};
}

size_t peers_device_bytes(size_t T, size_t N, const PeerLayout& layout) {
  const size_t C = layout.cells(), G = layout.groups();
  return (2 * N + 2 * C + G + 2) * sizeof(uint32_t) + kStateFields * N * sizeof(float) +
         T * (C * sizeof(float) + G * sizeof(GroupContext) + 2 * N * sizeof(float));
}

void peers_on_device(const PeerParams& params, const float* z, size_t T, size_t N, const PeerLayout& layout,
                     float* cell_z, float* breadth, float* correlation, cudaStream_t stream) {
  check_peer_call(params, PeerInput{z, T, N, &layout}, PeerOutput{cell_z, breadth, correlation});
  if (T == 0 || N == 0) return;
  const size_t C = layout.cells(), G = layout.groups();
  // Stream-ordered: every buffer here is freed on `stream` after the kernels that use it.
  const cuda::DeviceBuffer<uint32_t> order = upload(layout.order, stream),
                                     cell_offsets = upload(layout.cell_offsets, stream),
                                     group_cell_offsets = upload(layout.group_cell_offsets, stream),
                                     cell_of_series = upload(layout.cell_of_series, stream),
                                     group_of_cell = upload(layout.group_of_cell, stream);
  const cuda::DeviceBuffer<float> state(kStateFields * N, stream);
  const cuda::DeviceBuffer<GroupContext> context(T * G, stream);
  cells_kernel<<<grid_for(T * C), kThreads, 0, stream>>>(z, order.data(), cell_offsets.data(), cell_z, T, N, C,
                                                         params.clip_z);
  VIGIL_CUDA_CHECK_LAUNCH();
  groups_kernel<<<grid_for(T * G), kThreads, 0, stream>>>(cell_z, group_cell_offsets.data(), context.data(), T, C,
                                                          G, params.deviating_z);
  VIGIL_CUDA_CHECK_LAUNCH();
  series_kernel<<<static_cast<unsigned>((N + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      params, z, cell_z, context.data(), cell_of_series.data(), group_of_cell.data(), state.data(), breadth,
      correlation, T, N, C, G, true);
  VIGIL_CUDA_CHECK_LAUNCH();
}

void peers_cuda(const PeerParams& params, const PeerInput& in, const PeerOutput& out, size_t max_chunk_steps) {
  cuda::Resources resources;
  peers_cuda(params, in, out, max_chunk_steps, resources);
}

void peers_cuda(const PeerParams& params, const PeerInput& in, const PeerOutput& out, size_t max_chunk_steps,
                cuda::Resources& resources) {
  check_peer_call(params, in, out);
  const size_t T = in.T, N = in.N;
  if (T == 0 || N == 0) return;
  const PeerLayout& layout = *in.layout;
  const size_t C = layout.cells(), G = layout.groups();
  constexpr int kStreams = cuda::Resources::kStreams;

  // Two chunks are resident at once (one computing, one being read back), under the forecast's
  // paging policy and memory limit.
  const size_t fixed_bytes = (2 * N + 2 * C + G + 2) * sizeof(uint32_t) + kStateFields * N * sizeof(float);
  const size_t row_bytes = 3 * N * sizeof(float) + C * sizeof(float) + G * sizeof(GroupContext);
  const size_t cap = max_chunk_steps > 0 ? std::min(max_chunk_steps, T) : T;
  size_t steps_per_chunk = cuda::units_per_chunk(resources.free_device_bytes(), fixed_bytes, row_bytes, cap, kStreams);
  // The readbacks' pinned staging stays within 1 GiB per stream (pinning much more is slow and
  // takes pages from everything else on the host).
  const size_t staged_row = (2 * N + C) * sizeof(float);
  steps_per_chunk = std::min(steps_per_chunk, std::max<size_t>(1, (size_t{1} << 30) / staged_row));

  const cuda::Stream* streams = resources.streams();
  const cudaStream_t setup = streams[0].get();
  const cuda::DeviceBuffer<uint32_t> order = upload(layout.order, setup),
                                     cell_offsets = upload(layout.cell_offsets, setup),
                                     group_cell_offsets = upload(layout.group_cell_offsets, setup),
                                     cell_of_series = upload(layout.cell_of_series, setup),
                                     group_of_cell = upload(layout.group_of_cell, setup);
  const cuda::DeviceBuffer<float> state(kStateFields * N, setup);
  cuda::Event layout_ready, state_ready;
  VIGIL_CUDA_CHECK(cudaEventRecord(layout_ready.get(), setup));
  Chunk chunks[kStreams];
  // Declared after every buffer the streams use: waits for them, also when an exception unwinds.
  const cuda::SyncOnExit sync_on_exit(streams, kStreams);
  steps_per_chunk = cuda::allocate_halving(
      steps_per_chunk, "time step of peer groups",
      [&](size_t rows) {
        for (int k = 0; k < kStreams; ++k) {
          Chunk& chunk = chunks[k];
          chunk.stream = streams[k].get();
          chunk.z = cuda::DeviceBuffer<float>(rows * N, chunk.stream);
          chunk.cell_z = cuda::DeviceBuffer<float>(rows * C, chunk.stream);
          chunk.breadth = cuda::DeviceBuffer<float>(rows * N, chunk.stream);
          chunk.correlation = cuda::DeviceBuffer<float>(rows * N, chunk.stream);
          chunk.context = cuda::DeviceBuffer<GroupContext>(rows * G, chunk.stream);
        }
        for (int k = 0; k < kStreams; ++k) streams[k].sync();  // stream-ordered allocations fail here too
      },
      [&] {
        for (Chunk& chunk : chunks) chunk = Chunk{};
        for (int k = 0; k < kStreams; ++k) cudaStreamSynchronize(streams[k].get());
      });

  // Readbacks land in the resources' pinned staging (one slot per stream, kept from call to call),
  // then the host copies them out: a pageable destination would make the driver stage them
  // itself, synchronously. The next chunk is queued before the previous one is read back, so
  // its copy and kernels run while the host waits for that readback.
  float* staged[kStreams];
  for (int k = 0; k < kStreams; ++k) staged[k] = resources.staging(k, steps_per_chunk * (2 * N + C));
  const auto read_back = [&](const Chunk& chunk) {
    float* slot = staged[&chunk - chunks];
    const size_t cells = chunk.rows * C, points = chunk.rows * N;
    VIGIL_CUDA_CHECK(cudaMemcpyAsync(slot, chunk.cell_z.data(), cells * sizeof(float), cudaMemcpyDeviceToHost,
                                     chunk.stream));
    VIGIL_CUDA_CHECK(cudaMemcpyAsync(slot + cells, chunk.breadth.data(), points * sizeof(float),
                                     cudaMemcpyDeviceToHost, chunk.stream));
    VIGIL_CUDA_CHECK(cudaMemcpyAsync(slot + cells + points, chunk.correlation.data(), points * sizeof(float),
                                     cudaMemcpyDeviceToHost, chunk.stream));
    VIGIL_CUDA_CHECK(cudaStreamSynchronize(chunk.stream));
    std::memcpy(out.cell_z + chunk.t0 * C, slot, cells * sizeof(float));
    std::memcpy(out.breadth + chunk.t0 * N, slot + cells, points * sizeof(float));
    std::memcpy(out.correlation + chunk.t0 * N, slot + cells + points, points * sizeof(float));
  };
  const Chunk* pending = nullptr;
  for (size_t t0 = 0, k = 0; t0 < T; t0 += steps_per_chunk, ++k) {
    // This chunk's buffers held chunk k - 2, read back (and its stream synchronised) last round.
    Chunk& chunk = chunks[k % kStreams];
    chunk.t0 = t0;
    chunk.rows = std::min(steps_per_chunk, T - t0);
    VIGIL_CUDA_CHECK(cudaStreamWaitEvent(chunk.stream, layout_ready.get(), 0));
    VIGIL_CUDA_CHECK(cudaMemcpyAsync(chunk.z.data(), in.z + t0 * N, chunk.rows * N * sizeof(float),
                                     cudaMemcpyHostToDevice, chunk.stream));
    cells_kernel<<<grid_for(chunk.rows * C), kThreads, 0, chunk.stream>>>(
        chunk.z.data(), order.data(), cell_offsets.data(), chunk.cell_z.data(), chunk.rows, N, C, params.clip_z);
    VIGIL_CUDA_CHECK_LAUNCH();
    groups_kernel<<<grid_for(chunk.rows * G), kThreads, 0, chunk.stream>>>(
        chunk.cell_z.data(), group_cell_offsets.data(), chunk.context.data(), chunk.rows, C, G, params.deviating_z);
    VIGIL_CUDA_CHECK_LAUNCH();
    // The correlation state comes from the previous chunk, on the other stream.
    if (k > 0) VIGIL_CUDA_CHECK(cudaStreamWaitEvent(chunk.stream, state_ready.get(), 0));
    series_kernel<<<static_cast<unsigned>((N + kThreads - 1) / kThreads), kThreads, 0, chunk.stream>>>(
        params, chunk.z.data(), chunk.cell_z.data(), chunk.context.data(), cell_of_series.data(), group_of_cell.data(),
        state.data(), chunk.breadth.data(), chunk.correlation.data(), chunk.rows, N, C, G, k == 0);
    VIGIL_CUDA_CHECK_LAUNCH();
    VIGIL_CUDA_CHECK(cudaEventRecord(state_ready.get(), chunk.stream));
    if (pending) read_back(*pending);
    pending = &chunk;
  }
  read_back(*pending);
}

}  // namespace vigil
