// Peer groups on the CPU: the layout (shared with the CUDA backend) and the OpenMP stage. The
// per-point math is include/vigil/math/peers.hpp's, the same the CUDA backend runs.
#include "vigil/peers.hpp"

#include <omp.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace vigil {
namespace {

int role_dim(const Keys& keys, const std::string& name) { return name.empty() ? -1 : keys.dim_index(name); }

}  // namespace

PeerLayout make_peer_layout(const Dataset& data) {
  const Keys& keys = data.keys;
  const size_t N = data.N();
  if (N > std::numeric_limits<uint32_t>::max())
    throw std::invalid_argument("peers: more series than a 32-bit index holds");
  const int group_dim = role_dim(keys, data.group_dim);
  const int stack_dim = role_dim(keys, data.stack_dim);
  const auto group_of = [&](uint32_t i) { return group_dim < 0 ? 0u : keys.code(i, group_dim); };
  // Without a stack dimension every series is a stack of its own.
  const auto stack_of = [&](uint32_t i) { return stack_dim < 0 ? i : keys.code(i, stack_dim); };

  PeerLayout layout;
  layout.order.resize(N);
  std::iota(layout.order.begin(), layout.order.end(), 0u);
  std::sort(layout.order.begin(), layout.order.end(), [&](uint32_t a, uint32_t b) {
    const uint32_t ga = group_of(a), gb = group_of(b);
    if (ga != gb) return ga < gb;
    const uint32_t sa = stack_of(a), sb = stack_of(b);
    return sa != sb ? sa < sb : a < b;
  });

  layout.cell_of_series.resize(N);
  for (size_t k = 0; k < N; ++k) {
    const uint32_t i = layout.order[k];
    const bool new_group = k == 0 || group_of(i) != group_of(layout.order[k - 1]);
    const bool new_cell = new_group || stack_of(i) != stack_of(layout.order[k - 1]);
    if (new_group) layout.group_cell_offsets.push_back(static_cast<uint32_t>(layout.cell_offsets.size()));
    if (new_cell) {
      layout.cell_offsets.push_back(static_cast<uint32_t>(k));
      layout.group_of_cell.push_back(static_cast<uint32_t>(layout.group_cell_offsets.size() - 1));
    }
    layout.cell_of_series[i] = static_cast<uint32_t>(layout.cell_offsets.size() - 1);
  }
  layout.group_cell_offsets.push_back(static_cast<uint32_t>(layout.cell_offsets.size()));
  layout.cell_offsets.push_back(static_cast<uint32_t>(N));
  return layout;
}

void peers_cpu(const PeerParams& params, const PeerInput& in, const PeerOutput& out, int threads) {
  check_peer_call(params, in, out);
  const size_t T = in.T, N = in.N;
  if (T == 0 || N == 0) return;
  const PeerLayout& layout = *in.layout;
  const size_t C = layout.cells(), G = layout.groups();
  if (threads <= 0) threads = omp_get_max_threads();

  // Cells and groups: time steps are independent, and a step's row of z is contiguous.
  std::vector<GroupContext> context(T * G);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t t = 0; t < T; ++t) {
    const float* row = in.z + t * N;
    float* cell_row = out.cell_z + t * C;
    for (size_t c = 0; c < C; ++c)
      cell_row[c] =
          cell_mean(row, layout.order.data(), layout.cell_offsets[c], layout.cell_offsets[c + 1], params.clip_z);
    for (size_t g = 0; g < G; ++g)
      context[t * G + g] =
          group_context(cell_row, layout.group_cell_offsets[g], layout.group_cell_offsets[g + 1], params.deviating_z);
  }

  // Series: the correlation is a scan through time, so each thread owns a block of series and
  // streams through the steps, reading and writing contiguous runs of each row.
  constexpr size_t kBlock = 256;
  const size_t blocks = (N + kBlock - 1) / kBlock;
#pragma omp parallel num_threads(threads)
  {
    CorrelationState state[kBlock];
    uint32_t cell[kBlock], group[kBlock];
#pragma omp for schedule(dynamic, 1)
    for (size_t b = 0; b < blocks; ++b) {
      const size_t i0 = b * kBlock, n = std::min(kBlock, N - i0);
      for (size_t j = 0; j < n; ++j) {
        state[j] = correlation_init();
        cell[j] = layout.cell_of_series[i0 + j];
        group[j] = layout.group_of_cell[cell[j]];
      }
      for (size_t t = 0; t < T; ++t) {
        const float* z = in.z + t * N + i0;
        const float* cell_row = out.cell_z + t * C;
        const GroupContext* group_row = context.data() + t * G;
        float* breadth = out.breadth + t * N + i0;
        float* correlation = out.correlation + t * N + i0;
        for (size_t j = 0; j < n; ++j) {
          const PeerPoint r = peer_step(params, group_row[group[j]], cell_row[cell[j]], z[j], state[j]);
          breadth[j] = r.breadth;
          correlation[j] = r.correlation;
        }
      }
    }
  }
}

}  // namespace vigil
