// The forecast stage's behaviour on series whose truth the test knows, through the CPU backend
// (the same VIGIL_HD math the CUDA kernels run).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/synthetic.hpp"
#include "vigil/pipeline.hpp"
#include "vigil/run.hpp"

namespace vigil {
namespace {

Scores score(const Dataset& d, const Config& c = Config{}) {
  auto backend = make_cpu_backend();
  return score_dataset(d, c, *backend);
}

std::vector<float> column(const Dataset& d, const std::vector<float>& v, size_t i, size_t t0, size_t t1) {
  std::vector<float> out;
  for (size_t t = t0; t < t1; ++t) out.push_back(v[t * d.N() + i]);
  return out;
}

float median_abs(std::vector<float> v) {
  std::vector<float> a;
  for (float x : v)
    if (!std::isnan(x)) a.push_back(std::fabs(x));
  std::nth_element(a.begin(), a.begin() + a.size() / 2, a.end());
  return a[a.size() / 2];
}

TEST(Forecast, QuietTrafficHasNormalSizedResidualsAndNoExtremes) {
  const Dataset d = test::make_traffic(14, 21, 900, 7);
  const Scores s = score(d);
  const size_t from = static_cast<size_t>(s.params.min_history_steps);
  size_t scored = 0, extreme = 0;
  for (size_t i = 0; i < d.N(); ++i) {
    auto z = column(d, s.z, i, from, d.T);
    const float med = median_abs(z);
    // A well-calibrated scale gives median |z| near 0.67 for normal residuals.
    EXPECT_GT(med, 0.35f) << "series " << i;
    EXPECT_LT(med, 1.1f) << "series " << i;
    for (float x : z) {
      scored += !std::isnan(x);
      extreme += std::fabs(x) >= 5.0f;
    }
  }
  EXPECT_EQ(scored, d.N() * (d.T - from));
  EXPECT_LT(static_cast<double>(extreme) / static_cast<double>(scored), 2e-3);
}

TEST(Forecast, ScoresFromTheSecondDayWithAWiderBandWhileYoung) {
  const Dataset d = test::make_traffic(3, 5, 900, 1);
  Config mature_only;  // no widening: the young z as the model computes it
  mature_only.forecast.young_width = 1;
  const Scores s = score(d), plain = score(d, mature_only);
  const size_t from = static_cast<size_t>(s.params.report_from_steps);
  const size_t learning = static_cast<size_t>(s.params.min_history_steps);
  ASSERT_LT(from, learning);
  ASSERT_LE(from, static_cast<size_t>(1.5 * s.params.points_per_day));  // no week-long blackout
  for (size_t i = 0; i < d.N(); ++i)
    for (size_t t = 0; t < d.T; ++t) {
      const size_t k = t * d.N() + i;
      if (t < from) {
        EXPECT_TRUE(std::isnan(s.z[k])) << t;
        continue;
      }
      ASSERT_FALSE(std::isnan(s.z[k])) << t;
      if (t >= learning) {
        EXPECT_EQ(s.z[k], plain.z[k]) << t;  // a mature model's z is untouched
      } else {
        // Widened by young_width at the first reported point, easing to none at maturity.
        const double widen = plain.z[k] / s.z[k];
        const double expected = 1 + (s.params.min_history_steps - static_cast<double>(t)) * s.params.young_slope;
        if (std::fabs(plain.z[k]) > 1e-3) EXPECT_NEAR(widen, expected, 1e-3 * expected) << t;
      }
    }
  EXPECT_NEAR(1 + (learning - from) * s.params.young_slope, Config{}.forecast.young_width, 1e-4);
}

TEST(Forecast, TheRunCountsThePointsScoredByAYoungModel) {
  const Dataset d = test::make_traffic(4, 10, 900, 3);  // 10 days at 15 minutes: the daily model
  auto backend = make_cpu_backend(1);
  const RunResult run = run_scoring(d, Config{}, *backend, 0);
  const Scores s = score(d);
  // Every series starts at step 0 without gaps: from the first reported step to maturity.
  const size_t per_series = static_cast<size_t>(s.params.min_history_steps - s.params.report_from_steps);
  EXPECT_GT(per_series, 0u);
  EXPECT_EQ(run.young_points, d.N() * per_series);
}

TEST(Forecast, AbruptDropIsFarOutsideTheScaleAndRecoveryIsQuick) {
  // Series from 300 to 30,000 per step at the evening peak; the drop starts at 17:00.
  std::vector<test::TrafficShape> shapes(7);
  for (size_t k = 0; k < shapes.size(); ++k) shapes[k].level = 300 * std::pow(10.0, k / 3.0);
  Dataset d = test::make_traffic(7, 21, 900, 11, shapes);
  const size_t t0 = 15 * 96 + 68, t1 = t0 + 12;  // 3 hours
  for (size_t i = 0; i < d.N(); ++i) test::inject(d, i, t0, t1, 0.65f);  // a 35 % drop
  const Scores s = score(d);
  for (size_t i = 0; i < d.N(); ++i) {
    auto during = column(d, s.z, i, t0, t1);
    std::sort(during.begin(), during.end());
    EXPECT_LT(during[during.size() / 2], -5.0f) << "series " << i << ": the median point of the drop";
    // The incident was not learned: right after it, residuals are back to normal size.
    auto after = column(d, s.z, i, t1 + 1, t1 + 24);
    EXPECT_LT(median_abs(after), 1.5f) << "series " << i;
  }
}

TEST(Forecast, APersistentShiftBecomesTheNewLevel) {
  std::vector<test::TrafficShape> shapes(3);
  for (size_t k = 0; k < shapes.size(); ++k) shapes[k].level = 1000 * std::pow(10.0, static_cast<double>(k));
  Dataset d = test::make_traffic(3, 21, 900, 5, shapes);
  const size_t t0 = 14 * 96 + 60;  // 15:00
  for (size_t i = 0; i < d.N(); ++i) test::inject(d, i, t0, d.T, 0.5f);
  const Scores s = score(d);
  const size_t horizon = static_cast<size_t>(s.params.shift_horizon);
  for (size_t i = 0; i < d.N(); ++i) {
    EXPECT_LT(s.z[(t0 + 2) * d.N() + i], -5.0f);
    // A day after the horizon the series is scored as normal again: it does not alarm forever.
    auto later = column(d, s.z, i, t0 + horizon + 96, d.T);
    EXPECT_LT(median_abs(later), 1.2f) << "series " << i;
  }
}

TEST(Forecast, ConstantZeroAndGappySeriesStayFinite) {
  Dataset d = test::make_traffic(4, 10, 900, 3);
  const size_t N = d.N();
  for (size_t t = 0; t < d.T; ++t) {
    d.values[t * N + 0] = 42.5f;                                   // constant (not a count)
    d.values[t * N + 1] = 0.0f;                                    // zeros
    if (t % 5 == 0 || (t > 300 && t < 420)) d.values[t * N + 2] = NAN;  // gaps
    if (t % 7 == 0) d.values[t * N + 3] = INFINITY;                // inf = missing
  }
  d.values[800 * N + 0] = 85.0f;  // the constant series jumps once
  const Scores s = score(d);
  // The gappy series starts one step late (t = 0 is missing), so its history starts then.
  for (size_t t = static_cast<size_t>(s.params.min_history_steps) + 1; t < d.T; ++t) {
    // Before the jump exactly zero; after it the profile was nudged by a clipped amount only.
    if (t < 800) EXPECT_EQ(s.z[t * N + 0], 0.0f) << t;
    if (t > 800) EXPECT_LT(std::fabs(s.z[t * N + 0]), 1.0f) << t;
    EXPECT_EQ(s.z[t * N + 1], 0.0f) << t;
    const float gap = s.z[t * N + 2];
    if (std::isnan(d.values[t * N + 2])) EXPECT_TRUE(std::isnan(gap)) << t;
    else EXPECT_TRUE(std::isfinite(gap)) << t;
    if (t % 7 == 0) EXPECT_TRUE(std::isnan(s.z[t * N + 3]));
  }
  EXPECT_GT(s.z[800 * N + 0], 10.0f);
  EXPECT_TRUE(std::isfinite(s.z[800 * N + 0]));
}

TEST(Forecast, HugeAndNegativeValuesUseTheIdentityTransformAndStayFinite) {
  Dataset d = test::make_traffic(2, 10, 900, 9);
  for (size_t t = 0; t < d.T; ++t) {
    d.values[t * 2 + 0] = 1e30f * (1.0f + 0.01f * static_cast<float>(t % 13));
    d.values[t * 2 + 1] = -50.0f + static_cast<float>(t % 11);
  }
  const Scores s = score(d);
  EXPECT_NE(s.transform[0], kIdentity);  // non-negative: a log transform
  EXPECT_EQ(s.transform[1], kIdentity);  // negative values: identity
  for (size_t t = static_cast<size_t>(s.params.min_history_steps); t < d.T; ++t)
    for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(std::isfinite(s.z[t * 2 + i])) << i << " " << t;
}

TEST(Forecast, ScoresAreCausal) {
  const Dataset full = test::make_traffic(5, 20, 900, 13);
  Dataset prefix = full;
  prefix.T = 16 * 96;  // both have >= 14 days, so the same model family
  prefix.values.resize(prefix.T * prefix.N());
  const Scores a = score(full), b = score(prefix);
  for (size_t k = 0; k < prefix.values.size(); ++k) {
    if (std::isnan(b.z[k])) EXPECT_TRUE(std::isnan(a.z[k]));
    else EXPECT_EQ(a.z[k], b.z[k]) << k;
  }
}

TEST(Forecast, WeeklyModelIsChosenWhenTheWeekendDiffers) {
  std::vector<test::TrafficShape> shapes(1);
  shapes[0].weekend_boost = 0.6;
  const Dataset d = test::make_traffic(1, 28, 900, 21, shapes);
  Config weekly, daily_only;
  daily_only.forecast.weekly = false;
  const Scores w = score(d, weekly), dl = score(d, daily_only);
  ASSERT_GT(w.params.weekly_knots, 0);
  // Over the last week, the weekly model's residuals are smaller on the weekend.
  double err_w = 0, err_d = 0;
  for (size_t t = 26 * 96; t < 28 * 96; ++t) {  // the last Saturday and Sunday
    const float x = std::log1p(d.values[t]);
    err_w += std::fabs(x - w.forecast[t]);
    err_d += std::fabs(x - dl.forecast[t]);
  }
  EXPECT_LT(err_w, 0.8 * err_d);
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// The Poisson tail as a normal deviate, against exact values: P(X = 0 | 9) = 1.23e-4 (z -3.67),
// P(X >= 10 | 0.5) = 1.7e-10 (z +6.28), P(X >= 1 | 0.01) = 0.00995 (z +2.33); and for a large
// count the Gaussian (c - lambda) / sqrt(lambda).
TEST(CountZ, PoissonTailAsANormalDeviate) {
  EXPECT_NEAR(poisson_z(0.0f, 9.0f), -3.67f, 0.3f);
  EXPECT_NEAR(poisson_z(10.0f, 0.5f), 6.28f, 0.5f);
  EXPECT_NEAR(poisson_z(1.0f, 0.01f), 2.33f, 0.4f);
  EXPECT_NEAR(poisson_z(10300.0f, 10000.0f), 3.0f, 0.1f);
  EXPECT_NEAR(poisson_z(9700.0f, 10000.0f), -3.0f, 0.1f);
  EXPECT_EQ(poisson_z(0.0f, 0.0f), 0.0f);
  // count_z: near the forecast it is the log residual's z; far from a small count the tail's.
  const float sigma_small = poisson_log_sd(0.5f, 3.0f);  // the Poisson floor at lambda <= 3: sqrt(3) / 4
  EXPECT_FLOAT_EQ(sigma_small, std::sqrt(3.0f) / 4.0f);
  EXPECT_EQ(count_z(1.5f, std::log1p(1.0f), 0.5f, sigma_small, sigma_small), 1.5f);
  const float z_log = (std::log1p(10.0f) - std::log1p(0.5f)) / sigma_small;  // 4.6: under 5
  EXPECT_GT(count_z(z_log, std::log1p(10.0f), 0.5f, sigma_small, sigma_small), 5.0f);
  // A large, overdispersed count keeps (almost) its log residual.
  const float sigma_large = 0.03f, y = std::log1p(8000.0f), f = std::log1p(10000.0f);
  EXPECT_NEAR(count_z((y - f) / sigma_large, y, 10000.0f, sigma_large, poisson_log_sd(10000.0f, 3.0f)), (y - f) / sigma_large, 0.3f);
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// The CUDA kernel's RegisterState (scalar fields held in the object, arrays through a StateRef)
// runs forecast_step's arithmetic unchanged: every output and the final state equal those of a
// plain StateRef bit for bit, with and without the weekly profile and with an event.
TEST(RegisterState, EqualsTheStateRefStepBitForBit) {
  for (const int days : {3, 15}) {  // 15 days: the weekly profile is on
    Dataset d = test::make_traffic(12, days, 900, 3);
    const size_t N = d.N();
    for (size_t t = 0; t < d.T; t += 7) d.values[t * N + 1] = NAN;           // gaps
    for (size_t t = d.T / 2; t < d.T / 2 + 6; ++t) d.values[t * N + 2] *= 8;  // an outlier run
    const ForecastParams p = make_forecast_params(Config{}.forecast, d.start, d.step, d.T);
    const EventEffect event{static_cast<uint32_t>(d.T / 3), static_cast<uint32_t>(d.T / 3 + 5), 0.2f};
    const size_t S = static_cast<size_t>(state_floats(p));
    for (size_t i = 0; i < N; ++i) {
      std::vector<float> plain(S), held(S);
      init_state(p, StateRef{plain.data(), 1});
      init_state(p, StateRef{held.data(), 1});
      const RegisterState rs(StateRef{held.data(), 1});
      const EventEffect* events = i % 3 == 0 ? &event : nullptr;
      const uint32_t n_events = events ? 1 : 0;
      for (size_t t = 0; t < d.T; ++t) {
        const Clock c = clock_at(p, static_cast<int64_t>(t));
        const float x = d.values[t * N + i];
        const uint8_t code = i % 2 ? kLog1p : kCount;
        const PointScore a = forecast_point(p, StateRef{plain.data(), 1}, c, x, code, events, n_events,
                                            static_cast<uint32_t>(t), false);
        const PointScore b = forecast_point(p, rs, c, x, code, events, n_events, static_cast<uint32_t>(t), false);
        ASSERT_EQ(std::memcmp(&a, &b, sizeof(PointScore)), 0) << "series " << i << " step " << t;
      }
      rs.store();
      ASSERT_EQ(std::memcmp(plain.data(), held.data(), S * sizeof(float)), 0) << "series " << i;
    }
  }
}

}  // namespace
}  // namespace vigil
