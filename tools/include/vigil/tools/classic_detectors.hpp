#pragma once
// Classic single-series anomaly detectors, the baselines that vigil's final score is compared with
// in `vigil nab`. Each is causal (the score at t uses points at or before t), reads values on a
// regular grid (NaN = missing, scored 0) and returns a score in [0, 1] per point, higher = more
// anomalous. NAB chooses one threshold per detector, so only the order of the scores matters;
// the maps to [0, 1] are chosen not to saturate, so no two clearly different points tie.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vigil::classic {

// Points in one day at this step (at least 1).
size_t points_per_day(int64_t step_seconds);

// Rolling z-score: z = |x - mean| / std over the previous `window` points (excluding x), scored
// z / (z + 3) (0.5 at three standard deviations). 0 until a quarter of the window is seen.
std::vector<double> rolling_zscore(const std::vector<float>& values, size_t window);

// NAB's windowedGaussian detector (nab/detectors/gaussian): the mean and standard deviation of a
// window of past values, grown point by point up to `window_size` and then slid forward by
// `step_size` points at a time; score = 1 - Q(|x - mean| / std), Q the normal tail probability
// (so 0.5 at the mean). Past 5 standard deviations the tail continues as Q(5) * 5 / z: 1 - Q(z)
// would round to exactly 1 in double near z = 8 and tie every larger deviation.
std::vector<double> windowed_gaussian(const std::vector<float>& values, size_t window_size = 6400,
                                      size_t step_size = 100);

// Seasonal Hybrid ESD in the spirit of Twitter's AnomalyDetection, made causal (see the .cpp).
struct SeasonalEsdSettings {
  double alpha = 0.05;         // significance of the generalized ESD test
  double max_anoms = 0.02;     // at most this share of the residual window is anomalous
  double history_days = 14;    // seasonal medians and the residual window look this far back
  size_t min_residuals = 100;  // fewer residuals than this: no test (score 0)
};
std::vector<double> seasonal_esd(const std::vector<float>& values, int64_t step_seconds,
                                 const SeasonalEsdSettings& settings = {});

// The generalized ESD critical value lambda_i for n points, the i-th removed point (1-based):
// (n - i) t / sqrt((n - i - 1 + t^2)(n - i + 1)), t = the Student-t quantile at
// 1 - alpha / (2 (n - i + 1)) with n - i - 1 degrees of freedom (Rosner 1983).
double esd_critical_value(size_t n, size_t i, double alpha);

// Quantiles used above: standard normal (Acklam's rational approximation, refined by one Halley
// step) and Student t (Cornish-Fisher expansion in 1/df, accurate to ~1e-4 from df = 10).
double normal_quantile(double p);
double student_t_quantile(double p, double df);

}  // namespace vigil::classic
