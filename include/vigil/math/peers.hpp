#pragma once
// The per-point math of peer groups (include/vigil/peers.hpp describes the three levels), as
// VIGIL_HD functions that the CPU backend (host/score/peers.cpp) and the CUDA backend
// (kernels/peers.cu) both call. No host types: this header compiles for the device.
#include <cmath>
#include <cstdint>

#include "vigil/math/forecast.hpp"
#include "vigil/math/hd.hpp"

namespace vigil {

#if !defined(__CUDACC__)
using std::isnan;  // device code has the CUDA math library's overloads
#endif

struct PeerParams {
  float clip_z = 5.0f;           // members' z are clipped to +-clip_z before averaging (robust mean)
  float deviating_z = 2.5f;      // a cell deviates when its aggregate passes this, same sign
  float correlation_rate = 0.1f; // EW rate of the rolling correlation's moments (per step)
};

// The rolling correlation is NaN while either weighted variance is below this (z units squared):
// a signal that does not move (a flat group, a series without noise) correlates with nothing.
constexpr float kPeerMinVariance = 1e-4f;

// ---- per-point math, shared by both backends

// The forecast's min/max (lanes::clampf, comparisons rather than libm's fminf/fmaxf). Never
// called with a NaN: callers skip NaN z first, and a settled correlation is finite.
VIGIL_HD float peer_clip(float z, float clip) { return lanes::clampf(z, -clip, clip); }

// Robust mean of the members order[begin, end) of one cell in a time step's row of z.
VIGIL_HD float cell_mean(const float* row, const uint32_t* order, uint32_t begin, uint32_t end, float clip) {
  float sum = 0.0f;
  uint32_t valid = 0;
  for (uint32_t k = begin; k < end; ++k) {
    const float z = row[order[k]];
    if (isnan(z)) continue;
    sum += peer_clip(z, clip);
    ++valid;
  }
  return valid > 0 ? sum / static_cast<float>(valid) : NAN;
}

VIGIL_HD bool deviates_up(float cell_z, float deviating_z) { return cell_z >= deviating_z; }
VIGIL_HD bool deviates_down(float cell_z, float deviating_z) { return cell_z <= -deviating_z; }

// One group at one time step, over all of its cells.
struct GroupContext {
  float sum;       // of the defined cell_z
  uint32_t valid;  // cells with a defined cell_z
  uint32_t up;     // cells deviating up
  uint32_t down;   // cells deviating down
};

VIGIL_HD GroupContext group_context(const float* cell_row, uint32_t begin, uint32_t end, float deviating_z) {
  GroupContext g{0.0f, 0, 0, 0};
  for (uint32_t c = begin; c < end; ++c) {
    const float cz = cell_row[c];
    if (isnan(cz)) continue;
    g.sum += cz;
    ++g.valid;
    g.up += deviates_up(cz, deviating_z);
    g.down += deviates_down(cz, deviating_z);
  }
  return g;
}

// Cells of the group other than the series' own (cell_z `own`) deviating the way z points.
VIGIL_HD float peer_breadth(const GroupContext& g, float own, float z, float deviating_z) {
  if (z > 0.0f) return static_cast<float>(g.up - deviates_up(own, deviating_z));
  if (z < 0.0f) return static_cast<float>(g.down - deviates_down(own, deviating_z));
  return 0.0f;
}

// Mean cell_z of the group's other cells (leave own stack out); NaN when none is defined.
VIGIL_HD float others_mean(const GroupContext& g, float own) {
  const bool own_valid = !isnan(own);
  const uint32_t others = g.valid - own_valid;
  return others > 0 ? (g.sum - (own_valid ? own : 0.0f)) / static_cast<float>(others) : NAN;
}

// Exponentially weighted moments of (x, y) = (clamp(z), others_mean), updated in the
// incremental form (deviations from the running means: no cancellation in float). The rate
// starts as 1/steps (a plain running mean and variance) and settles at correlation_rate, so the
// first steps are not biased toward zero.
struct CorrelationState {
  float steps;          // valid (x, y) pairs seen
  float mx, my;         // weighted means
  float sxx, syy, sxy;  // weighted (co)variances
};

VIGIL_HD CorrelationState correlation_init() { return CorrelationState{0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f}; }

// Whether about 1/rate valid pairs (a full window) have been seen, so that the rate is its own.
VIGIL_HD bool correlation_settled(const CorrelationState& s, float rate) { return s.steps * rate >= 1.0f; }

// Skips a pair with a NaN: the state carries over the gap.
VIGIL_HD void correlation_update(CorrelationState& s, float x, float y, float rate) {
  if (isnan(x) || isnan(y)) return;
  s.steps += 1.0f;
  const float a = correlation_settled(s, rate) ? rate : 1.0f / s.steps;
  const float b = 1.0f - a;
  const float dx = x - s.mx, dy = y - s.my;
  s.mx += a * dx;
  s.my += a * dy;
  s.sxx = b * (s.sxx + a * dx * dx);
  s.syy = b * (s.syy + a * dy * dy);
  s.sxy = b * (s.sxy + a * dx * dy);
}

// Defined once the rate has settled and both signals move; NaN before.
VIGIL_HD float correlation_value(const CorrelationState& s, float rate) {
  if (!correlation_settled(s, rate)) return NAN;
  if (s.sxx < kPeerMinVariance || s.syy < kPeerMinVariance) return NAN;
  return lanes::clampf(s.sxy / sqrtf(s.sxx * s.syy), -1.0f, 1.0f);
}

struct PeerPoint {
  float breadth;
  float correlation;
};

// One series at one time step: z its z_forecast, own its cell's cell_z, g its group's context.
VIGIL_HD PeerPoint peer_step(const PeerParams& p, const GroupContext& g, float own, float z, CorrelationState& s) {
  if (isnan(z)) return {NAN, NAN};
  correlation_update(s, peer_clip(z, p.clip_z), others_mean(g, own), p.correlation_rate);
  return {peer_breadth(g, own, z, p.deviating_z), correlation_value(s, p.correlation_rate)};
}

}  // namespace vigil
