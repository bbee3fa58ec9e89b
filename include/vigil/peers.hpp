#pragma once
// Peer groups (DESIGN.md pipeline step 6): series compared with the other technology stacks of
// their group (region) at the same time step. O(N·T): one robust aggregate per (group, stack,
// t), then per series the breadth and a rolling correlation against the leave-own-stack-out
// group signal. Never O(N^2).
//
// Per time step t the work has three levels, each written once as VIGIL_HD functions (include/vigil/math/peers.hpp) that
// the CPU backend (host/score/peers.cpp, OpenMP) and the CUDA backend (kernels/peers.cu) both call:
//   cell   cell_z = mean of clamp(z, +-clip_z) over the members whose z is not NaN (cell_mean)
//   group  how many of its cells deviate up / down (|cell_z| >= deviating_z), and the sum and
//          count of its defined cell_z (group_context)
//   series breadth and the leave-own-stack-out mean from the group's totals minus its own
//          cell's share, then one step of the rolling correlation (peer_step)
// Both backends add the members of a cell and the cells of a group in the same order (the
// layout's), so cell_z, the group totals and therefore breadth agree exactly between them; the
// correlation can differ only by the GPU's fused multiply-adds in its update.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "vigil/dataset.hpp"
#include "vigil/math/peers.hpp"

namespace vigil {

// Series ordered by (group, stack); a cell is one (group, stack) pair, a contiguous range of
// `order`, and a group a contiguous range of cells. Built once per dataset on the host.
struct PeerLayout {
  std::vector<uint32_t> order;              // [N] series indices sorted by (group, stack, index)
  std::vector<uint32_t> cell_offsets;       // [C+1] into `order`
  std::vector<uint32_t> group_cell_offsets; // [G+1] into cells
  std::vector<uint32_t> cell_of_series;     // [N] cell of each series (by series index)
  std::vector<uint32_t> group_of_cell;      // [C]
  size_t cells() const { return cell_offsets.empty() ? 0 : cell_offsets.size() - 1; }
  size_t groups() const { return group_cell_offsets.empty() ? 0 : group_cell_offsets.size() - 1; }
};

// Groups and stacks are ordered by their dictionary code (first appearance in the input), series
// within a cell by index. Without a group dimension every series is in one group; without a
// stack dimension each series is its own stack (so breadth counts other series); both absent:
// one group of singletons. A role naming a dimension the keys do not have counts as absent.
PeerLayout make_peer_layout(const Dataset& data);


// Views, never owning. All [T][N] arrays are time-major in series order (not `order`).
struct PeerInput {
  const float* z = nullptr;  // z_forecast, NaN = missing / not scored
  size_t T = 0, N = 0;
  const PeerLayout* layout = nullptr;
};

struct PeerOutput {
  float* cell_z = nullptr;       // [T][C] robust mean of members' z (NaN when no member scored)
  float* breadth = nullptr;      // [T][N] other cells (stacks) of the group whose cell_z deviates
                                 // the way the series' z points: cell_z >= deviating_z when
                                 // z > 0, <= -deviating_z when z < 0; 0 when z == 0. Computed
                                 // for every scored point, whatever its own |z| (it describes
                                 // the point's group context). NaN when the series' z is NaN.
  float* correlation = nullptr;  // [T][N] rolling correlation of clamp(z) with the mean of the
                                 // other cells' cell_z in the group (NaN when the series' z is
                                 // NaN, and until defined: see correlation_value; a step where
                                 // no other cell is defined leaves it as it was)
};

// The backends' implementations (host/score/peers.cpp, kernels/peers.cu). The CUDA one moves the data
// in chunks of time steps sized to the free device memory; `max_chunk_steps` > 0 caps a chunk
// (tests use it to check that the correlation state carries across chunks).
void peers_cpu(const PeerParams& params, const PeerInput& in, const PeerOutput& out, int threads);
void peers_cuda(const PeerParams& params, const PeerInput& in, const PeerOutput& out, size_t max_chunk_steps = 0);

// Both implementations reject the same malformed calls (std::invalid_argument).
inline void check_peer_call(const PeerParams& p, const PeerInput& in, const PeerOutput& out) {
  if (!(p.clip_z > 0) || !(p.deviating_z > 0) || !(p.correlation_rate > 0 && p.correlation_rate <= 1))
    throw std::invalid_argument("peers: clip_z and deviating_z must be > 0 and correlation_rate in (0, 1]");
  if (!in.layout || in.layout->order.size() != in.N || in.layout->cell_of_series.size() != in.N ||
      in.layout->group_of_cell.size() != in.layout->cells())
    throw std::invalid_argument("peers: the layout does not match the input's series");
  if (in.T * in.N > 0 && (!in.z || !out.cell_z || !out.breadth || !out.correlation))
    throw std::invalid_argument("peers: null input or output array");
}

}  // namespace vigil
