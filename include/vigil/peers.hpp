#pragma once
// Peer groups (DESIGN.md pipeline step 6): series compared with the other technology stacks of
// their group (region) at the same time step. O(N·T): one robust aggregate per (group, stack,
// t), then per series the breadth and a rolling correlation against the leave-own-stack-out
// group signal. Never O(N^2).
#include <cstdint>
#include <vector>

#include "vigil/dataset.hpp"
#include "vigil/hd.hpp"

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

// Without a group dimension every series is in one group; without a stack dimension each series
// is its own stack (so breadth counts other series); both absent: one group of singletons.
PeerLayout make_peer_layout(const Dataset& data);

struct PeerParams {
  float clip_z = 5.0f;           // members' z are clipped to +-clip_z before averaging (robust mean)
  float deviating_z = 2.5f;      // a cell deviates when its aggregate passes this, same sign
  float correlation_rate = 0.1f; // EW rate of the rolling correlation's moments (per step)
};

// Views, never owning. All [T][N] arrays are time-major in series order (not `order`).
struct PeerInput {
  const float* z = nullptr;  // z_forecast, NaN = missing / not scored
  size_t T = 0, N = 0;
  const PeerLayout* layout = nullptr;
};

struct PeerOutput {
  float* cell_z = nullptr;       // [T][C] robust mean of members' z (NaN when no member scored)
  float* breadth = nullptr;      // [T][N] other stacks of the group deviating the same way as the
                                 // series at t (NaN when the series' z is NaN)
  float* correlation = nullptr;  // [T][N] rolling correlation of z with the mean of the other
                                 // stacks' cell_z in the group (NaN until defined)
};

// The backends' implementations (host/peers.cpp, kernels/peers.cu).
void peers_cpu(const PeerParams& params, const PeerInput& in, const PeerOutput& out, int threads);
void peers_cuda(const PeerParams& params, const PeerInput& in, const PeerOutput& out);

}  // namespace vigil
