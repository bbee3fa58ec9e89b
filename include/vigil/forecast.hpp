#pragma once
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

#include "vigil/hd.hpp"

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
  int min_history_steps = 0;  // z is NaN before this much history (scored, never alarmed)
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

struct StateRef {
  float* base;
  size_t stride;
  VIGIL_HD float& operator[](int k) const { return base[static_cast<size_t>(k) * stride]; }
};

// Where grid point t falls in the day and the week: the same for every series.
struct Clock {
  int day_knot;    // left knot of the daily profile
  float day_w;     // weight of the right knot
  int week_knot;
  float week_w;
  int scale_slot;
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
  return c;
}

// How a series' values enter the model.
enum TransformCode : uint8_t {
  kIdentity = 0,  // values that can be negative: additive changes
  kLog1p = 1,     // non-negative values (ratios, durations, bytes): relative changes
  kCount = 2,     // non-negative integers: log1p, the scale never falls below the Poisson
                  // noise of the forecast count, and z is the count's Poisson tail (count_z)
};

// min/max as comparisons: g++ keeps fminf/fmaxf as libm calls (their NaN rules differ from the
// SSE instructions), which costs the CPU backend a multiple of its time. Like fminf/fmaxf these
// return `b` when `a` is NaN; `b` is never NaN at the call sites.
VIGIL_HD float min_f(float a, float b) { return a < b ? a : b; }
VIGIL_HD float max_f(float a, float b) { return a > b ? a : b; }

VIGIL_HD float transform_value(float x, uint8_t transform) {
  if (!isfinite(x)) return NAN;  // NaN and inf are missing points
  return transform != kIdentity ? log1pf(max_f(x, 0.0f)) : x;
}

VIGIL_HD float inverse_transform(float y, uint8_t transform) {
  return transform != kIdentity ? expm1f(y) : y;
}

// Counts: the z of the log residual misjudges deviations far from a small forecast count, both
// ways: log1p(0) lies 7.7 delta-method sds below log1p(9), but 0 where 9 were expected happens
// once in 8,000 Poisson draws (z -3.7); and 10 errors where 0.5 were expected (a 1e-10 event,
// z +6.3) is under 5 sds in log space. The Poisson tail probability as a normal deviate
// (Wilson-Hilferty's cube-root approximation of the Poisson-gamma tail, within about 0.3 of the
// exact value) judges them right. Large counts, though, vary multiplicatively (drift, audience),
// where the log residual is right. So the z of a count blends the two by the share of the
// series' variance that Poisson noise explains.
VIGIL_HD float poisson_z(float count, float lambda) {
  if (count >= lambda) {
    if (count <= 0.0f) return 0.0f;
    const float k = count;  // P(X >= k) = P(Gamma(k) <= lambda)
    return max_f(3.0f * sqrtf(k) * (1.0f - 1.0f / (9.0f * k) - cbrtf(lambda / k)), 0.0f);
  }
  const float k = count + 1.0f;  // P(X <= count) = P(Gamma(count + 1) >= lambda)
  return min_f(-3.0f * sqrtf(k) * (cbrtf(lambda / k) - 1.0f + 1.0f / (9.0f * k)), 0.0f);
}

// sd of log1p(Poisson(lambda)) by the delta method, with lambda held at >= count_floor: below
// that the counts are too discrete for a Gaussian z (a single error where 0.01 was expected is a
// 1 % event, not a 10-sigma one), so a night-time 0 -> 3 errors stays unremarkable.
VIGIL_HD float poisson_log_sd(float lambda, float count_floor) {
  const float lambda_c = max_f(lambda, count_floor);
  return sqrtf(lambda_c) / (1.0f + lambda_c);
}

// `z_log`: the log residual over `sigma`, the series' scale in log space (at least `poisson_sd`,
// poisson_log_sd of the forecast); `y`: the transformed count; `lambda`: the forecast count (>= 0).
// Within +-2 of the forecast the two z agree well enough for a detector whose threshold is 5, so
// the tail is only computed beyond (it costs a cube root and an exponential a point).
VIGIL_HD float count_z(float z_log, float y, float lambda, float sigma, float poisson_sd) {
  if (!(fabsf(z_log) > 2.0f)) return z_log;
  const float count = max_f(expm1f(y), 0.0f);
  const float poisson_share = min_f(poisson_sd / sigma, 1.0f);  // of the sd
  const float z_poisson = poisson_z(count, lambda) * poisson_share;  // over the overdispersion
  const float w = poisson_share * poisson_share;                     // of the variance
  return w * z_poisson + (1.0f - w) * z_log;
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

// Value of a piecewise-linear periodic profile between knots k and k+1; an unseen knot (NaN)
// defers to its neighbour.
VIGIL_HD float profile_at(StateRef s, int offset, int knots, int k, float w) {
  const float a = s[offset + k];
  const float b = s[offset + (k + 1 == knots ? 0 : k + 1)];
  if (isnan(a)) return b;
  if (isnan(b)) return a;
  return a + w * (b - a);
}

// Moves the two knots around the phase toward an observation. `rate` <= 1 per full visit; an
// unseen knot takes the target outright (first-cycle initialisation).
VIGIL_HD void profile_learn(StateRef s, int offset, int knots, int k, float w, float residual,
                            float target, float rate) {
  const int k1 = k + 1 == knots ? 0 : k + 1;
  float& a = s[offset + k];
  float& b = s[offset + k1];
  if (isnan(a)) a = target;
  else a += rate * (1.0f - w) * residual;
  if (w > 0.0f) {
    if (isnan(b)) b = target;
    else b += rate * w * residual;
  }
}

VIGIL_HD float clampf(float v, float lo, float hi) { return min_f(max_f(v, lo), hi); }

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
    const uint32_t segment = (t - e.first) * kEventSegments / (e.end - e.first);
    sum += e.effect[segment];
    active = true;
  }
  return sum;
}

struct PointScore {
  float forecast;      // transformed space, event effect included; NaN while warming up
  float z;             // z_forecast against that forecast; NaN: missing, or too little history
  float z_base;        // the same without the event effect (what a plain detector would see)
  float z_derivative;  // change of z over the last 2k points, in units of its noise
  float z_volatility;  // short-window spread of z (about 1 when the series behaves)
};

// The derivative and volatility of the z just computed (NaN for a missing point), updating their
// short-window state. Runs on every step of the series' life so the windows advance with time.
VIGIL_HD void short_window_scores(const ForecastParams& p, StateRef s, float age, PointScore& out) {
  const float z = out.z;
  const int k = p.derivative_points, ring = 2 * k;
  const int slot = static_cast<int>(age) % ring;  // ring position of this step
  s[state::kRing + slot] = z;
  // The ring holds the last 2k steps: the k ending at `slot` are recent, the others prior.
  float all = 0, recent = 0;
  int n_all = 0, n_recent = 0;
  // A fixed trip count (masked beyond the ring) keeps the CPU backend's loop over series
  // vectorisable.
  for (int j = 0; j < kMaxDerivativePoints * 2; ++j) {
    const float v = j < ring ? s[state::kRing + j] : NAN;
    const bool valid = !isnan(v);
    const int back = slot - j < 0 ? slot - j + ring : slot - j;  // steps ago
    all += valid ? v : 0.0f;
    n_all += valid;
    recent += (valid && back < k) ? v : 0.0f;
    n_recent += valid && back < k;
  }
  const int n_prior = n_all - n_recent;
  // A difference of two means of unit-variance values: divided by its standard deviation.
  out.z_derivative = (isnan(z) || n_recent == 0 || n_prior == 0)
                         ? NAN
                         : (recent / n_recent - (all - recent) / n_prior) /
                               sqrtf(1.0f / n_recent + 1.0f / n_prior);
  if (isnan(z)) {
    out.z_volatility = NAN;
    return;
  }
  // Clipped so one wild point raises the spread for a while without dominating it for hours.
  const float zc = min_f(max_f(z, -10.0f), 10.0f);
  float mean = s[state::kVolMean], var = s[state::kVolVar];
  if (isnan(var)) {
    mean = zc;
    var = 1.0f;  // start at the calibrated value
  } else {
    const float d = zc - mean;
    mean += p.volatility_rate * d;
    var = (1.0f - p.volatility_rate) * (var + p.volatility_rate * d * d);
  }
  s[state::kVolMean] = mean;
  s[state::kVolVar] = var;
  out.z_volatility = sqrtf(var);
}

// The forecast part of one step (forecast_step below adds the short-window scores).
VIGIL_HD PointScore step_forecast(const ForecastParams& p, StateRef s, const Clock& c, float x, uint8_t transform,
                                  float event_effect, bool frozen) {
  const int daily = profiles_offset(p);
  const int weekly = daily + p.daily_knots;
  const int slots = weekly + p.weekly_knots;
  const float y_observed = transform_value(x, transform);
  const float y = y_observed - event_effect;  // the state sees the event-adjusted value
  const float age = s[state::kAge];
  const float level = s[state::kLevel];

  if (age == 0.0f) {  // first valid point: it becomes the level; the series' time starts here
    if (!isnan(y)) {
      s[state::kLevel] = y;
      s[state::kAge] = 1.0f;
    }
    return {NAN, NAN, NAN, NAN, NAN};
  }
  s[state::kAge] = age + 1.0f;
  const bool warm = age >= static_cast<float>(p.warmup_steps);
  const bool learning = age < static_cast<float>(p.min_history_steps);

  const float daily_season = profile_at(s, daily, p.daily_knots, c.day_knot, c.day_w);
  const float f_daily = level + daily_season;
  float week_season = NAN;
  if (p.weekly_knots > 0) week_season = profile_at(s, weekly, p.weekly_knots, c.week_knot, c.week_w);
  const float f_weekly = f_daily + (isnan(week_season) ? 0.0f : week_season);
  const bool use_weekly = !isnan(week_season) && age >= static_cast<float>(8 * p.points_per_day) &&
                          s[state::kWeeklyError] < s[state::kDailyError];
  const float forecast = (!warm || isnan(f_daily)) ? NAN : (use_weekly ? f_weekly : f_daily);
  const float reported = forecast + event_effect;
  if (isnan(y)) return {reported, NAN, NAN, NAN, NAN};

  if (isnan(forecast)) {
    // First day (or a phase it never saw): build the daily profile around the first level.
    const float target = y - level;
    if (!frozen)
      profile_learn(s, daily, p.daily_knots, c.day_knot, c.day_w,
                    isnan(daily_season) ? 0.0f : target - daily_season, target, warm ? 0.0f : 0.5f);
    return {NAN, NAN, NAN, NAN, NAN};
  }

  // Scale: the slot's mean |e| shrunk toward the global one while the slot has few visits.
  const float residuals = s[state::kResiduals];
  const float global_scale = s[state::kGlobalScale];
  const float slot_scale = s[slots + c.scale_slot];
  const float slot_visits = min_f(residuals / p.scale_slots, 1e6f);
  float mean_abs = global_scale;
  if (!isnan(slot_scale))
    mean_abs = (slot_visits * slot_scale + p.scale_prior_visits * global_scale) /
               (slot_visits + p.scale_prior_visits);
  const float floor = transform != kIdentity ? p.scale_floor_log : p.scale_floor_rel * fabsf(forecast);
  float sigma = 1.2533f * max_f(mean_abs, max_f(floor, 1e-12f));
  const float lambda = transform == kCount ? max_f(expm1f(forecast), 0.0f) : 0.0f;  // forecast count
  const float poisson_sd = transform == kCount ? poisson_log_sd(lambda, p.count_floor) : 0.0f;
  sigma = max_f(sigma, poisson_sd);  // counts: never below their Poisson noise
  const float e = y - forecast;
  // Clamped so that a constant series that suddenly moves gives a large, finite z.
  float z_raw = isnan(global_scale) ? NAN : clampf(e / sigma, -1e6f, 1e6f);
  float z_base = isnan(global_scale) ? NAN : clampf((y_observed - forecast) / sigma, -1e6f, 1e6f);
  if (transform == kCount && !isnan(global_scale)) {
    z_raw = count_z(z_raw, y, lambda, sigma, poisson_sd);
    z_base = event_effect == 0.0f ? z_raw : count_z(z_base, y_observed, lambda, sigma, poisson_sd);
  }
  const bool outlier = !learning && fabsf(z_raw) > p.outlier_z;  // false while z_raw is NaN
  // The level ignores outliers from the third day on, in the learning phase too: an incident in
  // the first week must not drag it, or its slow recovery teaches the weekly profile a bump that
  // comes back as a false drop a week later. (The profiles and the model choice still learn
  // everything while learning: the first weekend is pattern, not anomaly.)
  const bool level_outlier =
      outlier || (age >= static_cast<float>(2 * p.points_per_day) && fabsf(z_raw) > p.outlier_z);
  // An event's effect is known only roughly (a final draws a bigger audience than a league
  // match): its uncertainty, a share of the effect, adds to the noise of the reported z, so a
  // final 20 % bigger than the last one is not a malfunction while an outage during it still is.
  const float effect_sd = p.event_uncertainty * event_effect;
  const float z_reported = z_raw * sigma / sqrtf(sigma * sigma + effect_sd * effect_sd);
  const PointScore scored{reported, learning ? NAN : z_reported, learning ? NAN : z_base, NAN, NAN};
  if (frozen) return scored;

  // Scale update: Huber-clipped |e|; outliers count at a quarter of the rate so a noisier
  // regime is learned eventually without an incident inflating the scale quickly.
  const float abs_e = isnan(z_raw) ? fabsf(e) : min_f(fabsf(e), p.outlier_z * sigma);
  const float outlier_weight = outlier ? 0.25f : 1.0f;
  const float g_rate = max_f(p.scale_global_rate, 1.0f / (residuals + 1.0f)) * outlier_weight;
  s[state::kGlobalScale] = isnan(global_scale) ? abs_e : global_scale + g_rate * (abs_e - global_scale);
  const float s_rate = max_f(p.scale_slot_rate, 1.0f / (slot_visits + 1.0f)) * outlier_weight;
  s[slots + c.scale_slot] = isnan(slot_scale) ? abs_e : slot_scale + s_rate * (abs_e - slot_scale);
  s[state::kResiduals] = residuals + 1.0f;

  // Model choice: recent mean |e| of the daily and the weekly forecast, outliers left out.
  if (!outlier && !isnan(week_season)) {
    s[state::kDailyError] += p.model_error_rate * (fabsf(y - f_daily) - s[state::kDailyError]);
    s[state::kWeeklyError] += p.model_error_rate * (fabsf(y - f_weekly) - s[state::kWeeklyError]);
  }

  if (level_outlier) {
    // The level does not learn the anomaly; only a run that persists past the horizon moves it.
    const float sign = e > 0 ? 1.0f : -1.0f;
    float run = s[state::kRunLength];
    float run_sum = s[state::kRunSum];
    if (run * sign > 0) {
      run += sign;
      run_sum += e;
    } else {
      run = sign;
      run_sum = e;
    }
    if (fabsf(run) >= static_cast<float>(p.shift_horizon)) {
      s[state::kLevel] = level + run_sum / fabsf(run);
      run = 0;
      run_sum = 0;
    }
    s[state::kRunLength] = run;
    s[state::kRunSum] = run_sum;
  } else {
    s[state::kRunLength] = 0;
    s[state::kRunSum] = 0;
  }
  // The components learn from the full (weekly) model's residual, clipped, each at its own rate;
  // early days learn as a cumulative average, then at the steady rate. An outlier leaves the
  // level alone but still nudges the profiles by a clipped amount, so a profile knot that learnt
  // something wrong (a one-off event in the first week) is corrected over the following weeks.
  const float limit = isnan(z_raw) ? INFINITY : (learning ? p.outlier_z : p.clip_z) * sigma;
  const float e_full = clampf(y - f_weekly, -limit, limit);
  if (!level_outlier) s[state::kLevel] = level + p.level_rate * e_full;
  const float days = age / p.points_per_day;
  const float d_rate = max_f(p.daily_rate, 1.0f / (1.0f + days));
  profile_learn(s, daily, p.daily_knots, c.day_knot, c.day_w, e_full, y - level, d_rate);
  if (p.weekly_knots > 0) {
    // A weekly knot starts as the daily forecast's residual at its first visit, bounded so that
    // an event seen once does not become a weekly phantom.
    const float bound = isnan(z_raw) ? INFINITY : p.outlier_z * sigma;
    const float w_rate = max_f(p.weekly_rate, 1.0f / (1.0f + days / 7.0f));
    profile_learn(s, weekly, p.weekly_knots, c.week_knot, c.week_w, e_full, clampf(y - f_daily, -bound, bound),
                  w_rate);
  }
  return scored;
}

// One step of one series: scores the point against the state, then updates the state.
// `event_effect`: the expected effect of the scheduled events active on the series at this step
// (transformed space, 0 when none): the forecast includes it and the state learns from the
// event-adjusted value, so the event is neither an anomaly nor learned as normal. `frozen`: the
// point is scored but teaches the state nothing (the events mechanism's first pass).
VIGIL_HD PointScore forecast_step(const ForecastParams& p, StateRef s, const Clock& c, float x,
                                  uint8_t transform, float event_effect = 0.0f, bool frozen = false) {
  PointScore out = step_forecast(p, s, c, x, transform, event_effect, frozen);
  const float age = s[state::kAge];  // after the step: 0 until the series' first valid point
  if (age != 0.0f) short_window_scores(p, s, age, out);
  return out;
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

}  // namespace vigil
