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

namespace {

// One step of a block of series through peer_step's math, written branch-free over arrays (the
// state in columns) so that it vectorises: a point without a z, or without a defined mean of the
// other cells, computes its update and keeps the old state. The same operations in the same
// order as peer_step, hence the same results. Compiled for AVX-512 and AVX2 as well, without
// contraction into FMAs (which would round differently from the scalar path).
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"), optimize("fp-contract=off")))
void peer_series_row(const PeerParams& params, const float* __restrict z, const uint32_t* __restrict cell,
                     const float* __restrict others, const float* __restrict up, const float* __restrict down,
                     float* __restrict steps, float* __restrict mx, float* __restrict my, float* __restrict sxx,
                     float* __restrict syy, float* __restrict sxy, float* __restrict breadth,
                     float* __restrict correlation, size_t n) {
  const float rate = params.correlation_rate, clip = params.clip_z;
#pragma omp simd
  for (size_t j = 0; j < n; ++j) {
    // Every load unconditional and every choice a select: no control flow in the loop.
    const float zj = z[j];
    const uint32_t c = cell[j];
    const float y = others[c], u = up[c], d = down[c];
    const float m0 = steps[j], mx0 = mx[j], my0 = my[j], xx0 = sxx[j], yy0 = syy[j], xy0 = sxy[j];
    const float x = lanes::clampf(zj, -clip, clip);  // peer_clip (unused where z is NaN)
    const bool scored = zj == zj;
    const bool update = scored & (y == y);
    const float n1 = m0 + 1.0f;
    const float a = n1 * rate >= 1.0f ? rate : 1.0f / n1;
    const float b = 1.0f - a;
    const float dx = x - mx0, dy = y - my0;
    const float s1 = update ? n1 : m0;
    const float xx = update ? b * (xx0 + a * dx * dx) : xx0;
    const float yy = update ? b * (yy0 + a * dy * dy) : yy0;
    const float xy = update ? b * (xy0 + a * dx * dy) : xy0;
    steps[j] = s1;
    mx[j] = update ? mx0 + a * dx : mx0;
    my[j] = update ? my0 + a * dy : my0;
    sxx[j] = xx;
    syy[j] = yy;
    sxy[j] = xy;
    // correlation_value and peer_breadth
    const bool defined = (s1 * rate >= 1.0f) & (xx >= kPeerMinVariance) & (yy >= kPeerMinVariance);
    const float value = lanes::clampf(xy / __builtin_sqrtf(xx * yy), -1.0f, 1.0f);
    correlation[j] = scored & defined ? value : NAN;
    const float side = zj > 0.0f ? u : (zj < 0.0f ? d : 0.0f);
    breadth[j] = scored ? side : NAN;
  }
}

}  // namespace

void peers_cpu(const PeerParams& params, const PeerInput& in, const PeerOutput& out, int threads) {
  check_peer_call(params, in, out);
  const size_t T = in.T, N = in.N;
  if (T == 0 || N == 0) return;
  const PeerLayout& layout = *in.layout;
  const size_t C = layout.cells(), G = layout.groups();
  if (threads <= 0) threads = omp_get_max_threads();

  // Cells and groups: time steps are independent, and a step's row of z is contiguous. What each
  // cell's series need of their group is then computed once per cell.
  std::vector<float> others(T * C), up(T * C), down(T * C);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t t = 0; t < T; ++t) {
    const float* row = in.z + t * N;
    float* cell_row = out.cell_z + t * C;
    for (size_t c = 0; c < C; ++c)
      cell_row[c] =
          cell_mean(row, layout.order.data(), layout.cell_offsets[c], layout.cell_offsets[c + 1], params.clip_z);
    for (size_t g = 0; g < G; ++g) {
      const uint32_t c0 = layout.group_cell_offsets[g], c1 = layout.group_cell_offsets[g + 1];
      const GroupContext context = group_context(cell_row, c0, c1, params.deviating_z);
      for (uint32_t c = c0; c < c1; ++c) {
        const float own = cell_row[c];
        others[t * C + c] = others_mean(context, own);
        up[t * C + c] = peer_breadth(context, own, 1.0f, params.deviating_z);
        down[t * C + c] = peer_breadth(context, own, -1.0f, params.deviating_z);
      }
    }
  }

  // Series: the correlation is a scan through time, so each thread owns a block of series and
  // streams through the steps, reading and writing contiguous runs of each row.
  constexpr size_t kBlock = 256;
  const size_t blocks = (N + kBlock - 1) / kBlock;
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> state(6 * kBlock);  // steps, mx, my, sxx, syy, sxy: columns of CorrelationState
    uint32_t cell[kBlock];
#pragma omp for schedule(dynamic, 1)
    for (size_t b = 0; b < blocks; ++b) {
      const size_t i0 = b * kBlock, n = std::min(kBlock, N - i0);
      const CorrelationState start = correlation_init();
      const float fields[6] = {start.steps, start.mx, start.my, start.sxx, start.syy, start.sxy};
      for (int k = 0; k < 6; ++k) std::fill_n(state.data() + k * kBlock, kBlock, fields[k]);
      for (size_t j = 0; j < n; ++j) cell[j] = layout.cell_of_series[i0 + j];
      float* s = state.data();
      for (size_t t = 0; t < T; ++t)
        peer_series_row(params, in.z + t * N + i0, cell, others.data() + t * C, up.data() + t * C,
                        down.data() + t * C, s, s + kBlock, s + 2 * kBlock, s + 3 * kBlock, s + 4 * kBlock,
                        s + 5 * kBlock, out.breadth + t * N + i0, out.correlation + t * N + i0, n);
    }
  }
}

}  // namespace vigil
