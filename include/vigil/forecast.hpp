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
  kProfiles       // then daily_knots, weekly_knots, scale_slots floats
};
}  // namespace state

VIGIL_HD int state_floats(const ForecastParams& p) {
  return state::kProfiles + p.daily_knots + p.weekly_knots + p.scale_slots;
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
  kCount = 2,     // non-negative integers: log1p, and the scale never falls below the Poisson
                  // noise of the forecast count, so a night-time 0 -> 3 is not an anomaly
};

VIGIL_HD float transform_value(float x, uint8_t transform) {
  if (!isfinite(x)) return NAN;  // NaN and inf are missing points
  return transform != kIdentity ? log1pf(fmaxf(x, 0.0f)) : x;
}

VIGIL_HD float inverse_transform(float y, uint8_t transform) {
  return transform != kIdentity ? expm1f(y) : y;
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
  const int n = p.daily_knots + p.weekly_knots + p.scale_slots;
  for (int k = 0; k < n; ++k) s[state::kProfiles + k] = NAN;  // NaN = not seen yet
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

VIGIL_HD float clampf(float v, float lo, float hi) { return fminf(fmaxf(v, lo), hi); }

struct PointScore {
  float forecast;  // transformed space; NaN while the model is warming up
  float z;         // NaN: missing point, or not enough history to score
};

// One step of one series: scores the point against the state, then updates the state.
VIGIL_HD PointScore forecast_step(const ForecastParams& p, StateRef s, const Clock& c, float x,
                                  uint8_t transform) {
  const int daily = state::kProfiles;
  const int weekly = daily + p.daily_knots;
  const int slots = weekly + p.weekly_knots;
  const float y = transform_value(x, transform);
  const float age = s[state::kAge];
  const float level = s[state::kLevel];

  if (age == 0.0f) {  // first valid point: it becomes the level; the series' time starts here
    if (!isnan(y)) {
      s[state::kLevel] = y;
      s[state::kAge] = 1.0f;
    }
    return {NAN, NAN};
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
  if (isnan(y)) return {forecast, NAN};

  if (isnan(forecast)) {
    // First day (or a phase it never saw): build the daily profile around the first level.
    const float target = y - level;
    profile_learn(s, daily, p.daily_knots, c.day_knot, c.day_w,
                  isnan(daily_season) ? 0.0f : target - daily_season, target, warm ? 0.0f : 0.5f);
    return {NAN, NAN};
  }

  // Scale: the slot's mean |e| shrunk toward the global one while the slot has few visits.
  const float residuals = s[state::kResiduals];
  const float global_scale = s[state::kGlobalScale];
  const float slot_scale = s[slots + c.scale_slot];
  const float slot_visits = fminf(residuals / p.scale_slots, 1e6f);
  float mean_abs = global_scale;
  if (!isnan(slot_scale))
    mean_abs = (slot_visits * slot_scale + p.scale_prior_visits * global_scale) /
               (slot_visits + p.scale_prior_visits);
  const float floor = transform != kIdentity ? p.scale_floor_log : p.scale_floor_rel * fabsf(forecast);
  float sigma = 1.2533f * fmaxf(mean_abs, fmaxf(floor, 1e-12f));
  if (transform == kCount) {  // sd of log1p(Poisson(lambda)), by the delta method
    const float lambda = fmaxf(expm1f(forecast), 0.0f);
    sigma = fmaxf(sigma, sqrtf(lambda) / (1.0f + lambda));
  }
  const float e = y - forecast;
  // Clamped so that a constant series that suddenly moves gives a large, finite z.
  const float z_raw = isnan(global_scale) ? NAN : clampf(e / sigma, -1e6f, 1e6f);
  const bool outlier = !learning && fabsf(z_raw) > p.outlier_z;  // false while z_raw is NaN

  // Scale update: Huber-clipped |e|; outliers count at a quarter of the rate so a noisier
  // regime is learned eventually without an incident inflating the scale quickly.
  const float abs_e = isnan(z_raw) ? fabsf(e) : fminf(fabsf(e), p.outlier_z * sigma);
  const float outlier_weight = outlier ? 0.25f : 1.0f;
  const float g_rate = fmaxf(p.scale_global_rate, 1.0f / (residuals + 1.0f)) * outlier_weight;
  s[state::kGlobalScale] = isnan(global_scale) ? abs_e : global_scale + g_rate * (abs_e - global_scale);
  const float s_rate = fmaxf(p.scale_slot_rate, 1.0f / (slot_visits + 1.0f)) * outlier_weight;
  s[slots + c.scale_slot] = isnan(slot_scale) ? abs_e : slot_scale + s_rate * (abs_e - slot_scale);
  s[state::kResiduals] = residuals + 1.0f;

  // Model choice: recent mean |e| of the daily and the weekly forecast, outliers left out.
  if (!outlier && !isnan(week_season)) {
    s[state::kDailyError] += p.model_error_rate * (fabsf(y - f_daily) - s[state::kDailyError]);
    s[state::kWeeklyError] += p.model_error_rate * (fabsf(y - f_weekly) - s[state::kWeeklyError]);
  }

  if (outlier) {
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
  if (!outlier) s[state::kLevel] = level + p.level_rate * e_full;
  const float days = age / p.points_per_day;
  const float d_rate = fmaxf(p.daily_rate, 1.0f / (1.0f + days));
  profile_learn(s, daily, p.daily_knots, c.day_knot, c.day_w, e_full, y - level, d_rate);
  if (p.weekly_knots > 0) {
    // A weekly knot starts as the daily forecast's residual at its first visit, bounded so that
    // an event seen once does not become a weekly phantom.
    const float bound = isnan(z_raw) ? INFINITY : p.outlier_z * sigma;
    const float w_rate = fmaxf(p.weekly_rate, 1.0f / (1.0f + days / 7.0f));
    profile_learn(s, weekly, p.weekly_knots, c.week_knot, c.week_w, e_full, clampf(y - f_daily, -bound, bound),
                  w_rate);
  }
  return {forecast, learning ? NAN : z_raw};
}

}  // namespace vigil
