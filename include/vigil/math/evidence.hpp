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

#include "vigil/math/forecast.hpp"  // min_f, max_f, clampf: the math's one min/max
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
};

// A series' own tail of |v|: q90 and the mean excess over q90 (see "Calibration").
struct TailTracker {
  float q90 = 0;
  float excess = 0;     // mean of |v| - q90 over the points past q90
  float n = 0;          // points seen
  float exceeded = 0;   // points past q90
};

// Per-series state: plain floats so it can live in registers or a strided array.
struct EvidenceState {
  float age = 0;               // steps since the series' first valid value, as the forecast counts it
  float local_n = 0;           // valid values seen
  float local_mean = 0, local_var = 0;
  TailTracker q;               // |z|
  TailTracker aq;              // |accumulated| (raw)
  float mean = 0;              // EW mean of the clipped z
  float mean_n = 0;            // points in it (its normalisation while it fills)
  TailTracker bq;              // |drift| of the slow baseline
};

struct EvidenceOut {
  float local;        // NaN where the value is missing or the local history is too short
  float calibrated;   // NaN where z is NaN
  float accumulated;  // NaN until the mean has a point
  float baseline;     // NaN without an earlier day's forecast
};

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

VIGIL_HD void tail_init(TailTracker& t, float q90) {
  t.q90 = q90;
  t.excess = q90 * (kGaussExcess / kGaussQ90);
  t.n = t.exceeded = 0;
}

// |v| mapped through the tail onto the normal's; `unit` is the smallest q90 the mapping accepts
// (a z never stretched more than max_gain; a drift in its own units).
VIGIL_HD float calibrate(float v, const TailTracker& t, float unit) {
  const float a = fabsf(v);
  const float q90 = max_f(t.q90, unit);
  const float tail = max_f(kLn10 * t.excess, unit * ((kGaussQ99 - kGaussQ90) / kGaussQ90));
  const float c = a <= q90 ? a * (kGaussQ90 / q90) : kGaussQ90 + (a - q90) * ((kGaussQ99 - kGaussQ90) / tail);
  return v < 0 ? -c : c;
}

// One step toward |v|. q90 moves by a factor, so that one step size serves a latency in
// milliseconds and a count in millions (a step in log space, without a log or an exp per point):
// up by 0.9 of a step when exceeded, down by 0.1 otherwise, settling where P(|v| > q90) = 10 %.
// The excess is a running mean over the exceedances, cumulative while they are few (a tenth of
// `prior` stands for the start value).
// A cumulative average's rate 1 / count until it falls to the steady rate (no division after).
VIGIL_HD float filling_rate(float count, float steady_rate) {
  return count * steady_rate < 1.0f ? 1.0f / count : steady_rate;
}

VIGIL_HD void track(TailTracker& t, float v, float steady_rate, float prior) {
  const float a = fabsf(v);
  t.n += 1.0f;
  const float step = kTrackerStep * filling_rate(t.n + prior, steady_rate);
  if (a > t.q90) {
    t.exceeded += 1.0f;
    // Each excess counts at most 4x the current mean: an incident's run of large values widens
    // the tail by a bounded step per point, not at once.
    const float rate = filling_rate(t.exceeded + 0.1f * prior, 2.0f * steady_rate);
    t.excess += rate * (min_f(a - t.q90, 4.0f * t.excess) - t.excess);
    t.q90 *= 1.0f + 0.9f * min_f(step, 1.0f);
  } else {
    t.q90 *= 1.0f - 0.1f * min_f(step, 1.0f);
  }
  t.q90 = max_f(t.q90, 1e-9f);
}

}  // namespace evidence_detail

VIGIL_HD void evidence_init(const EvidenceParams& p, EvidenceState& s) {
  s.age = 0;
  evidence_detail::tail_init(s.q, evidence_detail::kGaussQ90 * p.prior_width);
  evidence_detail::tail_init(s.aq, evidence_detail::kGaussQ90 * p.prior_width);
  s.mean = 0;
  s.mean_n = 0;
  s.local_n = s.local_mean = s.local_var = 0;
  evidence_detail::tail_init(s.bq, evidence_detail::kGaussQ90 * p.drift_prior);
}

// The reference of the slow baseline: the median of the earlier forecasts that exist (NaN: none).
VIGIL_HD float median_of_present(float a, float b, float c) {
  const bool ha = a == a, hb = b == b, hc = c == c;
  if (ha && hb && hc) return max_f(min_f(a, b), min_f(max_f(a, b), c));
  if (ha && hb) return 0.5f * (a + b);
  if (ha && hc) return 0.5f * (a + c);
  if (hb && hc) return 0.5f * (b + c);
  return ha ? a : hb ? b : c;
}

// The slow baseline's evidence of forecast `f` against the earlier days' forecasts at the same
// time of day (`earlier`: 1, 2 and 7 days back, NaN where absent), then its trackers learn.
VIGIL_HD float baseline_step(const EvidenceParams& p, EvidenceState& s, float f, const float earlier[3]) {
  const float reference = median_of_present(earlier[0], earlier[1], earlier[2]);
  const float drift = f - reference;
  if (drift != drift) return NAN;
  const float out = evidence_detail::calibrate(drift, s.bq, p.drift_unit);
  evidence_detail::track(s.bq, drift, p.quantile_rate, p.prior_points);
  return out;
}

// The local evidence of value `x` (raw units; NaN: missing, nothing changes), then its update.
VIGIL_HD float local_step(const EvidenceParams& p, EvidenceState& s, float x, bool is_count) {
  if (x != x) return NAN;
  float sd = sqrtf(s.local_var);
  if (is_count) sd = max_f(sd, sqrtf(max_f(s.local_mean, 1.0f)));
  const bool warm = s.local_n >= p.local_warm;
  const float out = warm && sd > 0 ? (x - s.local_mean) / sd : NAN;
  if (s.local_n == 0) {
    s.local_mean = x;
  } else {
    const float rate = evidence_detail::filling_rate(s.local_n + 1.0f, p.local_rate);
    float d = x - s.local_mean;
    if (warm && sd > 0) d = min_f(max_f(d, -3.0f * sd), 3.0f * sd);
    s.local_mean += rate * d;
    s.local_var = (1.0f - rate) * (s.local_var + rate * d * d);
  }
  s.local_n += 1.0f;
  return out;
}

// The earlier days' forecasts of series i at step t of a [T][N] forecast array with `per_day`
// steps a day (NaN before the array starts): the slow baseline's reference points.
VIGIL_HD void earlier_forecasts(const float* forecast, size_t t, size_t i, size_t N, size_t per_day, float out[3]) {
  const size_t lags[3] = {per_day, 2 * per_day, 7 * per_day};
  for (int k = 0; k < 3; ++k) out[k] = per_day > 0 && t >= lags[k] ? forecast[(t - lags[k]) * N + i] : NAN;
}

// The factor a young z is divided by at `age` steps after the series' first valid value (1 once
// mature): the same factor widens the band of the scores file (host/io/outputs.cpp).
VIGIL_HD float young_width_at(const EvidenceParams& p, float age) {
  const float ahead = p.young_until - age;  // steps of learning still ahead
  return ahead > 0 ? 1.0f + max_f(ahead * p.young_slope, 0.0f) : 1.0f;
}

// The factor a young z is divided by (1 once mature), then the series' age moves on a step.
VIGIL_HD float young_widening(const EvidenceParams& p, EvidenceState& s, float x) {
  const float widen = young_width_at(p, s.age);
  s.age = s.age == 0.0f ? (x == x ? 1.0f : 0.0f) : s.age + 1.0f;
  return widen;
}

// One point: the calibrated z of `z` (NaN: a point without a score, which changes nothing) and
// the accumulated evidence, then the trackers learn from it.
VIGIL_HD EvidenceOut evidence_step(const EvidenceParams& p, EvidenceState& s, float x, bool is_count, float z,
                                   float f, const float earlier[3]) {
  using namespace evidence_detail;
  const float local = local_step(p, s, x, is_count);
  if (z != z) return EvidenceOut{local, NAN, NAN, NAN};  // NaN: no forecast score at this point
  const float baseline = baseline_step(p, s, f, earlier);
  const float z_unit = kGaussQ90 / p.max_gain;
  const float c = calibrate(z, s.q, z_unit);
  const float cc = clampf(z, -p.clip, p.clip);
  // The mean fills as a cumulative average, then moves at its steady rate; its standard error
  // for independent unit points normalises it.
  s.mean_n += 1.0f;
  const float rate = filling_rate(s.mean_n, p.accumulate_rate);
  s.mean += rate * (cc - s.mean);
  const float se = rate == p.accumulate_rate ? p.accumulate_se : sqrtf(rate / (2.0f - rate));
  const float acc_raw = s.mean / se;
  const float acc = calibrate(acc_raw, s.aq, z_unit);
  track(s.q, z, p.quantile_rate, p.prior_points);
  track(s.aq, acc_raw, p.quantile_rate, p.prior_points);
  return EvidenceOut{local, c, acc, baseline};
}

}  // namespace vigil

#endif  // VIGIL_EVIDENCE_HPP_
