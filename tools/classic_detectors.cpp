#include "vigil/tools/classic_detectors.hpp"

#include <algorithm>
#include <cmath>

namespace vigil::classic {

size_t points_per_day(int64_t step_seconds) {
  if (step_seconds <= 0) return 1;
  return std::max<size_t>(1, static_cast<size_t>(86400 / step_seconds));
}

namespace {

// Running mean and population variance of a multiset of values, with an offset subtracted so
// that large levels (1e6 requests) do not cancel in sum-of-squares arithmetic.
class RunningMoments {
 public:
  void add(double x) { shift(x, +1); }
  void remove(double x) { shift(x, -1); }
  size_t count() const { return n_; }
  double mean() const { return offset_ + sum_ / static_cast<double>(n_); }
  double stddev() const {
    const double m = sum_ / static_cast<double>(n_);
    return std::sqrt(std::max(0.0, sum_sq_ / static_cast<double>(n_) - m * m));
  }

 private:
  void shift(double x, int sign) {
    if (!has_offset_) offset_ = x, has_offset_ = true;
    const double d = x - offset_;
    sum_ += sign * d;
    sum_sq_ += sign * d * d;
    n_ = sign > 0 ? n_ + 1 : n_ - 1;
  }
  bool has_offset_ = false;
  double offset_ = 0, sum_ = 0, sum_sq_ = 0;
  size_t n_ = 0;
};

// A standard deviation of exactly 0 (a flat window) would make any change infinitely anomalous;
// NAB's detectors use 1e-6 there, which keeps the order of deviations.
double floored_std(double s) { return s > 0 ? s : 1e-6; }

double normal_tail(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

double median_of(std::vector<double>& v) {
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  const double upper = v[mid];
  if (v.size() % 2) return upper;
  return 0.5 * (upper + *std::max_element(v.begin(), v.begin() + mid));
}

}  // namespace

std::vector<double> rolling_zscore(const std::vector<float>& values, size_t window) {
  window = std::max<size_t>(window, 2);
  const size_t min_count = std::max<size_t>(2, window / 4);
  std::vector<double> score(values.size(), 0.0);
  RunningMoments moments;
  for (size_t t = 0; t < values.size(); ++t) {
    const double x = values[t];
    if (!std::isnan(x) && moments.count() >= min_count) {
      const double z = std::fabs(x - moments.mean()) / floored_std(moments.stddev());
      score[t] = z / (z + 3.0);
    }
    if (!std::isnan(x)) moments.add(x);
    if (t >= window && !std::isnan(values[t - window])) moments.remove(values[t - window]);
  }
  return score;
}

std::vector<double> windowed_gaussian(const std::vector<float>& values, size_t window_size, size_t step_size) {
  window_size = std::max<size_t>(window_size, 1);
  step_size = std::clamp<size_t>(step_size, 1, window_size);
  std::vector<double> score(values.size(), 0.0);
  std::vector<double> window, step_buffer;
  double mean = 0, std = 1;
  RunningMoments growing;  // while the window fills, it changes by one value per point
  const auto take = [&](const RunningMoments& m) {
    mean = m.mean();
    std = floored_std(m.stddev());
  };
  const auto refresh = [&] {
    RunningMoments m;
    for (double v : window) m.add(v);
    take(m);
  };
  const double tail_at_5 = normal_tail(5.0);
  for (size_t t = 0; t < values.size(); ++t) {
    const double x = values[t];
    if (std::isnan(x)) continue;  // NAB's files have no gaps; a missing point neither scores nor teaches
    if (!window.empty()) {
      const double z = std::fabs(x - mean) / std;
      score[t] = z <= 5.0 ? 1.0 - normal_tail(z) : 1.0 - tail_at_5 * 5.0 / z;
    }
    if (window.size() < window_size) {
      window.push_back(x);
      growing.add(x);
      take(growing);
    } else {
      step_buffer.push_back(x);
      if (step_buffer.size() == step_size) {
        window.erase(window.begin(), window.begin() + static_cast<long>(step_size));
        window.insert(window.end(), step_buffer.begin(), step_buffer.end());
        step_buffer.clear();
        refresh();
      }
    }
  }
  return score;
}

double normal_quantile(double p) {
  if (p <= 0) return -INFINITY;
  if (p >= 1) return INFINITY;
  // Acklam's rational approximation (relative error 1e-9), then one Halley step on erfc.
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double low = 0.02425;
  double x;
  if (p < low) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - low) {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const double q = std::sqrt(-2 * std::log1p(-p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

double student_t_quantile(double p, double df) {
  const double z = normal_quantile(p);
  const double z2 = z * z, z3 = z2 * z, z5 = z3 * z2, z7 = z5 * z2, z9 = z7 * z2;
  const double g1 = (z3 + z) / 4;
  const double g2 = (5 * z5 + 16 * z3 + 3 * z) / 96;
  const double g3 = (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / 384;
  const double g4 = (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / 92160;
  return z + g1 / df + g2 / (df * df) + g3 / (df * df * df) + g4 / (df * df * df * df);
}

double esd_critical_value(size_t n, size_t i, double alpha) {
  const double remaining = static_cast<double>(n - i);  // n - i
  const double p = 1.0 - alpha / (2.0 * (remaining + 1.0));
  const double t = student_t_quantile(p, remaining - 1.0);
  return remaining * t / std::sqrt((remaining - 1.0 + t * t) * (remaining + 1.0));
}

// Twitter's S-H-ESD works on a whole batch: STL's periodic seasonal component and the series'
// median are removed, then the generalized ESD test with median and MAD in place of mean and
// standard deviation flags up to max_anoms of the points. A causal score cannot see the future,
// so here, at every point t:
//   - the seasonal component is the median of the values at the same phase of the day (and the
//     neighbouring phases on grids finer than 30 minutes, as STL smooths its cycle-subseries) over
//     the previous history_days days; residual = x - that median (the seasonal median already
//     carries the level that Twitter removes with the overall median);
//   - the ESD test runs on the residuals of the previous history_days days (plus t). Median, MAD
//     and the rank cut are refreshed once an hour of points, not at every point: they move little
//     in an hour, and a full refresh per point would be quadratic;
//   - t is flagged when R = |r - median| / MAD exceeds lambda_1 (the critical value of the first
//     removal: for hundreds of points lambda_i hardly changes with i) and ranks among the window's
//     max_anoms most extreme points, as ESD stops at max_anoms removals.
// Score: flagged points 0.5 + 0.5 R / (R + lambda), the rest 0.5 R / (R + lambda): every flagged
// point outranks every unflagged one, and within each group a larger deviation ranks higher.
std::vector<double> seasonal_esd(const std::vector<float>& values, int64_t step_seconds,
                                 const SeasonalEsdSettings& settings) {
  const size_t T = values.size();
  const size_t period = points_per_day(step_seconds);
  const bool seasonal = period >= 2;
  const size_t history = std::max(settings.min_residuals,
                                  static_cast<size_t>(settings.history_days * static_cast<double>(period)));
  const size_t past_days = static_cast<size_t>(std::max(1.0, settings.history_days));
  const long phase_spread = period >= 48 ? 1 : 0;

  // Residuals from the seasonal median of the past (NaN when there is too little of it).
  std::vector<double> residual(T, NAN);
  std::vector<double> scratch;
  for (size_t t = 0; t < T; ++t) {
    if (std::isnan(values[t])) continue;
    scratch.clear();
    if (seasonal) {
      for (size_t day = 1; day <= past_days && day * period <= t + phase_spread; ++day)
        for (long d = -phase_spread; d <= phase_spread; ++d) {
          const long s = static_cast<long>(t) - static_cast<long>(day * period) + d;
          if (s >= 0 && s < static_cast<long>(t) && !std::isnan(values[s])) scratch.push_back(values[s]);
        }
      if (scratch.size() < 2 * static_cast<size_t>(2 * phase_spread + 1)) continue;  // two days at least
    } else {
      for (size_t s = t > history ? t - history : 0; s < t; ++s)
        if (!std::isnan(values[s])) scratch.push_back(values[s]);
      if (scratch.size() < 2) continue;
    }
    residual[t] = values[t] - median_of(scratch);
  }

  std::vector<double> score(T, 0.0);
  const size_t refresh_every = std::max<size_t>(1, period / 24);
  double centre = 0, spread = 0, lambda = 0, rank_cut = 0;
  bool ready = false;
  for (size_t t = 0; t < T; ++t) {
    if ((t % refresh_every) == 0) {
      scratch.clear();
      for (size_t s = t > history ? t - history : 0; s <= t; ++s)
        if (!std::isnan(residual[s])) scratch.push_back(residual[s]);
      ready = scratch.size() >= settings.min_residuals;
      if (ready) {
        const size_t n = scratch.size();
        centre = median_of(scratch);
        for (double& r : scratch) r = std::fabs(r - centre);
        const double mad = median_of(scratch);
        double mean_abs = 0;
        for (double r : scratch) mean_abs += r;
        mean_abs /= static_cast<double>(n);
        // MAD is 0 when over half the residuals tie (sparse counts); the mean absolute deviation
        // (scaled to a normal sigma) still measures the spread there.
        spread = mad > 0 ? 1.4826 * mad : 1.2533 * mean_abs;
        spread = spread > 0 ? spread : 1e-6;
        lambda = esd_critical_value(n, 1, settings.alpha);
        const size_t max_anoms = std::max<size_t>(1, static_cast<size_t>(settings.max_anoms * static_cast<double>(n)));
        std::nth_element(scratch.begin(), scratch.begin() + static_cast<long>(max_anoms - 1), scratch.end(),
                         std::greater<double>());
        rank_cut = scratch[max_anoms - 1] / spread;
      }
    }
    if (!ready || std::isnan(residual[t])) continue;
    const double R = std::fabs(residual[t] - centre) / spread;
    const double graded = R / (R + lambda);
    const bool flagged = R > lambda && R >= rank_cut;
    score[t] = flagged ? 0.5 + 0.5 * graded : 0.5 * graded;
  }
  return score;
}

}  // namespace vigil::classic
