// The NumPy peer (bench/numpy_peer.py) computes the same z as vigil's forecast stage: otherwise
// `vigil bench` would compare vigil's speed with that of a different computation. Skips where no
// Python with NumPy is installed (scripts/setup.sh installs python3-numpy).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "vigil/tools/numpy_peer.hpp"
#include "common/synthetic.hpp"
#include "vigil/backend.hpp"

namespace vigil {
namespace {

// Traffic with everything the forecast's branches react to: all three transforms (identity
// series shifted to cross zero), a short deep drop (outliers), a level shift that outlasts the
// shift horizon (accepted as a new level), scattered missing points, a series that starts on
// day 3 and one that never has a value.
Dataset eventful_traffic(size_t series, int days, int64_t step, uint64_t seed, std::vector<uint8_t>& transform) {
  Dataset d = test::make_traffic(series, days, step, seed);
  const size_t N = d.N(), per_day = static_cast<size_t>(86400 / step);
  transform.resize(N);
  for (size_t i = 0; i < N; ++i) {
    transform[i] = static_cast<uint8_t>(i % 3 == 0 ? kIdentity : i % 3 == 1 ? kLog1p : kCount);
    if (transform[i] == kIdentity)
      for (size_t t = 0; t < d.T; ++t) d.values[t * N + i] -= 40.0f;
  }
  const size_t late = d.T * 2 / 3;
  test::inject(d, 1, late, late + per_day / 8, 0.3f);   // a 3-hour drop
  test::inject(d, 2, late, late + per_day / 8, 4.0f);   // a burst of a count
  test::inject(d, 4, late, d.T, 1.8f);                   // a lasting shift
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (size_t t = 0; t < d.T; ++t)
    for (size_t i = 0; i < N; ++i)
      if ((t * 7 + i * 13) % 97 == 0) d.values[t * N + i] = nan;
  for (size_t t = 0; t < 2 * per_day + 5; ++t) d.values[t * N + 5] = nan;
  for (size_t t = 0; t < d.T; ++t) d.values[t * N + 6] = nan;
  return d;
}

std::vector<float> vigil_z(const ForecastParams& p, const Dataset& d, const std::vector<uint8_t>& transform) {
  std::vector<float> forecast(d.values.size()), z(d.values.size());
  ForecastInput in;
  in.values = d.values.data();
  in.transform = transform.data();
  in.T = d.T;
  in.N = d.N();
  ForecastOutput out;
  out.forecast = forecast.data();
  out.z = z.data();
  make_cpu_backend()->forecast(p, in, out);
  return z;
}

void expect_peer_agrees(const Dataset& d, const std::vector<uint8_t>& transform) {
  std::string why;
  if (!numpy_peer_available(&why)) GTEST_SKIP() << why;
  const ForecastParams p = make_forecast_params(ForecastSettings{}, d.start, d.step, d.T);
  const std::vector<float> reference = vigil_z(p, d, transform);
  const auto peer = run_numpy_peer(p, d.values.data(), transform.data(), d.T, d.N(), reference.data(), &why);
  ASSERT_TRUE(peer) << why;
  EXPECT_EQ(peer->series, d.N());
  EXPECT_EQ(peer->points, d.T);
  EXPECT_EQ(peer->threads, 1);
  EXPECT_GT(peer->points_per_second, 0);
  EXPECT_FALSE(peer->numpy_version.empty());
  ASSERT_TRUE(peer->z_agreement);
  const NumpyPeerAgreement& a = *peer->z_agreement;
  // Both score exactly the same points (the learning phase, missing points, the late series).
  EXPECT_EQ(a.nan_mismatch, 0u);
  size_t scored = 0;
  for (float z : reference) scored += !std::isnan(z);
  EXPECT_EQ(a.compared, scored);
  // The peer is float32 in the C++'s order of operations, so most z are bit-identical (here:
  // median 0, p99 about 2e-5, max about 1.5e-4). What differs is libm: NumPy's log1p, expm1 and
  // cbrt disagree with glibc's in the last bit for a few percent of arguments, and a point just
  // at a threshold (|z| = 2 for the count tail, the outlier limit) can turn that into a visible
  // difference that the state carries for a while, more so with another NumPy build. Hence a
  // tight median and a tolerant tail.
  EXPECT_LT(a.median_abs_diff, 1e-4);
  EXPECT_LT(a.p99_abs_diff, 1e-2);
  EXPECT_GE(a.share_within_0_05, 0.995);
  std::printf("numpy peer: %zu points compared, median |dz| %.2g, p99 %.2g, max %.2g, %.4f within 0.05\n",
              a.compared, a.median_abs_diff, a.p99_abs_diff, a.max_abs_diff, a.share_within_0_05);
}

TEST(NumpyPeer, AgreesWithVigilOnFiveMinuteDataWithTheWeeklyModel) {
  // 15 days of 5-minute points: the weekly model is on and 96 daily knots fall between steps
  // (fractional knot weights); the derivative spans 3 points each way.
  std::vector<uint8_t> transform;
  const Dataset d = eventful_traffic(30, 15, 300, 3, transform);
  expect_peer_agrees(d, transform);
}

TEST(NumpyPeer, AgreesWithVigilWithoutTheWeeklyModel) {
  // 6 days of 15-minute points: too short for the weekly model; one-point derivative halves.
  std::vector<uint8_t> transform;
  const Dataset d = eventful_traffic(12, 6, 900, 5, transform);
  expect_peer_agrees(d, transform);
}

TEST(NumpyPeer, ReportsWhyItCannotRun) {
  // A missing script is a reason, not a crash: `vigil bench` skips the comparison then.
  setenv("VIGIL_NUMPY_PEER", "/nonexistent/numpy_peer.py", 1);
  std::string why;
  const bool available = numpy_peer_available(&why);
  const ForecastParams p = make_forecast_params(ForecastSettings{}, 0, 300, 10);
  const float values[2] = {1, 2};
  const uint8_t transform[1] = {kLog1p};
  const auto peer = run_numpy_peer(p, values, transform, 2, 1, nullptr, &why);
  unsetenv("VIGIL_NUMPY_PEER");
  EXPECT_FALSE(available);
  EXPECT_FALSE(peer);
  EXPECT_NE(why.find("numpy peer"), std::string::npos) << why;
}

}  // namespace
}  // namespace vigil
