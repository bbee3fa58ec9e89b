#include <algorithm>
#include <cmath>

#include "vigil/math/forecast.hpp"

namespace vigil {
namespace {

// Per-update rate of an exponentially weighted mean whose time constant spans `updates`.
float rate_for(double updates) { return static_cast<float>(1.0 - std::exp(-1.0 / std::max(updates, 1.0))); }

}  // namespace

ForecastParams make_forecast_params(const ForecastSettings& s, int64_t start, int64_t step, size_t T) {
  ForecastParams p;
  p.start = start;
  p.step = step;
  const double per_day = 86400.0 / static_cast<double>(step);
  p.points_per_day = std::max(1, static_cast<int>(std::lround(per_day)));
  p.daily_knots = std::clamp(s.daily_knots, 1, p.points_per_day);
  const double days = static_cast<double>(T) / per_day;
  // A weekly profile needs a week to initialise and another to prove itself.
  p.weekly_knots = (s.weekly && days >= 14.0) ? 7 * p.daily_knots : 0;
  p.scale_slots = std::clamp(s.scale_slots, 1, p.points_per_day);
  const double visits_per_day = per_day / p.daily_knots;  // per knot
  p.level_rate = rate_for(s.level_days * per_day);
  p.daily_rate = rate_for(s.daily_days * visits_per_day);
  p.weekly_rate = rate_for(s.weekly_weeks * visits_per_day);  // one visit a week per knot
  p.scale_slot_rate = rate_for(s.scale_days * per_day / p.scale_slots);
  p.scale_global_rate = rate_for(s.scale_days * per_day);
  p.model_error_rate = rate_for(s.model_error_days * per_day);
  p.scale_prior_visits = static_cast<float>(s.scale_prior_visits);
  p.clip_z = static_cast<float>(s.clip_z);
  p.event_uncertainty = static_cast<float>(s.event_uncertainty);
  p.outlier_z = static_cast<float>(s.outlier_z);
  p.shift_horizon = std::max(1, static_cast<int>(std::lround(s.shift_horizon_hours * 3600.0 / step)));
  p.warmup_steps = p.points_per_day;
  // Scoring starts once the model has seen what it forecasts: a day past the warm-up, or with
  // the weekly model, a full week plus a day (the first weekend is pattern, not anomaly).
  const double history_days = s.min_history_days > 0 ? s.min_history_days : (p.weekly_knots ? 8.0 : 2.0);
  p.min_history_steps = std::max(p.warmup_steps + 1, static_cast<int>(std::lround(history_days * per_day)));
  // z is reported from the second day; the evidence stage widens it by young_slope per step of
  // learning still ahead (young_width at the first reported point).
  p.report_from_steps =
      std::clamp(static_cast<int>(std::lround(s.score_from_days * per_day)), p.warmup_steps + 1, p.min_history_steps);
  p.young_slope = p.min_history_steps > p.report_from_steps
                      ? static_cast<float>((s.young_width - 1.0) / (p.min_history_steps - p.report_from_steps))
                      : 0.0f;
  p.scale_floor_log = static_cast<float>(s.scale_floor_log);
  p.scale_floor_rel = static_cast<float>(s.scale_floor_rel);
  p.derivative_points =
      std::clamp(static_cast<int>(std::lround(s.derivative_minutes * 60.0 / static_cast<double>(step))), 1,
                 kMaxDerivativePoints);
  p.volatility_rate = rate_for(s.volatility_hours * 3600.0 / static_cast<double>(step));
  return p;
}

}  // namespace vigil
