#ifndef VIGIL_FORECAST_HPP_
#define VIGIL_FORECAST_HPP_
// The forecast stage of DESIGN.md (pipeline steps 1-3), written once as VIGIL_HD functions that
// the CPU backend (OpenMP over series) and the CUDA backend (one thread per series) both run.
//
// Model, in transformed space y = log1p(x) for count-like series, y = x otherwise (a double
// seasonal Holt-Winters, additive in y):
//   daily forecast   f_d = L + D(phase of day)     D: piecewise-linear profile, daily_knots knots
//   weekly forecast  f_w = f_d + W(phase of week)  W: the weekday-specific correction, 7x knots
// Each series uses, at each step, the forecast whose recent mean absolute error is lower (the
// weekly one only after eight days of its own history): "auto" seasonality, chosen per series.
// The residual e = y - f is scaled by a heteroscedastic robust scale: an exponentially weighted
// mean absolute residual per time-of-day slot, shrunk toward the series' global one, with a
// floor. z_forecast = e / (1.2533 * scale) (1.2533 = sigma / mean|e| for a normal residual).
//
// Learning phase: until `min_history_steps` the model learns from every point (nothing is
// scored yet, and a weekend seen for the first time is pattern, not anomaly). After it, updates
// are robust: a residual beyond `outlier_z` does not move the level or the profiles (a long
// incident is not learned as the new normal) and other residuals are clipped at `clip_z`. A run
// of same-sign outliers lasting `shift_horizon` steps is accepted as a new level, so a series
// never alarms forever. Everything is causal: the output at t uses points at or before t.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "vigil/math/hd.hpp"

// The per-point functions are written once over a lane type (one series, or a vector of series
// on the CPU: see "The per-point math, on lanes" below), branch-free and without libm calls.
// VIGIL_HD_INLINE forces the inlining that the CPU's vector code needs under g++ (the step is too
// large for its default heuristics).
#if defined(__CUDACC__)
#define VIGIL_HD_INLINE VIGIL_HD
#elif defined(__GNUC__)
#define VIGIL_HD_INLINE inline __attribute__((always_inline))
#else
#define VIGIL_HD_INLINE inline
#endif

namespace vigil {

#if !defined(__CUDACC__)
using std::isfinite;  // device code has the CUDA math library's overloads
using std::isnan;
#endif

// Plain values, passed by value to kernels. Rates are per update, derived from time constants
// in days by make_forecast_params() so that behaviour does not depend on the sampling step.
struct ForecastParams {
  int64_t start = 0;  // unix seconds of grid point 0
  int64_t step = 0;   // seconds between grid points
  int points_per_day = 0;
  int daily_knots = 0;
  int weekly_knots = 0;  // 0: weekly model off (history too short to learn it)
  int scale_slots = 0;   // time-of-day slots of the heteroscedastic scale
  float level_rate = 0;
  float daily_rate = 0;     // per knot visit
  float weekly_rate = 0;    // per knot visit
  float scale_slot_rate = 0;
  float scale_global_rate = 0;
  float model_error_rate = 0;
  float scale_prior_visits = 0;  // weight of the global scale in a slot's scale, in visits
  float clip_z = 0;
  float outlier_z = 0;
  int shift_horizon = 0;      // steps
  int warmup_steps = 0;       // first day: the daily profile is built, nothing is forecast
  int min_history_steps = 0;  // robust updating starts here; before it the model learns from every point
  int report_from_steps = 0;  // z is NaN before this much history
  float young_slope = 0;      // widening of a young model's band per step of learning still ahead (applied
                              // by the evidence stage, after the peers have seen the model's own z)
  float scale_floor_log = 0;  // floor of the scale for log1p series (relative change)
  float scale_floor_rel = 0;  // floor for identity series, relative to |forecast|
  int derivative_points = 1;  // k: the derivative compares the mean z of the last k points with
                              // the k before them
  float volatility_rate = 0;  // EW rate of the short-window spread of z
  float count_floor = 3;      // smallest expected count the Poisson floor of the scale assumes
  float event_uncertainty = 0.3f;  // sd of an event's effect, as a share of its expected effect
};

// User-facing knobs of the forecast stage (config file "forecast" section).
struct ForecastSettings {
  int daily_knots = 96;             // at most one per step; 96 = a knot every 15 minutes
  bool weekly = true;               // consider the weekly model (needs >= 2 weeks of data)
  double level_days = 0.25;         // time constant of the level
  double daily_days = 4.0;          // of the daily profile
  double weekly_weeks = 3.0;        // of the weekly profile
  int scale_slots = 24;
  double scale_days = 7.0;          // of the slot scales and the global scale
  double model_error_days = 3.0;    // of the errors that choose daily vs weekly
  double scale_prior_visits = 4.0;
  double clip_z = 2.5;
  double outlier_z = 4.0;
  double shift_horizon_hours = 24.0;
  double min_history_days = 0;      // 0 = auto: 8 with the weekly model, else 2
  double score_from_days = 1.25;    // z is reported from here (>= the first day's warm-up)
  double young_width = 3.0;         // a young model's band at score_from_days, relative to a mature one
  double scale_floor_log = 0.01;
  double scale_floor_rel = 0.001;
  double derivative_minutes = 15;  // each half of the derivative's window (at most 4 points)
  double volatility_hours = 1;     // time constant of the short-window spread
  double event_uncertainty = 0.3;  // sd of an event's effect around its expectation, relative
};

ForecastParams make_forecast_params(const ForecastSettings& settings, int64_t start, int64_t step,
                                    size_t T);

// Per-series state: `state_floats(p)` floats, stored with a stride (N in a [S][N] block) so that
// the same element of consecutive series is contiguous: coalesced on the GPU, vectorisable on
// the CPU.
namespace state {
enum : int {
  kLevel = 0,
  kAge,           // steps since the first valid point (0: none yet)
  kGlobalScale,   // EW mean |e|
  kResiduals,     // number of residuals seen (caps the cumulative-average phase)
  kDailyError,    // EW mean |e| of the daily model
  kWeeklyError,   // EW mean |e| of the weekly model
  kRunLength,     // signed length of the current run of same-sign outliers
  kRunSum,        // sum of their residuals
  kVolMean,       // EW mean of clipped z over the short window
  kVolVar,        // EW variance of clipped z over the short window
  kRing,          // then 2k recent z (the derivative's window), then the profiles
};
}  // namespace state

VIGIL_HD int profiles_offset(const ForecastParams& p) { return state::kRing + 2 * p.derivative_points; }

VIGIL_HD int state_floats(const ForecastParams& p) {
  return profiles_offset(p) + p.daily_knots + p.weekly_knots + p.scale_slots;
}

// One series' state (the CUDA thread's, the reference's). The step functions below read and write
// the state through get/set, so the CPU backend can hand them a state of several series at once.
struct StateRef {
  float* base;
  size_t stride;
  VIGIL_HD float& operator[](int k) const { return base[static_cast<size_t>(k) * stride]; }
  VIGIL_HD float get(int k) const { return (*this)[k]; }
  VIGIL_HD void set(int k, float v) const { (*this)[k] = v; }
};

// Where grid point t falls in the day and the week: the same for every series.
struct Clock {
  int day_knot;    // left knot of the daily profile
  float day_w;     // weight of the right knot
  int week_knot;
  float week_w;
  int scale_slot;
  int ring_slot;   // position of this step in the derivative's ring of 2k recent z
};

VIGIL_HD int64_t positive_mod(int64_t a, int64_t m) {
  const int64_t r = a % m;
  return r < 0 ? r + m : r;
}

VIGIL_HD Clock clock_at(const ForecastParams& p, int64_t t) {
  const int64_t time = p.start + t * p.step;
  const int64_t day_sec = positive_mod(time, 86400);
  // 1970-01-01 was a Thursday: shift by four days so the week starts on Monday 00:00 UTC.
  const int64_t week_sec = positive_mod(time - 4 * 86400, 7 * 86400);
  Clock c;
  const double ud = static_cast<double>(day_sec) * p.daily_knots / 86400.0;
  c.day_knot = static_cast<int>(ud);
  c.day_w = static_cast<float>(ud - c.day_knot);
  if (p.weekly_knots > 0) {
    const double uw = static_cast<double>(week_sec) * p.weekly_knots / (7 * 86400.0);
    c.week_knot = static_cast<int>(uw);
    c.week_w = static_cast<float>(uw - c.week_knot);
  } else {
    c.week_knot = 0;
    c.week_w = 0;
  }
  c.scale_slot = static_cast<int>(day_sec * p.scale_slots / 86400);
  c.ring_slot = static_cast<int>(positive_mod(t, 2 * (p.derivative_points > 0 ? p.derivative_points : 1)));
  return c;
}

// How a series' values enter the model.
enum TransformCode : uint8_t {
  kIdentity = 0,  // values that can be negative: additive changes
  kLog1p = 1,     // non-negative values (ratios, durations, bytes): relative changes
  kCount = 2,     // non-negative integers: log1p, the scale never falls below the Poisson
                  // noise of the forecast count, and z is the count's Poisson tail (count_z)
};

constexpr int kMaxDerivativePoints = 4;

// Scheduled events, as the forecast sees them: per series, the occurrences that apply to it
// (compressed rows, sorted by start), each covering grid steps [first, end) in kEventSegments
// equal parts with an expected effect each (transformed space), so an effect can change over the
// event's course: the onset differs from the body, a launch surge decays.
constexpr int kEventSegments = 4;
struct EventEffect {
  uint32_t first, end;
  float effect[kEventSegments];
};

// The segment of occurrence e that step t (first <= t < end) falls in, and its inverse: the first
// step of segment s (s < kEventSegments). Everything that splits an occurrence into segments
// (the forecast, the CPU backend's event bookkeeping, the event plan's estimates) uses these.
VIGIL_HD uint32_t event_segment(const EventEffect& e, uint32_t t) {
  return (t - e.first) * kEventSegments / (e.end - e.first);
}
VIGIL_HD uint32_t event_segment_start(const EventEffect& e, uint32_t s) {
  return e.first + (s * (e.end - e.first) + kEventSegments - 1) / kEventSegments;
}

// Sum of the effects active at step t (overlapping events combine additively); `active` tells
// whether any occurrence covers t. NaN when an active occurrence's effect is unknown (no history
// and no announced impact).
VIGIL_HD float event_effect_at(const EventEffect* list, uint32_t count, uint32_t t, bool& active) {
  float sum = 0.0f;
  active = false;
  for (uint32_t k = 0; k < count; ++k) {
    const EventEffect& e = list[k];
    if (t < e.first) break;  // sorted by start
    if (t >= e.end) continue;
    sum += e.effect[event_segment(e, t)];
    active = true;
  }
  return sum;
}

VIGIL_HD void init_state(const ForecastParams& p, StateRef s) {
  s[state::kLevel] = NAN;
  s[state::kAge] = 0;
  s[state::kGlobalScale] = NAN;
  s[state::kResiduals] = 0;
  s[state::kDailyError] = 0;
  s[state::kWeeklyError] = 0;
  s[state::kRunLength] = 0;
  s[state::kRunSum] = 0;
  s[state::kVolMean] = 0;
  s[state::kVolVar] = NAN;  // NaN until the first scored point
  // NaN = not seen yet (ring entries: no z yet; profile knots: no observation yet)
  const int n = 2 * p.derivative_points + p.daily_knots + p.weekly_knots + p.scale_slots;
  for (int k = 0; k < n; ++k) s[state::kRing + k] = NAN;
}

}  // namespace vigil
#endif  // VIGIL_FORECAST_HPP_

// ---- The per-point math, on lanes -----------------------------------------------------------------
// Everything from here to the scalar entry points is templates and overloads on lane types, in
// namespace vigil::lanes (used by vigil). A translation unit may include this header a second
// time, inside a namespace of its own and with VIGIL_FORECAST_LANES_AGAIN defined, under
// `#pragma GCC target`: the same math then compiles for that instruction set (g++ fixes the types
// of vector comparisons where a template is defined, so instantiating these templates from a
// function with another target is not enough). The CPU backend does so for AVX2 and AVX-512.
// (Being in a namespace of their own keeps argument-dependent lookup, through ForecastParams and
// Clock, from finding the first copy from the second.)
#if !defined(VIGIL_FORECAST_LANES_) || defined(VIGIL_FORECAST_LANES_AGAIN)
#ifndef VIGIL_FORECAST_LANES_AGAIN
#define VIGIL_FORECAST_LANES_
namespace vigil {
namespace lanes {
#endif

// ---- Lanes --------------------------------------------------------------------------------------
// The per-point math below is written once for a lane type V: `float`, one series (the CUDA
// thread, the reference), or on the CPU a GCC vector of W floats, W series at once (one per lane:
// simd::Vec<W>::F). Both read the same: arithmetic and comparisons are operators; a comparison
// gives a mask (a bool, or an int vector of -1/0) that & and | combine (not && and ||: g++
// lowers those poorly on vectors), not_of negates and ?: takes; and `m ? a : b` selects lane by
// lane, both sides computed for a vector. Hence the step is branch-free: every state element is
// stored back, changed or not, and the few real branches (`if (any(m))`) only skip work whose
// result no lane keeps. What differs between lane types (square root, bit patterns, conversions)
// is the overloads that follow.
template <class V>
struct Lane;  // the integer lane types that go with V
template <>
struct Lane<float> {
  using I = int32_t;
  using U = uint32_t;
};

VIGIL_HD_INLINE uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#elif defined(__GNUC__) && !defined(__CUDACC__)
  return __builtin_bit_cast(uint32_t, f);
#else
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
#endif
}

VIGIL_HD_INLINE float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#elif defined(__GNUC__) && !defined(__CUDACC__)
  return __builtin_bit_cast(float, u);
#else
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
#endif
}

VIGIL_HD_INLINE float to_float(int32_t i) { return static_cast<float>(i); }
VIGIL_HD_INLINE int32_t to_int(float f) { return static_cast<int32_t>(f); }  // truncates
VIGIL_HD_INLINE int32_t as_int(uint32_t u) { return static_cast<int32_t>(u); }
VIGIL_HD_INLINE uint32_t as_uint(int32_t i) { return static_cast<uint32_t>(i); }
VIGIL_HD_INLINE float sqrt_of(float x) { return sqrtf(x); }
VIGIL_HD_INLINE float abs_of(float x) { return fabsf(x); }
VIGIL_HD_INLINE bool any(bool m) { return m; }
VIGIL_HD_INLINE bool not_of(bool m) { return !m; }  // (an int from bool & bool converts)

#if !defined(__CUDACC__) && defined(__GNUC__)
namespace simd {
template <int W>
struct Vec {
  typedef float F __attribute__((vector_size(4 * W)));
  typedef int32_t I __attribute__((vector_size(4 * W)));
  typedef uint32_t U __attribute__((vector_size(4 * W)));
  typedef uint64_t Q __attribute__((vector_size(4 * W)));
};
}  // namespace simd
#define VIGIL_SIMD_LANES(W)                                                                              \
  template <>                                                                                            \
  struct Lane<simd::Vec<W>::F> {                                                                         \
    using I = simd::Vec<W>::I;                                                                           \
    using U = simd::Vec<W>::U;                                                                           \
  };                                                                                                     \
  VIGIL_HD_INLINE simd::Vec<W>::U float_bits(simd::Vec<W>::F v) { return (simd::Vec<W>::U)v; }           \
  VIGIL_HD_INLINE simd::Vec<W>::F bits_float(simd::Vec<W>::U v) { return (simd::Vec<W>::F)v; }           \
  VIGIL_HD_INLINE simd::Vec<W>::F to_float(simd::Vec<W>::I v) {                                          \
    return __builtin_convertvector(v, simd::Vec<W>::F);                                                  \
  }                                                                                                      \
  VIGIL_HD_INLINE simd::Vec<W>::I to_int(simd::Vec<W>::F v) { return __builtin_convertvector(v, simd::Vec<W>::I); } \
  VIGIL_HD_INLINE simd::Vec<W>::I as_int(simd::Vec<W>::U v) { return (simd::Vec<W>::I)v; }               \
  VIGIL_HD_INLINE simd::Vec<W>::U as_uint(simd::Vec<W>::I v) { return (simd::Vec<W>::U)v; }              \
  VIGIL_HD_INLINE simd::Vec<W>::F sqrt_of(simd::Vec<W>::F v) {                                           \
    simd::Vec<W>::F r;                                                                                   \
    for (int i = 0; i < W; ++i) r[i] = __builtin_sqrtf(v[i]);                                            \
    return r;                                                                                            \
  }                                                                                                      \
  VIGIL_HD_INLINE simd::Vec<W>::F abs_of(simd::Vec<W>::F v) {                                            \
    return (simd::Vec<W>::F)((simd::Vec<W>::U)v & 0x7fffffffu);                                          \
  }                                                                                                      \
  VIGIL_HD_INLINE simd::Vec<W>::I not_of(simd::Vec<W>::I m) { return ~m; }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // wide vectors are only used inlined, inside AVX code
VIGIL_SIMD_LANES(4)
VIGIL_SIMD_LANES(8)
VIGIL_SIMD_LANES(16)
#undef VIGIL_SIMD_LANES

// Whether any lane of a mask is set (masks are -1/0 in every lane).
#if defined(__SSE__)
VIGIL_HD_INLINE bool any(simd::Vec<4>::I m) { return __builtin_ia32_movmskps((simd::Vec<4>::F)m) != 0; }
VIGIL_HD_INLINE bool any(simd::Vec<8>::I m) {
  const simd::Vec<4>::I lo = {m[0], m[1], m[2], m[3]}, hi = {m[4], m[5], m[6], m[7]};
  return any(lo | hi);
}
#else
VIGIL_HD_INLINE bool any(simd::Vec<4>::I m) {
  const simd::Vec<4>::Q q = (simd::Vec<4>::Q)m;
  return (q[0] | q[1]) != 0;
}
VIGIL_HD_INLINE bool any(simd::Vec<8>::I m) {
  const simd::Vec<8>::Q q = (simd::Vec<8>::Q)m;
  return (q[0] | q[1] | q[2] | q[3]) != 0;
}
#endif
// g++ only: clang has no __builtin_ia32_ptestmd512 (and ignores `#pragma GCC target`, so its
// copy is the portable one below).
#if defined(VIGIL_FORECAST_LANES_AVX512) && !defined(__clang__)  // the includer compiles this copy for AVX-512
VIGIL_HD_INLINE bool any(simd::Vec<16>::I m) { return __builtin_ia32_ptestmd512(m, m, 0xffff) != 0; }
#else
VIGIL_HD_INLINE bool any(simd::Vec<16>::I m) {
  const simd::Vec<16>::Q q = (simd::Vec<16>::Q)m;
  return (q[0] | q[1] | q[2] | q[3] | q[4] | q[5] | q[6] | q[7]) != 0;
}
#endif
#pragma GCC diagnostic pop
#endif

// A lane of value x (x - 0 is x for every x, -0 and NaN included).
template <class V>
VIGIL_HD_INLINE V splat(float x) {
  return x - V{};
}
template <class V>
VIGIL_HD_INLINE auto is_nan(V x) {
  return x != x;
}
template <class V>
VIGIL_HD_INLINE auto is_num(V x) {  // not NaN
  return x == x;
}
template <class V>
VIGIL_HD_INLINE auto is_finite(V x) {
  return abs_of(x) <= 3.4028234664e38f;  // false for NaN and inf
}

// min/max as comparisons: g++ keeps fminf/fmaxf as libm calls (their NaN rules differ from the
// SSE instructions), which costs the CPU backend a multiple of its time. Like fminf/fmaxf these
// return `b` when `a` is NaN; `b` is never NaN at the call sites.
template <class A, class B>
VIGIL_HD_INLINE auto min_f(A a, B b) {
  return a < b ? a : b;
}
template <class A, class B>
VIGIL_HD_INLINE auto max_f(A a, B b) {
  return a > b ? a : b;
}
template <class V>
VIGIL_HD_INLINE V clampf(V v, float lo, float hi) {
  return min_f(max_f(v, lo), hi);
}

// ---- Float math without libm ---------------------------------------------------------------------
// glibc's log1pf/expm1f/cbrtf are calls that keep the CPU backend scalar; both backends use these
// instead, so they agree with each other as before. Measured over every float against double
// precision: fast_log1p < 0.84 ulp (x >= 0), fast_expm1 < 1.5 ulp, fast_cbrt < 0.95 ulp (x >= 0).

// 1/u for u >= 1 to a relative 2e-4: a guess from the exponent bits and two Newton steps.
template <class V>
VIGIL_HD_INLINE V approx_recip(V u) {
  V r = bits_float(0x7ef311c3u - float_bits(u));
  r = r * (2.0f - u * r);
  return r * (2.0f - u * r);
}

// log1p(x) for x >= 0, without a division: 1 + x = 2^k (1 + f) with 1 + f in [sqrt(2)/2,
// sqrt(2)) (musl's reduction, c the rounding error of 1 + x relative to it: tiny, so a rough 1/u
// does), then Cephes' logf polynomial in f.
template <class V>
VIGIL_HD_INLINE V fast_log1p(V x) {
  using U = typename Lane<V>::U;
  using I = typename Lane<V>::I;
  const float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
  const V u = 1.0f + x;
  const U iu = float_bits(u) + (0x3f800000u - 0x3f3504f3u);
  const I k = as_int(iu >> 23) - 0x7f;
  const V c_big = k < 25 ? (k >= 2 ? 1.0f - (u - x) : x - (u - 1.0f)) * approx_recip(u) : splat<V>(0.0f);
  const V f_big = bits_float((iu & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
  const auto small = x < 0.41421353816986083984375f;  // 1 + x < sqrt(2): k = 0, f = x
  const V f = small ? x : f_big;
  const V c = small ? splat<V>(0.0f) : c_big;
  const V dk = small ? splat<V>(0.0f) : to_float(k);
  const V z = f * f;
  const V y = ((((((((7.0376836292E-2f * f - 1.1514610310E-1f) * f + 1.1676998740E-1f) * f - 1.2420140846E-1f) * f +
                   1.4249322787E-1f) * f - 1.6668057665E-1f) * f + 2.0000714765E-1f) * f - 2.4999993993E-1f) * f +
               3.3333331174E-1f) * f * z;
  return ((y + (dk * ln2_lo + c)) - 0.5f * z + f) + dk * ln2_hi;
}

// expm1(x) for any x (NaN stays NaN): x = k ln2 + r, |r| <= ln2 / 2, expm1(x) = 2^k expm1(r) +
// 2^k - 1, with 2^k - 1 exact and expm1(r) a degree-8 Taylor polynomial.
template <class V>
VIGIL_HD_INLINE V fast_expm1(V x) {
  const float ln2_hi = 6.9313812256e-01f, ln2_lo = 9.0580006145e-06f, inv_ln2 = 1.4426950216e+00f;
  const V xc = min_f(max_f(x, -80.0f), 89.0f);  // beyond: -1 and inf
  const float shifter = 12582912.0f;            // 1.5 * 2^23: adding it rounds to an integer
  const V kf = (xc * inv_ln2 + shifter) - shifter;
  const V r = (xc - kf * ln2_hi) - kf * ln2_lo;
  const V p =
      r + r * r *
              (0.5f + r * (1.6666667163e-01f +
                           r * (4.1666667908e-02f +
                                r * (8.3333337680e-03f +
                                     r * (1.3888889225e-03f + r * (1.9841270114e-04f + r * 2.4801587642e-05f))))));
  const V half_scale = bits_float(as_uint(to_int(kf) + 126) << 23);  // 2^(k-1)
  const V v = 2.0f * (half_scale * p + (half_scale - 0.5f));
  return is_nan(x) ? x : v;
}

// cbrt(x) for x >= 0, without a division: x^(-1/3) from an exponent-third guess and two Newton
// steps, then one Newton step on x * x^(-2/3).
template <class V>
VIGIL_HD_INLINE V fast_cbrt(V x) {
  const auto tiny = x < 1.9721522630525295e-31f;  // 2^-102: scaled by 2^120
  const auto huge = x > 1.2676506002282294e30f;   // 2^100: scaled by 2^-120
  const V xs = tiny ? x * 1.329227995784916e+36f : (huge ? x * 7.52316384526264e-37f : x);
  V y = bits_float(0x54a2fa8cu - as_uint(to_int(to_float(as_int(float_bits(xs))) * (1.0f / 3.0f))));
  const V third = xs * (1.0f / 3.0f);
  for (int i = 0; i < 2; ++i) y = y * (1.33333337f - third * (y * y * y));
  V r = xs * y * y;
  r = r - (r * r * r - xs) * (y * y * (1.0f / 3.0f));
  r = tiny ? r * 9.094947017729282e-13f : (huge ? r * 1099511627776.0f : r);  // 2^-40, 2^40
  return ((x > 0.0f) & (x <= 3.4028234664e38f)) ? r : x;  // 0, inf, NaN: themselves
}

// ---- Transforms, counts --------------------------------------------------------------------------

// `code`: the TransformCode as a float lane.
template <class V>
VIGIL_HD_INLINE V transform_lane(V x, V code) {
  const auto logs = code != 0.0f;
  const V y = any(logs) ? (logs ? fast_log1p(max_f(x, 0.0f)) : x) : x;
  return is_finite(x) ? y : splat<V>(NAN);  // NaN and inf are missing points
}

// Counts: the z of the log residual misjudges deviations far from a small forecast count, both
// ways: log1p(0) lies 7.7 delta-method sds below log1p(9), but 0 where 9 were expected happens
// once in 8,000 Poisson draws (z -3.7); and 10 errors where 0.5 were expected (a 1e-10 event,
// z +6.3) is under 5 sds in log space. The Poisson tail probability as a normal deviate
// (Wilson-Hilferty's cube-root approximation of the Poisson-gamma tail, within about 0.3 of the
// exact value) judges them right. Large counts, though, vary multiplicatively (drift, audience),
// where the log residual is right. So the z of a count blends the two by the share of the
// series' variance that Poisson noise explains.
template <class V>
VIGIL_HD_INLINE V poisson_z(V count, V lambda) {
  // count >= lambda: P(X >= k) = P(Gamma(k) <= lambda), k = count;
  // else: P(X <= count) = P(Gamma(count + 1) >= lambda)
  const auto upper = count >= lambda;
  const V k = upper ? count : count + 1.0f;
  const V inv_k = 1.0f / k;
  const V root = fast_cbrt(lambda * inv_k);
  const V ninth = inv_k * (1.0f / 9.0f);  // 1 / (9k)
  const V scale = 3.0f * sqrt_of(k);
  const V z_upper = count <= 0.0f ? splat<V>(0.0f) : max_f(scale * (1.0f - ninth - root), 0.0f);
  const V z_lower = min_f(-scale * (root - 1.0f + ninth), 0.0f);
  return upper ? z_upper : z_lower;
}

// sd of log1p(Poisson(lambda)) by the delta method, with lambda held at >= count_floor: below
// that the counts are too discrete for a Gaussian z (a single error where 0.01 was expected is a
// 1 % event, not a 10-sigma one), so a night-time 0 -> 3 errors stays unremarkable.
template <class V>
VIGIL_HD_INLINE V poisson_log_sd(V lambda, float count_floor) {
  const V lambda_c = max_f(lambda, count_floor);
  return sqrt_of(lambda_c) / (1.0f + lambda_c);
}

// The blended z of a count (`count` >= 0), used beyond |z_log| 2 (count_z).
template <class V>
VIGIL_HD_INLINE V count_tail_z(V z_log, V count, V lambda, V sigma, V poisson_sd) {
  const V poisson_share = min_f(poisson_sd / sigma, 1.0f);  // of the sd
  const V z_poisson = poisson_z(count, lambda) * poisson_share;  // over the overdispersion
  const V w = poisson_share * poisson_share;                     // of the variance
  return w * z_poisson + (1.0f - w) * z_log;
}

// `z_log`: the log residual over `sigma`, the series' scale in log space (at least `poisson_sd`,
// poisson_log_sd of the forecast); `count`: the observed count (>= 0); `lambda`: the forecast
// count (>= 0). Within +-2 of the forecast the two z agree well enough for a detector whose
// threshold is 5, so the tail is only computed beyond (a cube root, a square root, a division).
template <class V>
VIGIL_HD_INLINE V count_z_of(V z_log, V count, V lambda, V sigma, V poisson_sd) {
  const auto tail = abs_of(z_log) > 2.0f;
  return any(tail) ? (tail ? count_tail_z(z_log, count, lambda, sigma, poisson_sd) : z_log) : z_log;
}

// The same with the count given transformed (`y` = log1p(count)).
template <class V>
VIGIL_HD_INLINE V count_z(V z_log, V y, V lambda, V sigma, V poisson_sd) {
  return count_z_of(z_log, max_f(fast_expm1(y), 0.0f), lambda, sigma, poisson_sd);
}

// ---- Profiles ------------------------------------------------------------------------------------

// Value of a piecewise-linear periodic profile between knots k and k+1; an unseen knot (NaN)
// defers to its neighbour.
template <class S>
VIGIL_HD_INLINE auto profile_at(const S& s, int offset, int knots, int k, float w) {
  const auto a = s.get(offset + k);
  const auto b = s.get(offset + (k + 1 == knots ? 0 : k + 1));
  return is_nan(a) ? b : (is_nan(b) ? a : a + w * (b - a));
}

// Where `apply`, moves the two knots around the phase toward an observation. `rate` <= 1 per full
// visit; an unseen knot takes the target outright (first-cycle initialisation).
template <class S, class V, class M>
VIGIL_HD_INLINE void profile_learn(const S& s, int offset, int knots, int k, float w, V residual, V target, V rate,
                                   M apply) {
  const int k1 = k + 1 == knots ? 0 : k + 1;
  const V a = s.get(offset + k);
  s.set(offset + k, apply ? (is_nan(a) ? target : a + rate * (1.0f - w) * residual) : a);
  const V b = s.get(offset + k1);  // read after a's store: with one knot, a and b are the same
  if (w > 0.0f) s.set(offset + k1, apply ? (is_nan(b) ? target : b + rate * w * residual) : b);
}

// The rate of an exponentially weighted mean that starts as a cumulative average: max(rate,
// 1 / (1 + n)) after n updates. The division only while some lane is still in its cumulative
// phase (beyond twice its end, 1 / (1 + n) < rate surely).
template <class V>
VIGIL_HD_INLINE V cumulative_rate(float rate, V n) {
  const auto averaging = n < 2.0f / rate;
  return any(averaging) ? max_f(rate, 1.0f / (1.0f + n)) : splat<V>(rate);
}

template <class V>
struct PointScoreOf {
  V forecast;      // transformed space, event effect included; NaN while warming up
  V z;             // z_forecast against that forecast; NaN: missing, or too little history
  V z_base;        // the same without the event effect (what a plain detector would see)
  V z_derivative;  // change of z over the last 2k points, in units of its noise
  V z_volatility;  // short-window spread of z (about 1 when the series behaves)
  V scale;         // what z divides the residual by, event uncertainty included (transformed space):
                   // the band of `--scores` is forecast +- threshold x scale (band_at, host/io/outputs.cpp)
};

// ---- The step ------------------------------------------------------------------------------------

// The derivative and volatility of the z just computed (NaN for a missing point), updating their
// short-window state. Runs on every step of the series' life (`live`: from its first valid point
// on) so the windows advance with time. A step's place in the ring is the clock's, the same for
// every series: the ring holds the last 2k steps, in whatever rotation.
template <class S, class V, class M>
VIGIL_HD_INLINE void short_window_scores(const ForecastParams& p, const S& s, const Clock& c, M live,
                                         PointScoreOf<V>& out) {
  const V z = out.z;
  const int k = p.derivative_points, ring = 2 * k;
  const int slot = c.ring_slot;
  s.set(state::kRing + slot, live ? z : s.get(state::kRing + slot));
  // The k steps ending at `slot` are recent, the others prior.
  V all = splat<V>(0.0f), recent = splat<V>(0.0f), n_all = splat<V>(0.0f), n_recent = splat<V>(0.0f);
  for (int j = 0; j < ring; ++j) {
    const V v = s.get(state::kRing + j);
    const auto valid = is_num(v);
    const int back = slot - j < 0 ? slot - j + ring : slot - j;  // steps ago
    all += valid ? v : 0.0f;
    n_all += valid ? splat<V>(1.0f) : 0.0f;
    if (back < k) {
      recent += valid ? v : 0.0f;
      n_recent += valid ? splat<V>(1.0f) : 0.0f;
    }
  }
  const V n_prior = n_all - n_recent;
  const auto has_z = is_num(z);  // (z is NaN before the series' first valid point)
  // A difference of two means of unit-variance values: divided by its standard deviation.
  // (recent / nr - prior / np) / sqrt(1 / nr + 1 / np), as one division (the counts' products are
  // exact).
  out.z_derivative = (has_z & (n_recent != 0.0f) & (n_prior != 0.0f))
                         ? (recent * n_prior - (all - recent) * n_recent) /
                               sqrt_of(n_recent * n_prior * (n_recent + n_prior))
                         : splat<V>(NAN);
  // Clipped so one wild point raises the spread for a while without dominating it for hours.
  const V zc = min_f(max_f(z, -10.0f), 10.0f);
  const V mean0 = s.get(state::kVolMean), var0 = s.get(state::kVolVar);
  const V d = zc - mean0;
  // The first scored point starts the spread at its calibrated value, 1.
  const V mean = is_nan(var0) ? zc : mean0 + p.volatility_rate * d;
  const V var = is_nan(var0) ? splat<V>(1.0f) : (1.0f - p.volatility_rate) * (var0 + p.volatility_rate * d * d);
  s.set(state::kVolMean, has_z ? mean : mean0);
  s.set(state::kVolVar, has_z ? var : var0);
  out.z_volatility = has_z ? sqrt_of(var) : splat<V>(NAN);
}

// The forecast part of one step (forecast_step_t below adds the short-window scores), for one
// lane of series. `code`: the TransformCode as a float. kWeekly: p.weekly_knots > 0. !kEvents: no
// event effect and nothing frozen (the CPU backend's blocks without events): z_base is the z.
template <bool kWeekly, bool kEvents, class S, class V, class M>
VIGIL_HD_INLINE PointScoreOf<V> step_forecast_t(const ForecastParams& p, const S& s, const Clock& c, V x, V code,
                                                V event_effect, M frozen) {
  if (!kEvents) {
    event_effect = V{};
    frozen = M{};
  }
  const int daily = profiles_offset(p);
  const int weekly = daily + p.daily_knots;
  const int slots = weekly + p.weekly_knots;
  const auto is_count = code == static_cast<float>(kCount);
  const V y_observed = transform_lane(x, code);
  const V y = y_observed - event_effect;  // the state sees the event-adjusted value
  const V age = s.get(state::kAge);
  const V level = s.get(state::kLevel);
  // Before the series' first valid point (age 0), a valid point becomes the level and starts the
  // series' time; nothing else happens.
  const auto first = age == 0.0f;
  const auto valid = is_num(y);
  const auto warm = age >= static_cast<float>(p.warmup_steps);
  const auto learning = age < static_cast<float>(p.min_history_steps);

  const V daily_season = profile_at(s, daily, p.daily_knots, c.day_knot, c.day_w);
  const V f_daily = level + daily_season;
  const V week_season =
      kWeekly ? profile_at(s, weekly, p.weekly_knots, c.week_knot, c.week_w) : splat<V>(NAN);
  const V f_weekly = f_daily + (is_nan(week_season) ? splat<V>(0.0f) : week_season);
  const auto use_weekly = is_num(week_season) & (age >= static_cast<float>(8 * p.points_per_day)) &
                          (s.get(state::kWeeklyError) < s.get(state::kDailyError));
  const V forecast = (warm & is_num(f_daily)) ? (use_weekly ? f_weekly : f_daily) : splat<V>(NAN);
  const V reported = forecast + event_effect;
  // A valid point is scored against the forecast; without one (the first day, or a phase never
  // seen) it builds the daily profile around the first level.
  const auto present = not_of(first) & valid;
  const auto scored = present & is_num(forecast);
  auto learns = present;  // from a scored point (update) or one that builds the profile
  if (kEvents) learns = learns & not_of(frozen);
  const auto update = learns & is_num(forecast);

  // Scale: the slot's mean |e| shrunk toward the global one while the slot has few visits.
  const V residuals = s.get(state::kResiduals);
  const V global_scale = s.get(state::kGlobalScale);
  const V slot_scale = s.get(slots + c.scale_slot);
  const V slot_visits = min_f(residuals / static_cast<float>(p.scale_slots), 1e6f);
  const V mean_abs = is_nan(slot_scale) ? global_scale
                                        : (slot_visits * slot_scale + p.scale_prior_visits * global_scale) /
                                              (slot_visits + p.scale_prior_visits);
  const V floor = code != 0.0f ? splat<V>(p.scale_floor_log) : p.scale_floor_rel * abs_of(forecast);
  V sigma = 1.2533f * max_f(mean_abs, max_f(floor, 1e-12f));
  V lambda = splat<V>(0.0f), poisson_sd = splat<V>(0.0f);  // counts: the forecast count, its sd
  if (any(is_count)) {
    lambda = is_count ? max_f(fast_expm1(forecast), 0.0f) : splat<V>(0.0f);
    poisson_sd = is_count ? poisson_log_sd(lambda, p.count_floor) : splat<V>(0.0f);
    sigma = max_f(sigma, poisson_sd);  // never below their Poisson noise
  }
  const V e = y - forecast;
  // Clamped so that a constant series that suddenly moves gives a large, finite z.
  const auto has_scale = is_num(global_scale);
  const V z_log = has_scale ? clampf(e / sigma, -1e6f, 1e6f) : splat<V>(NAN);
  const auto count_scored = is_count & has_scale;
  V z_raw = z_log, z_base = z_log;
  if (kEvents) z_base = has_scale ? clampf((y_observed - forecast) / sigma, -1e6f, 1e6f) : splat<V>(NAN);
  if (any(count_scored)) {
    // The observed count is x itself; with an event's effect, the state sees the adjusted one.
    const V count = max_f(x, 0.0f);
    const auto adjusted = count_scored & (event_effect != 0.0f);
    const bool any_adjusted = kEvents && any(adjusted);
    const V count_seen = any_adjusted ? (adjusted ? max_f(fast_expm1(y), 0.0f) : count) : count;
    z_raw = count_scored ? count_z_of(z_log, count_seen, lambda, sigma, poisson_sd) : z_log;
    if (!kEvents) z_base = z_raw;
    else if (any_adjusted)
      z_base = count_scored ? (adjusted ? count_z_of(z_base, count, lambda, sigma, poisson_sd) : z_raw) : z_base;
    else z_base = count_scored ? z_raw : z_base;
  }
  const auto outlier = not_of(learning) & (abs_of(z_raw) > p.outlier_z);  // false while z_raw is NaN
  // The level ignores outliers from the third day on, in the learning phase too: an incident in
  // the first week must not drag it, or its slow recovery teaches the weekly profile a bump that
  // comes back as a false drop a week later. (The profiles and the model choice still learn
  // everything while learning: the first weekend is pattern, not anomaly.)
  const auto level_outlier =
      outlier | ((age >= static_cast<float>(2 * p.points_per_day)) & (abs_of(z_raw) > p.outlier_z));
  // An event's effect is known only roughly (a final draws a bigger audience than a league
  // match): its uncertainty, a share of the effect, adds to the noise of the reported z, so a
  // final 20 % bigger than the last one is not a malfunction while an outage during it still is.
  // The scale z divides the residual by, event uncertainty included, is the band's (the log
  // residual's: past |z| 2 a count's z blends in its Poisson tail, which the band approximates).
  V z_reported = z_raw, scale_reported = sigma;
  if (kEvents) {
    const V effect_sd = p.event_uncertainty * event_effect;
    const auto widened = effect_sd != 0.0f;
    if (any(widened)) {
      scale_reported = widened ? sqrt_of(sigma * sigma + effect_sd * effect_sd) : sigma;
      z_reported = widened ? z_raw * sigma / scale_reported : z_raw;
    }
  }
  const auto reports_z = scored & (age >= static_cast<float>(p.report_from_steps));
  const PointScoreOf<V> out{first ? splat<V>(NAN) : reported, reports_z ? z_reported : splat<V>(NAN),
                            reports_z ? z_base : splat<V>(NAN), splat<V>(NAN), splat<V>(NAN),
                            reports_z ? scale_reported : splat<V>(NAN)};

  // Every state element below is stored back, changed only where `update` (or `first`, or
  // `learns`) says so.
  s.set(state::kAge, first ? (valid ? splat<V>(1.0f) : splat<V>(0.0f)) : age + 1.0f);

  // Scale update: Huber-clipped |e|; outliers count at a quarter of the rate so a noisier
  // regime is learned eventually without an incident inflating the scale quickly.
  const V abs_e = is_nan(z_raw) ? abs_of(e) : min_f(abs_of(e), p.outlier_z * sigma);
  const V outlier_weight = outlier ? splat<V>(0.25f) : splat<V>(1.0f);
  const V g_rate = cumulative_rate(p.scale_global_rate, residuals) * outlier_weight;
  const V new_global = is_nan(global_scale) ? abs_e : global_scale + g_rate * (abs_e - global_scale);
  s.set(state::kGlobalScale, update ? new_global : global_scale);
  const V s_rate = cumulative_rate(p.scale_slot_rate, slot_visits) * outlier_weight;
  const V new_slot = is_nan(slot_scale) ? abs_e : slot_scale + s_rate * (abs_e - slot_scale);
  s.set(slots + c.scale_slot, update ? new_slot : slot_scale);
  s.set(state::kResiduals, update ? residuals + 1.0f : residuals);

  // Model choice: recent mean |e| of the daily and the weekly forecast, outliers left out.
  if (kWeekly) {
    const auto track = update & not_of(outlier) & is_num(week_season);
    const V daily_error = s.get(state::kDailyError), weekly_error = s.get(state::kWeeklyError);
    s.set(state::kDailyError,
          track ? daily_error + p.model_error_rate * (abs_of(y - f_daily) - daily_error) : daily_error);
    s.set(state::kWeeklyError,
          track ? weekly_error + p.model_error_rate * (abs_of(y - f_weekly) - weekly_error) : weekly_error);
  }

  // The level does not learn an anomaly; only a run of same-sign outliers that persists past
  // the horizon moves it.
  const V sign = e > 0.0f ? splat<V>(1.0f) : splat<V>(-1.0f);
  const V run0 = s.get(state::kRunLength), run_sum0 = s.get(state::kRunSum);
  const auto extends = run0 * sign > 0.0f;
  const V run = extends ? run0 + sign : sign;
  const V run_sum = extends ? run_sum0 + e : e;
  const auto shifts = abs_of(run) >= static_cast<float>(p.shift_horizon);
  const auto keep_run = level_outlier & not_of(shifts);
  s.set(state::kRunLength, update ? (keep_run ? run : splat<V>(0.0f)) : run0);
  s.set(state::kRunSum, update ? (keep_run ? run_sum : splat<V>(0.0f)) : run_sum0);
  // The components learn from the full (weekly) model's residual, clipped, each at its own rate;
  // early days learn as a cumulative average, then at the steady rate. An outlier leaves the
  // level alone but still nudges the profiles by a clipped amount, so a profile knot that learnt
  // something wrong (a one-off event in the first week) is corrected over the following weeks.
  const V limit = is_nan(z_raw) ? splat<V>(INFINITY) : (learning ? splat<V>(p.outlier_z) : splat<V>(p.clip_z)) * sigma;
  const V e_full = min_f(max_f(y - f_weekly, -limit), limit);
  const auto shifted = level_outlier & shifts;
  const V new_level = level_outlier ? (any(shifted) ? (shifts ? level + run_sum / abs_of(run) : level) : level)
                                    : level + p.level_rate * e_full;
  s.set(state::kLevel, first ? (valid ? y : level) : (update ? new_level : level));
  const V days = age / static_cast<float>(p.points_per_day);
  const V d_rate = cumulative_rate(p.daily_rate, days);
  // Scored: the clipped residual at the learning rate. Building (no forecast yet): toward the
  // target at a cumulative-average rate on the first day; after it, only unseen knots are set.
  const V target = y - level;
  const V d_residual = update ? e_full : (is_nan(daily_season) ? splat<V>(0.0f) : target - daily_season);
  const V d_rate_used = update ? d_rate : (warm ? splat<V>(0.0f) : splat<V>(0.5f));
  profile_learn(s, daily, p.daily_knots, c.day_knot, c.day_w, d_residual, target, d_rate_used, learns);
  if (kWeekly) {
    // A weekly knot starts as the daily forecast's residual at its first visit, bounded so that
    // an event seen once does not become a weekly phantom.
    const V bound = is_nan(z_raw) ? splat<V>(INFINITY) : p.outlier_z * sigma;
    const V w_rate = cumulative_rate(p.weekly_rate, days / 7.0f);
    profile_learn(s, weekly, p.weekly_knots, c.week_knot, c.week_w, e_full,
                  min_f(max_f(y - f_daily, -bound), bound), w_rate, update);
  }
  return out;
}

// One step of one lane of series: scores the point against the state, then updates the state.
template <bool kWeekly, bool kEvents, class S, class V, class M>
VIGIL_HD_INLINE PointScoreOf<V> forecast_step_t(const ForecastParams& p, const S& s, const Clock& c, V x, V code,
                                                V event_effect, M frozen) {
  PointScoreOf<V> out = step_forecast_t<kWeekly, kEvents>(p, s, c, x, code, event_effect, frozen);
  const auto live = s.get(state::kAge) != 0.0f;  // after the step: false until the first valid point
  short_window_scores(p, s, c, live, out);
  return out;
}

#ifndef VIGIL_FORECAST_LANES_AGAIN
}  // namespace lanes
using namespace lanes;
}  // namespace vigil
#endif
#endif  // lanes

// ---- Scalar entry points: one series (the CUDA kernel, the reference, host code) ---------------
#ifndef VIGIL_FORECAST_API_
#define VIGIL_FORECAST_API_
namespace vigil {

using PointScore = PointScoreOf<float>;

VIGIL_HD float transform_value(float x, uint8_t transform) {
  return transform_lane(x, static_cast<float>(transform));
}

VIGIL_HD float inverse_transform(float y, uint8_t transform) {
  return transform != kIdentity ? expm1f(y) : y;
}

VIGIL_HD PointScore step_forecast(const ForecastParams& p, StateRef s, const Clock& c, float x, uint8_t transform,
                                  float event_effect, bool frozen) {
  const float code = static_cast<float>(transform);
  return p.weekly_knots > 0 ? step_forecast_t<true, true>(p, s, c, x, code, event_effect, frozen)
                            : step_forecast_t<false, true>(p, s, c, x, code, event_effect, frozen);
}

// One step of one series: scores the point against the state, then updates the state.
// `event_effect`: the expected effect of the scheduled events active on the series at this step
// (transformed space, 0 when none): the forecast includes it and the state learns from the
// event-adjusted value, so the event is neither an anomaly nor learned as normal. `frozen`: the
// point is scored but teaches the state nothing (the events mechanism's first pass).
VIGIL_HD PointScore forecast_step(const ForecastParams& p, StateRef s, const Clock& c, float x,
                                  uint8_t transform, float event_effect = 0.0f, bool frozen = false) {
  const float code = static_cast<float>(transform);
  return p.weekly_knots > 0 ? forecast_step_t<true, true>(p, s, c, x, code, event_effect, frozen)
                            : forecast_step_t<false, true>(p, s, c, x, code, event_effect, frozen);
}

// What the series' scheduled events mean for step t: the effect to add and whether the point
// must be frozen. An event point whose effect is unknown, and every event point of the first
// pass (`freeze`), is scored without an effect and teaches the state nothing: an event is never
// learned as normal.
struct EventAtStep {
  float effect;
  bool frozen;
};

VIGIL_HD EventAtStep resolve_events(const EventEffect* events, uint32_t event_count, uint32_t t, bool freeze) {
  bool active = false;
  const float effect = event_count ? event_effect_at(events, event_count, t, active) : 0.0f;
  const bool plain = freeze || isnan(effect);
  return {plain ? 0.0f : effect, active && plain};
}

// forecast_step with the series' scheduled events looked up at step t (the CUDA kernel's step).
VIGIL_HD PointScore forecast_point(const ForecastParams& p, StateRef s, const Clock& c, float x, uint8_t transform,
                                   const EventEffect* events, uint32_t event_count, uint32_t t, bool freeze) {
  const EventAtStep ev = resolve_events(events, event_count, t, freeze);
  return forecast_step(p, s, c, x, transform, ev.effect, ev.frozen);
}

// One series' state with its scalar fields (level, scales, runs, volatility: the indices below
// state::kRing) held in the object, the ring and the profiles through a StateRef: the CUDA
// thread's state, so that those fields stay in registers across the time loop instead of going
// through global memory at every step. Every scalar field is named by a constant index, so once
// forecast_step_t is inlined each access folds to one register; the switch keeps an index known
// only at run time (the ring's and the profiles', never below kRing) off a local-memory array.
// The arithmetic is forecast_step's own: the outputs equal StateRef's bit for bit.
struct RegisterState {
  mutable float scalar[state::kRing];
  StateRef arrays;
  VIGIL_HD explicit RegisterState(StateRef s) : arrays(s) {
    for (int k = 0; k < state::kRing; ++k) scalar[k] = s.get(k);
  }
  VIGIL_HD float get(int k) const {
    switch (k) {
#define VIGIL_SCALAR_CASE(n) \
  case n: return scalar[n];
      VIGIL_SCALAR_CASE(0) VIGIL_SCALAR_CASE(1) VIGIL_SCALAR_CASE(2) VIGIL_SCALAR_CASE(3) VIGIL_SCALAR_CASE(4)
      VIGIL_SCALAR_CASE(5) VIGIL_SCALAR_CASE(6) VIGIL_SCALAR_CASE(7) VIGIL_SCALAR_CASE(8) VIGIL_SCALAR_CASE(9)
#undef VIGIL_SCALAR_CASE
      default: return arrays.get(k);
    }
  }
  VIGIL_HD void set(int k, float v) const {
    switch (k) {
#define VIGIL_SCALAR_CASE(n) \
  case n: scalar[n] = v; return;
      VIGIL_SCALAR_CASE(0) VIGIL_SCALAR_CASE(1) VIGIL_SCALAR_CASE(2) VIGIL_SCALAR_CASE(3) VIGIL_SCALAR_CASE(4)
      VIGIL_SCALAR_CASE(5) VIGIL_SCALAR_CASE(6) VIGIL_SCALAR_CASE(7) VIGIL_SCALAR_CASE(8) VIGIL_SCALAR_CASE(9)
#undef VIGIL_SCALAR_CASE
      default: arrays.set(k, v);
    }
  }
  // Writes the scalar fields back into the StateRef's storage.
  VIGIL_HD void store() const {
    for (int k = 0; k < state::kRing; ++k) arrays.set(k, scalar[k]);
  }
};
static_assert(state::kRing == 10, "RegisterState's switch names every scalar field");

VIGIL_HD PointScore forecast_point(const ForecastParams& p, const RegisterState& s, const Clock& c, float x,
                                   uint8_t transform, const EventEffect* events, uint32_t event_count, uint32_t t,
                                   bool freeze) {
  const EventAtStep ev = resolve_events(events, event_count, t, freeze);
  const float code = static_cast<float>(transform);
  return p.weekly_knots > 0 ? forecast_step_t<true, true>(p, s, c, x, code, ev.effect, ev.frozen)
                            : forecast_step_t<false, true>(p, s, c, x, code, ev.effect, ev.frozen);
}

}  // namespace vigil
#endif  // VIGIL_FORECAST_API_
