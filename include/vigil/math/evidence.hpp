#ifndef VIGIL_EVIDENCE_HPP_
#define VIGIL_EVIDENCE_HPP_
// The evidence stage of DESIGN.md (scoring steps 7, 8 and 10), written once as VIGIL_HD
// functions that the CPU backend and the CUDA backend both run, one series at a time through
// time, after the forecast.
//
// Local evidence. The point against the series' own recent behaviour: an exponentially weighted
// mean and spread of its raw values over `local_hours` (at least 10 points), updated with values
// clipped at 3 spreads so an excursion does not teach its own scale at once. Counts never get a
// spread below their Poisson noise, sqrt(max(mean, 1)): a run of zeros followed by a 3 is not a
// 1e17-sigma event. On 60 real labelled production series (shared/data/cloud-monitoring) this
// ranks points far better than the forecast's z alone (README "Detection on real data").
//
// Young models. The forecast reports z from its second day, while it is still learning (the
// first week with a weekly model). That early z is overconfident, so this stage widens it in place
// before anything alarms on it: divided by `young_width` at the first reported point, easing
// linearly to 1 once the model is mature (`young_until` steps after the series' first value).
// The peers run before this, on the model's own z, so a power cut in the first week is still
// recognised across stacks.
//
// Calibration. The forecast's z assumes a noise model; real series break it in both directions
// (a bursty, mostly-zero count reaches |z| 200 on an ordinary burst, a smooth latency never
// leaves |z| 1.5). Each series tracks the 90th percentile of its own |z| (stochastic quantile
// tracking by factors, a step in log space) and the mean excess of |z| over it (the scale of an exponential tail,
// learned from the exceedances alone, so it settles within a few dozen of them), which gives a
// 99th percentile q99 = q90 + ln(10) x excess; |z| is mapped through both onto the standard
// normal's: q90 -> 1.645, q99 -> 2.576, linear beyond. (Tracking q99 directly moves down by 1 %
// of a step per point: from a wide start it needed ~9,000 points, a month at 5 minutes.) A
// series whose residuals are Gaussian keeps its z; a heavy-tailed one has its tail shrunk; a
// smooth one has its z stretched, at most `max_gain`. So one threshold means the same rarity on
// every series.
//
// The trackers start wide (`prior_width` times the Gaussian's q90) with the weight of
// `prior_points` observations: while a series has little history its calibration is cautious,
// and it narrows as the series' own residuals take over.
//
// Accumulated evidence. A sustained moderate deviation (z -3.5 for two hours) is as alarming as
// one large point: an exponentially weighted mean of z (each point clipped at `clip`, so one
// spike does not make a run), normalised to unit variance for independent points, and calibrated
// against its own history in the same way (residuals are autocorrelated, so its raw spread is
// wider than 1).
//
// Slow baseline. The forecast's level follows a slow leak (a slide to -60 % over four hours is
// half-learned as it happens), so its z stays moderate. What the level cannot hide is how far
// the forecast itself has moved from where it stood at the same time of day before: the drift
// f(t) - median(f(t - 1 day), f(t - 2 days), f(t - 7 days)) (those that exist), in transformed
// space (a relative change for counts), calibrated against the series' own history of drifts. A
// day-to-day swing the series always has is not evidence; a slide the level followed is.
#include <cmath>

#include "vigil/math/forecast.hpp"  // the lanes (min_f, max_f, clampf, splat, sqrt_of, abs_of)
#include "vigil/math/hd.hpp"

namespace vigil {

struct EvidenceParams {
  float young_until = 0;     // series age (steps) from which z is mature and left as it is
  float young_slope = 0;     // widening of a young z per step of age still ahead of young_until
  float local_rate = 0;      // per-point rate of the local mean and spread
  float local_warm = 0;      // points before the local evidence is reported
  float quantile_rate = 0;   // steady per-point rate of the quantile trackers
  float prior_points = 0;    // weight of the wide prior, in points
  float prior_width = 0;     // the trackers' start, in multiples of the Gaussian's q90
  float max_gain = 0;        // largest stretch of a smooth series' z
  float accumulate_rate = 0;  // per-point rate of the accumulated evidence's mean
  float accumulate_se = 0;    // its standard error at that rate, sqrt(rate / (2 - rate))
  float clip = 0;            // |z| counted into the accumulated evidence
  float drift_prior = 0.05f; // a young series' typical day-to-day drift (transformed units): its start q90 / 1.645
  float drift_unit = 0.01f;  // the smallest q90 of a drift: a 1 % day-to-day swing
  // The outputs computed (the others are NaN): a run that writes no scores needs only what opens
  // episodes. Each has its own state, so leaving one out changes none of the others.
  bool with_local = true, with_calibrated = true, with_accumulated = true, with_baseline = true;
};

// The state and outputs are written once over a lane type V, like the forecast's (forecast.hpp,
// "The per-point math, on lanes"): `float` for one series (the CUDA thread, the reference), a
// vector of W series on the CPU.

// A series' own tail of |v|: q90 and the mean excess over q90 (see "Calibration").
template <class V>
struct TailOf {
  V q90;
  V excess;     // mean of |v| - q90 over the points past q90
  V n;          // points seen
  V exceeded;   // points past q90
};

// Per-series state: plain floats so it can live in registers or a strided array (kStateFloats
// rows of the CPU's blocks, in this order).
template <class V>
struct EvidenceStateOf {
  V age;                       // steps since the series' first valid value, as the forecast counts it
  V local_n;                   // valid values seen
  V local_mean, local_var;
  TailOf<V> q;                 // |z|
  TailOf<V> aq;                // |accumulated| (raw)
  V mean;                      // EW mean of the clipped z
  V mean_n;                    // points in it (its normalisation while it fills)
  TailOf<V> bq;                // |drift| of the slow baseline
  static constexpr int kStateFloats = 18;
};

template <class V>
struct EvidenceOutOf {
  V local;        // NaN where the value is missing or the local history is too short
  V calibrated;   // NaN where z is NaN
  V accumulated;  // NaN until the mean has a point
  V baseline;     // NaN without an earlier day's forecast
};

using TailTracker = TailOf<float>;
using EvidenceState = EvidenceStateOf<float>;
using EvidenceOut = EvidenceOutOf<float>;
static_assert(sizeof(EvidenceState) == EvidenceState::kStateFloats * sizeof(float), "the state is its rows");

namespace evidence_detail {

constexpr float kGaussQ90 = 1.6449f, kGaussQ99 = 2.5758f;
// The q90 tracker's step in log units per unit of rate: large enough that a wide start comes down
// to the series' own scale within a few hundred points (the sum of the early steps grows like
// 8 x 0.1 x ln(points)), small enough that a quantile does not jump on one point (0.7 % at the
// steady rate of 1/500).
constexpr float kTrackerStep = 8.0f;

// ln(10): an exponential tail's excess scale from its 90th to its 99th percentile.
constexpr float kLn10 = 2.302585f;
// The mean excess over q90 of a standard normal |z|: E[|z| - 1.645 | |z| > 1.645].
constexpr float kGaussExcess = (kGaussQ99 - kGaussQ90) / kLn10;

}  // namespace evidence_detail

}  // namespace vigil
#endif  // VIGIL_EVIDENCE_HPP_

// ---- The per-point math, on lanes -----------------------------------------------------------------
// Included again, like forecast.hpp's lanes (and right after them), inside a namespace of the
// includer's with VIGIL_FORECAST_LANES_AGAIN defined: the CPU backend's AVX2 and AVX-512 copies.
// Branch-free: a point that changes nothing (a missing value, a point without a z) still computes
// its update, and a select keeps the old state, so every lane runs the same instructions.
#if !defined(VIGIL_EVIDENCE_LANES_) || defined(VIGIL_FORECAST_LANES_AGAIN)
#ifndef VIGIL_FORECAST_LANES_AGAIN
#define VIGIL_EVIDENCE_LANES_
namespace vigil {
namespace lanes {
#endif

template <class V>
VIGIL_HD_INLINE void tail_init_t(TailOf<V>& t, float q90) {
  t.q90 = splat<V>(q90);
  t.excess = splat<V>(q90 * (evidence_detail::kGaussExcess / evidence_detail::kGaussQ90));
  t.n = t.exceeded = splat<V>(0.0f);
}

// |v| mapped through the tail onto the normal's; `unit` is the smallest q90 the mapping accepts
// (a z never stretched more than max_gain; a drift in its own units).
template <class V>
VIGIL_HD_INLINE V calibrate_t(V v, const TailOf<V>& t, float unit) {
  using namespace evidence_detail;
  const V a = abs_of(v);
  const V q90 = max_f(t.q90, unit);
  const V tail = max_f(kLn10 * t.excess, unit * ((kGaussQ99 - kGaussQ90) / kGaussQ90));
  const V c = a <= q90 ? a * (kGaussQ90 / q90) : kGaussQ90 + (a - q90) * ((kGaussQ99 - kGaussQ90) / tail);
  return v < 0.0f ? -c : c;
}

// A cumulative average's rate 1 / count until it falls to the steady rate (no division after).
template <class V>
VIGIL_HD_INLINE V filling_rate_t(V count, float steady_rate) {
  return count * steady_rate < 1.0f ? 1.0f / count : splat<V>(steady_rate);
}

// One step toward |v| where `learn` holds. q90 moves by a factor, so that one step size serves a
// latency in milliseconds and a count in millions (a step in log space, without a log or an exp
// per point): up by 0.9 of a step when exceeded, down by 0.1 otherwise, settling where
// P(|v| > q90) = 10 %. The excess is a running mean over the exceedances, cumulative while they
// are few (a tenth of `prior` stands for the start value).
template <class V, class M>
VIGIL_HD_INLINE void track_t(TailOf<V>& t, V v, float steady_rate, float prior, M learn) {
  using namespace evidence_detail;
  const V a = abs_of(v);
  const V n = t.n + 1.0f;
  const V step = kTrackerStep * filling_rate_t(n + prior, steady_rate);
  const auto exceeds = a > t.q90;
  const V exceeded = t.exceeded + 1.0f;
  // Each excess counts at most 4x the current mean: an incident's run of large values widens
  // the tail by a bounded step per point, not at once.
  const V rate = filling_rate_t(exceeded + 0.1f * prior, 2.0f * steady_rate);
  const V excess = t.excess + rate * (min_f(a - t.q90, 4.0f * t.excess) - t.excess);
  const V moved = min_f(step, 1.0f);
  const V q90 = max_f(exceeds ? t.q90 * (1.0f + 0.9f * moved) : t.q90 * (1.0f - 0.1f * moved), 1e-9f);
  const auto learn_excess = learn & exceeds;
  t.n = learn ? n : t.n;
  t.exceeded = learn_excess ? exceeded : t.exceeded;
  t.excess = learn_excess ? excess : t.excess;
  t.q90 = learn ? q90 : t.q90;
}

template <class V>
VIGIL_HD_INLINE void evidence_init_t(const EvidenceParams& p, EvidenceStateOf<V>& s) {
  using namespace evidence_detail;
  s.age = s.local_n = s.local_mean = s.local_var = s.mean = s.mean_n = splat<V>(0.0f);
  tail_init_t(s.q, kGaussQ90 * p.prior_width);
  tail_init_t(s.aq, kGaussQ90 * p.prior_width);
  tail_init_t(s.bq, kGaussQ90 * p.drift_prior);
}

// The reference of the slow baseline: the median of the earlier forecasts that exist (NaN: none).
template <class V>
VIGIL_HD_INLINE V median_of_present_t(V a, V b, V c) {
  const auto ha = is_num(a), hb = is_num(b), hc = is_num(c);
  const V one = ha ? a : hb ? b : c;
  const V pair = (ha & hb) ? 0.5f * (a + b) : (ha & hc) ? 0.5f * (a + c) : (hb & hc) ? 0.5f * (b + c) : one;
  return (ha & hb & hc) ? max_f(min_f(a, b), min_f(max_f(a, b), c)) : pair;
}

// The slow baseline's evidence of forecast `f` against the earlier days' forecasts at the same
// time of day (`earlier`: 1, 2 and 7 days back, NaN where absent), then its trackers learn, where
// `scored` (the point has a z) holds.
template <class V, class M>
VIGIL_HD_INLINE V baseline_step_t(const EvidenceParams& p, EvidenceStateOf<V>& s, V f, const V earlier[3], M scored) {
  const V drift = f - median_of_present_t(earlier[0], earlier[1], earlier[2]);
  const auto present = scored & is_num(drift);
  const V out = calibrate_t(drift, s.bq, p.drift_unit);
  track_t(s.bq, drift, p.quantile_rate, p.prior_points, present);
  return present ? out : splat<V>(NAN);
}

// The local evidence of value `x` (raw units; NaN: missing, nothing changes), then its update.
template <class V, class M>
VIGIL_HD_INLINE V local_step_t(const EvidenceParams& p, EvidenceStateOf<V>& s, V x, M is_count) {
  const auto present = is_num(x);
  const V plain_sd = sqrt_of(s.local_var);
  const V sd = is_count ? max_f(plain_sd, sqrt_of(max_f(s.local_mean, 1.0f))) : plain_sd;
  const auto judged = (s.local_n >= p.local_warm) & (sd > 0.0f);
  const V out = (present & judged) ? (x - s.local_mean) / sd : splat<V>(NAN);
  const V rate = filling_rate_t(s.local_n + 1.0f, p.local_rate);
  const V d0 = x - s.local_mean;
  const V d = judged ? min_f(max_f(d0, -3.0f * sd), 3.0f * sd) : d0;
  const auto first = s.local_n == 0.0f;
  const V mean = first ? x : s.local_mean + rate * d;
  const V var = first ? s.local_var : (1.0f - rate) * (s.local_var + rate * d * d);
  s.local_mean = present ? mean : s.local_mean;
  s.local_var = present ? var : s.local_var;
  s.local_n = present ? s.local_n + 1.0f : s.local_n;
  return out;
}

// The factor a young z is divided by at `age` steps after the series' first valid value (1 once
// mature).
template <class V>
VIGIL_HD_INLINE V young_width_at_t(const EvidenceParams& p, V age) {
  const V ahead = p.young_until - age;  // steps of learning still ahead
  return ahead > 0.0f ? 1.0f + max_f(ahead * p.young_slope, 0.0f) : splat<V>(1.0f);
}

// The factor a young z is divided by (1 once mature), then the series' age moves on a step.
template <class V>
VIGIL_HD_INLINE V young_widening_t(const EvidenceParams& p, EvidenceStateOf<V>& s, V x) {
  const V widen = young_width_at_t(p, s.age);
  s.age = s.age == 0.0f ? (is_num(x) ? splat<V>(1.0f) : splat<V>(0.0f)) : s.age + 1.0f;
  return widen;
}

// One point: the calibrated z of `z` (NaN: a point without a score, which changes nothing) and
// the accumulated evidence, then the trackers learn from it.
template <class V, class M>
VIGIL_HD_INLINE EvidenceOutOf<V> evidence_step_t(const EvidenceParams& p, EvidenceStateOf<V>& s, V x, M is_count,
                                                 V z, V f, const V earlier[3]) {
  using namespace evidence_detail;
  const V none = splat<V>(NAN);
  const V local = p.with_local ? local_step_t(p, s, x, is_count) : none;
  const auto scored = is_num(z);
  const V baseline = p.with_baseline ? baseline_step_t(p, s, f, earlier, scored) : none;
  const float z_unit = kGaussQ90 / p.max_gain;
  V calibrated = none, accumulated = none;
  if (p.with_calibrated) {
    const V c = calibrate_t(z, s.q, z_unit);
    track_t(s.q, z, p.quantile_rate, p.prior_points, scored);
    calibrated = scored ? c : none;
  }
  if (p.with_accumulated) {
    const V cc = clampf(z, -p.clip, p.clip);
    // The mean fills as a cumulative average, then moves at its steady rate; its standard error
    // for independent unit points normalises it.
    const V mean_n = s.mean_n + 1.0f;
    const V rate = filling_rate_t(mean_n, p.accumulate_rate);
    const V mean = s.mean + rate * (cc - s.mean);
    const V se = rate == p.accumulate_rate ? splat<V>(p.accumulate_se) : sqrt_of(rate / (2.0f - rate));
    const V acc_raw = mean / se;
    const V acc = calibrate_t(acc_raw, s.aq, z_unit);
    track_t(s.aq, acc_raw, p.quantile_rate, p.prior_points, scored);
    s.mean = scored ? mean : s.mean;
    s.mean_n = scored ? mean_n : s.mean_n;
    accumulated = scored ? acc : none;
  }
  return EvidenceOutOf<V>{local, calibrated, accumulated, baseline};
}

#ifndef VIGIL_FORECAST_LANES_AGAIN
}  // namespace lanes
}  // namespace vigil
#endif
#endif  // lanes

// ---- Scalar entry points: one series (the CUDA kernel, the reference, tests) --------------------
#ifndef VIGIL_EVIDENCE_API_
#define VIGIL_EVIDENCE_API_
namespace vigil {

VIGIL_HD void evidence_init(const EvidenceParams& p, EvidenceState& s) { evidence_init_t(p, s); }

VIGIL_HD float median_of_present(float a, float b, float c) { return median_of_present_t(a, b, c); }

VIGIL_HD float local_step(const EvidenceParams& p, EvidenceState& s, float x, bool is_count) {
  return local_step_t(p, s, x, is_count);
}

// The earlier days' forecasts of series i at step t of a [T][N] forecast array with `per_day`
// steps a day (NaN before the array starts): the slow baseline's reference points.
VIGIL_HD void earlier_forecasts(const float* forecast, size_t t, size_t i, size_t N, size_t per_day, float out[3]) {
  const size_t lags[3] = {per_day, 2 * per_day, 7 * per_day};
  for (int k = 0; k < 3; ++k) out[k] = per_day > 0 && t >= lags[k] ? forecast[(t - lags[k]) * N + i] : NAN;
}

// The factor a young z is divided by at `age` steps after the series' first valid value (1 once
// mature): the same factor widens the band of the scores file (host/io/outputs.cpp).
VIGIL_HD float young_width_at(const EvidenceParams& p, float age) { return young_width_at_t(p, age); }

VIGIL_HD float young_widening(const EvidenceParams& p, EvidenceState& s, float x) {
  return young_widening_t(p, s, x);
}

VIGIL_HD EvidenceOut evidence_step(const EvidenceParams& p, EvidenceState& s, float x, bool is_count, float z,
                                   float f, const float earlier[3]) {
  return evidence_step_t(p, s, x, is_count, z, f, earlier);
}

}  // namespace vigil
#endif  // VIGIL_EVIDENCE_API_
