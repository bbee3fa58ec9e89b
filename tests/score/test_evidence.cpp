// The evidence stage (include/vigil/math/evidence.hpp): its per-point math on hand-made series,
// then every backend's evidence stage against that math run series by series.
//
// Bounds are derived from the definitions in evidence.hpp (and the defaults of EvidenceSettings),
// not copied from outputs; each comment says where a number comes from.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "common/backends.hpp"
#include "common/synthetic.hpp"
#include "vigil/backend.hpp"
#include "vigil/config.hpp"
#include "vigil/math/evidence.hpp"
#include "vigil/pipeline.hpp"

namespace vigil {
namespace {

constexpr float kNaN = NAN;

// The default settings on a `step`-second grid, with no young widening (min_history_steps 0).
EvidenceParams mature_params(int64_t step) {
  ForecastParams fp;
  fp.step = step;
  fp.min_history_steps = 0;
  fp.young_slope = 0;
  return make_evidence_params(Config{}.evidence, fp);
}

EvidenceState fresh(const EvidenceParams& p) {
  EvidenceState s;
  evidence_init(p, s);
  return s;
}

// One point with a z only (no value, no forecast): the calibrated z and the accumulated evidence.
EvidenceOut step_z(const EvidenceParams& p, EvidenceState& s, float z) {
  const float earlier[3] = {kNaN, kNaN, kNaN};
  return evidence_step(p, s, kNaN, false, z, kNaN, earlier);
}

// What z would be calibrated to now, without teaching the state anything.
float calibrated_now(const EvidenceParams& p, const EvidenceState& s, float z) {
  EvidenceState copy = s;
  return step_z(p, copy, z).calibrated;
}

TEST(EvidenceMath, YoungWideningEasesToNoneAtMaturity) {
  EvidenceParams p;
  p.young_until = 100;
  p.young_slope = 0.02f;
  EvidenceState s = fresh(p);
  // Missing values before the series starts: the age does not move.
  for (int t = 0; t < 5; ++t) {
    young_widening(p, s, kNaN);
    EXPECT_EQ(s.age, 0.0f) << "age moved on a missing value before the first one, step " << t;
  }
  // The first valid value arrives at step 5: it is age 0, widened by 1 + 100 * 0.02 = 3; each
  // later step (valid or not: the model ages with time) is one step older.
  for (int t = 5; t < 260; ++t) {
    const int age = t - 5;
    const float x = (t % 17 == 0) ? kNaN : 1.0f;  // gaps after the start do not stop the clock
    const float widen = young_widening(p, s, x);
    const float want = age < 100 ? 1.0f + (100.0f - static_cast<float>(age)) * 0.02f : 1.0f;
    if (age < 100) {
      EXPECT_NEAR(widen, want, 1e-5f) << "age " << age;
      EXPECT_GT(widen, 1.0f) << "age " << age;
    } else {
      EXPECT_EQ(widen, 1.0f) << "a mature z is left as it is, age " << age;
    }
  }
  // Spot values from the definition: 3 at the start, 2 half way, 1.02 one step before maturity.
  EvidenceState s2 = fresh(p);
  std::vector<float> w;
  for (int t = 0; t < 110; ++t) w.push_back(young_widening(p, s2, t < 5 ? kNaN : 1.0f));
  EXPECT_NEAR(w[5], 3.0f, 1e-5f);
  EXPECT_NEAR(w[55], 2.0f, 1e-5f);
  EXPECT_NEAR(w[104], 1.02f, 1e-5f);
  EXPECT_EQ(w[105], 1.0f);
  for (int t = 6; t < 110; ++t) EXPECT_LE(w[t], w[t - 1]) << "widening must ease monotonically, step " << t;
}

// The prior is meant to weigh `prior_points` (50) points; 5000 Gaussian points are 100 times
// that. (A q99 tracked directly moved down by 1 % of a step per point and needed ~9000 points to
// leave the wide prior; the tail is now q90 plus a mean excess, learned from exceedances.)
TEST(EvidenceMath, CalibrationShrinksAHeavyTailAndKeepsAGaussian) {
  const EvidenceParams p = mature_params(300);
  EvidenceState gauss = fresh(p), heavy = fresh(p);
  std::mt19937 rng(12345);
  std::normal_distribution<float> normal(0, 1);
  std::student_t_distribution<float> student(1.5f);
  for (int k = 0; k < 5000; ++k) {
    step_z(p, gauss, normal(rng));
    step_z(p, heavy, student(rng));
  }
  // Gaussian residuals: once the trackers sit at |z|'s own 90th and 99th percentiles (1.645 and
  // 2.576), the map is the identity and 5 stays 5. Tracker noise: at the steady step
  // (4 / calibration_points = 0.008 log units) the q90 tracker wanders by about +-3 % and the q99
  // one by about +-2.5 % (1 sd); even at 3 sd in opposite directions 5 maps within [4, 6.5].
  const float g5 = calibrated_now(p, gauss, 5.0f);
  EXPECT_GE(g5, 4.0f) << "a Gaussian series' z=5 must stay about 5";
  EXPECT_LE(g5, 6.5f) << "a Gaussian series' z=5 must stay about 5";
  EXPECT_NEAR(calibrated_now(p, gauss, -5.0f), -g5, 1e-5f) << "the map is odd";
  // A Gaussian's z=1 lies below q90, where the map is linear: 1 * 1.645 / q90, within ~10 %.
  EXPECT_NEAR(calibrated_now(p, gauss, 1.0f), 1.0f, 0.15f);
  // Student t with 1.5 degrees of freedom: |t|'s 90th percentile is about 3.2 and its 99th about
  // 13, so 5 lies between them and maps to 1.645 + (5 - 3.2) * 0.93 / (13 - 3.2) ~ 1.8: below
  // 2.576 (5 is not a 1-in-100 |z| there). 3 leaves room for tracker noise and still means "not
  // alarming" against the default threshold of 5.
  const float h5 = calibrated_now(p, heavy, 5.0f);
  EXPECT_GT(h5, 0.0f);
  EXPECT_LT(h5, 3.0f) << "a heavy-tailed series' z=5 is ordinary for it and must be shrunk";
  EXPECT_LT(h5, 0.6f * g5);
}

TEST(EvidenceMath, LocalEvidenceHasAPoissonFloorForCounts) {
  const EvidenceParams p = mature_params(300);
  // 200 zeros: mean 0, spread 0. A count's spread is never below sqrt(max(mean, 1)) = 1, so a 3
  // is 3 of them.
  EvidenceState counts = fresh(p), plain = fresh(p);
  for (int k = 0; k < 200; ++k) {
    local_step(p, counts, 0.0f, true);
    local_step(p, plain, 0.0f, false);
  }
  const float c = local_step(p, counts, 3.0f, true);
  EXPECT_NEAR(c, 3.0f, 1e-4f) << "3 after zeros is 3 Poisson spreads, not a 1e17-sigma event";
  // Not a count: a spread of 0 gives no evidence (NaN) rather than an infinite one.
  const float v = local_step(p, plain, 3.0f, false);
  EXPECT_TRUE(std::isnan(v) || std::fabs(v) > 1e6f) << v;
  EXPECT_FALSE(std::isinf(v));

  // A level shift of 6 spreads on a noisy series: the local spread is an EW estimate over 36
  // points (3 h of 5 min), within ~25 % of the truth, so the shift reads at least 6 / 1.25 > 4.
  EvidenceState noisy = fresh(p);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(100, 5);
  float last = 0;
  for (int k = 0; k < 500; ++k) last = local_step(p, noisy, normal(rng), false);
  EXPECT_LT(std::fabs(last), 4.0f);
  const float shift = local_step(p, noisy, 130.0f, false);
  EXPECT_GE(shift, 4.0f);
  // And downward alike.
  EvidenceState noisy2 = fresh(p);
  std::mt19937 rng2(3);
  for (int k = 0; k < 500; ++k) local_step(p, noisy2, normal(rng2), false);
  EXPECT_LE(local_step(p, noisy2, 70.0f, false), -4.0f);
  // Missing values give no evidence and change nothing.
  const EvidenceState before = noisy2;
  EXPECT_TRUE(std::isnan(local_step(p, noisy2, kNaN, false)));
  EXPECT_EQ(before.local_mean, noisy2.local_mean);
  EXPECT_EQ(before.local_var, noisy2.local_var);
  EXPECT_EQ(before.local_n, noisy2.local_n);
}

TEST(EvidenceMath, AccumulatedEvidenceGrowsWithASustainedModerateDeviation) {
  // 5-minute steps: the accumulated evidence's window is 60 min = 12 points (rate ~ 0.08).
  const EvidenceParams p = mature_params(300);
  EvidenceState s = fresh(p);
  std::mt19937 rng(99);
  std::normal_distribution<float> normal(0, 1);
  for (int k = 0; k < 2000; ++k) step_z(p, s, normal(rng));
  std::vector<float> tail(60);
  for (float& z : tail) z = normal(rng);

  // A run of 12 points at -3.5 (an hour): its mean approaches -3.5 * (1 - 0.92^12) ~ -2.2, which
  // against the standard error sqrt(r / (2 - r)) ~ 0.2 of a unit-variance mean is ~ -10.
  EvidenceState run = s;
  std::vector<float> acc_run;
  for (int k = 0; k < 12; ++k) acc_run.push_back(step_z(p, run, -3.5f).accumulated);
  // One point at -3.5 moves the mean by only r * 3.5 ~ 0.28, i.e. ~ -1.4 on the same scale.
  EvidenceState lone = s;
  const float acc_lone = step_z(p, lone, -3.5f).accumulated;
  EXPECT_EQ(acc_run[0], acc_lone);
  for (int k = 1; k < 6; ++k)
    EXPECT_LT(acc_run[k], acc_run[k - 1]) << "the run's evidence must grow at each of its first points, k=" << k;
  EXPECT_LE(acc_run.back(), -5.0f) << "an hour at -3.5 must be as alarming as one large point";
  EXPECT_LT(acc_run.back(), acc_lone - 3.0f);
  EXPECT_GT(acc_lone, -4.0f) << "one moderate point is not a run";

  // The lone point then decays back: against the same state without it, the same following
  // points give an accumulated evidence that differs by r * 3.5 * (1 - r)^k at most (~ 0.002
  // after 60 points), plus the trackers' memory of the point: each tracker stepped up by 0.9 of
  // a step instead of down by 0.1 (1.6 % of its quantile at the steady rate), and the tail of
  // |accumulated| took one more exceedance; together under 10 % of a value near 1.4.
  EvidenceState without = s;
  step_z(p, without, 0.0f);
  float a = 0, b = 0;
  for (float z : tail) {
    a = step_z(p, lone, z).accumulated;
    b = step_z(p, without, z).accumulated;
  }
  EXPECT_NEAR(a, b, 0.15f) << "a lone moderate point must be forgotten after 5 windows";
}

// (With the q99 tracked directly, the drift's tail stayed near its wide prior for days and -0.9
// mapped to about -3.6.)
TEST(EvidenceMath, SlowBaselineSeesAForecastThatSlidAway) {
  // 15-minute steps, 96 a day; one series, a forecast in log units with a daily pattern repeated
  // exactly for 10 days plus 1 % noise, then on day 11 a slide of -0.9 over 16 points (4 hours)
  // that the level followed, as in a leak.
  constexpr size_t kPerDay = 96, kDays = 11, T = kPerDay * kDays;
  constexpr size_t kSlideStart = 10 * kPerDay + 40, kSlideLen = 16;
  const EvidenceParams p = mature_params(900);
  std::mt19937 rng(2024);
  std::normal_distribution<float> noise(0, 0.01f), normal(0, 1);
  std::vector<float> f(T);
  for (size_t t = 0; t < T; ++t) {
    const float phase = static_cast<float>(t % kPerDay) / kPerDay;
    f[t] = 6.0f + 1.2f * std::sin(6.2831853f * phase) + 0.4f * std::cos(4 * 6.2831853f * phase) + noise(rng);
    if (t >= kSlideStart) f[t] -= 0.9f * std::min<float>(1.0f, static_cast<float>(t - kSlideStart + 1) / kSlideLen);
  }
  EvidenceState s = fresh(p);
  std::vector<float> normal_days;
  float at_end = kNaN;
  for (size_t t = 0; t < T; ++t) {
    float earlier[3];
    earlier_forecasts(f.data(), t, 0, 1, kPerDay, earlier);
    young_widening(p, s, std::exp(f[t]));
    const EvidenceOut o = evidence_step(p, s, std::exp(f[t]), false, normal(rng), f[t], earlier);
    if (t < kPerDay) EXPECT_TRUE(std::isnan(o.baseline)) << "no earlier day yet at step " << t;
    if (t >= kPerDay && t < kSlideStart) {
      ASSERT_FALSE(std::isnan(o.baseline)) << t;
      normal_days.push_back(std::fabs(o.baseline));
    }
    if (t == kSlideStart + kSlideLen - 1) at_end = o.baseline;
  }
  // Normal days: the drift is noise against a reference of the same noise, and the trackers learn
  // its scale; a 99th percentile of |baseline| of about 2.6 is the calibrated target, 3 the bound.
  std::sort(normal_days.begin(), normal_days.end());
  EXPECT_LT(normal_days[normal_days.size() * 99 / 100], 3.0f);
  // The slide: a drift of -0.9 log units (evidence.hpp's "slide to -60 % over four hours")
  // against day-to-day drifts of ~0.015 must be strong evidence, however wide the prior was.
  EXPECT_LE(at_end, -5.0f) << "a forecast that slid 60 % away from its earlier days is not news to the baseline";
}

// ---- Backends ----------------------------------------------------------------------------------

class EvidenceParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = test::backend_named(GetParam());
    if (!backend_) GTEST_SKIP() << "no CUDA device: the CUDA backend is compiled but not run here";
  }
  std::unique_ptr<Backend> backend_;
};

Dataset evidence_dataset() {
  Dataset d = test::make_traffic(130, 10, 900, 41);
  test::inject(d, 3, 8 * 96 + 30, 8 * 96 + 46, 0.4f);  // a 4-hour drop
  test::inject(d, 9, 9 * 96 + 10, 9 * 96 + 13, 4.0f);  // a short spike
  const size_t N = d.N();
  for (size_t t = 0; t < 2 * 96 + 7; ++t) d.values[t * N + 5] = NAN;       // starts late: young later
  for (size_t t = 6 * 96; t < 6 * 96 + 30; ++t) d.values[t * N + 6] = NAN;  // a gap
  for (size_t t = 0; t < d.T; ++t) d.values[t * N + 7] = 4.5f + static_cast<float>(t % 3);  // not a count
  return d;
}

// The reference: the forecast's own z (the backend's forecast run again on the same inputs, which
// the evidence stage has not widened; the forecast itself is held to the scalar reference by
// BackendParity), then young_widening and evidence_step series by series, time by time, in this
// thread. Comparing s.z with its widened z checks the in-place widening; the outputs are checked
// against what evidence_step makes of exactly that z.
TEST_P(EvidenceParity, MatchesTheScalarReference) {
  const Dataset d = evidence_dataset();
  const Scores s = score_dataset(d, Config{}, *backend_);
  const size_t N = d.N(), T = d.T;
  std::vector<float> forecast(T * N), raw_z(T * N);
  backend_->forecast(s.params, ForecastInput{d.values.data(), s.transform.data(), T, N},
                     ForecastOutput{forecast.data(), raw_z.data(), nullptr, nullptr, nullptr});
  for (size_t k = 0; k < T * N; ++k)
    ASSERT_TRUE(forecast[k] == s.forecast[k] || (std::isnan(forecast[k]) && std::isnan(s.forecast[k])))
        << "the forecast ran twice differently at " << k << ": the reference's input would be wrong";

  const EvidenceParams p = make_evidence_params(Config{}.evidence, s.params);
  ASSERT_GT(p.young_until, 0.0f);
  const size_t per_day = static_cast<size_t>(s.params.points_per_day);
  std::vector<float> ref[5];  // z, local, calibrated, accumulated, baseline
  for (auto& r : ref) r.assign(T * N, 0);
  size_t widened = 0;
  for (size_t i = 0; i < N; ++i) {
    EvidenceState st = fresh(p);
    for (size_t t = 0; t < T; ++t) {
      const size_t k = t * N + i;
      float earlier[3];
      earlier_forecasts(forecast.data(), t, i, N, per_day, earlier);
      const float widen = young_widening(p, st, d.values[k]);
      const float z = raw_z[k] / widen;
      widened += widen > 1.0f && !std::isnan(z);
      const EvidenceOut o = evidence_step(p, st, d.values[k], s.transform[i] == kCount, z, forecast[k], earlier);
      ref[0][k] = z;
      ref[1][k] = o.local;
      ref[2][k] = o.calibrated;
      ref[3][k] = o.accumulated;
      ref[4][k] = o.baseline;
    }
  }
  ASSERT_GT(widened, 0u) << "the data must exercise the young widening";

  const std::vector<float>* got[5] = {&s.z, &s.z_local, &s.z_calibrated, &s.z_accumulated, &s.z_baseline};
  const char* names[5] = {"z", "z_local", "z_calibrated", "z_accumulated", "z_baseline"};
  // CPU: the same header code compiled alike; within 1e-6 relative (in practice bit for bit), at
  // every point. CUDA: its logf/expf/sqrtf may differ from glibc's by an ulp, so 1e-4 relative
  // plus 1e-4 absolute; a tracker comparison right at its quantile can then go the other way and
  // shift a series' later calibration slightly, so, as in BackendParity, 99.9 % of the points of
  // each output must agree. NaN patterns must agree everywhere on every backend.
  const bool cuda = backend_->name() == "cuda";
  const float rel = cuda ? 1e-4f : 1e-6f, abs_tol = cuda ? 1e-4f : 0.0f;
  for (int o = 0; o < 5; ++o) {
    size_t present = 0, agree = 0, first_bad = SIZE_MAX;
    for (size_t k = 0; k < T * N; ++k) {
      const float want = ref[o][k], have = (*got[o])[k];
      ASSERT_EQ(std::isnan(want), std::isnan(have)) << names[o] << " NaN pattern at t=" << k / N << " i=" << k % N;
      if (std::isnan(want)) continue;
      ++present;
      const bool ok = std::fabs(want - have) <= rel * std::fabs(want) + abs_tol;
      agree += ok;
      if (!ok && first_bad == SIZE_MAX) first_bad = k;
    }
    ASSERT_GT(present, 0u) << names[o];
    const size_t need = cuda ? static_cast<size_t>(std::ceil(0.999 * static_cast<double>(present))) : present;
    EXPECT_GE(agree, need) << names[o] << ": " << agree << " of " << present << " agree on " << GetParam()
                           << (first_bad == SIZE_MAX ? std::string()
                                                     : ", first difference at t=" + std::to_string(first_bad / N) +
                                                           " i=" + std::to_string(first_bad % N) + ": " +
                                                           std::to_string(ref[o][first_bad]) + " vs " +
                                                           std::to_string((*got[o])[first_bad]));
  }
}

// A device too small for the whole batch: the evidence stage runs a chunk of series at a time.
// With T = 960 steps and 8 arrays of floats per series, a series needs ~30 KB of device memory;
// 1 MiB (half of it usable, cuda::units_per_chunk) holds 17 series, so 130 series take 8 chunks.
// Each series' math is independent of its chunk: the results must be equal bit for bit.
TEST_P(EvidenceParity, ALimitedDeviceGivesTheSameResult) {
  if (backend_->name() != "cuda") GTEST_SKIP() << "only the CUDA backend has device memory to limit";
  const Dataset d = evidence_dataset();
  Config config;
  config.mechanisms.cross_stack = false;  // keep the run to the forecast and evidence stages
  const Scores whole = score_dataset(d, config, *backend_);
  auto limited_backend = test::backend_named(GetParam());
  limited_backend->limit_device_memory(size_t{1} << 20);
  const Scores limited = score_dataset(d, config, *limited_backend);
  const std::vector<float> Scores::*outputs[5] = {&Scores::z, &Scores::z_local, &Scores::z_calibrated,
                                                 &Scores::z_accumulated, &Scores::z_baseline};
  const char* names[5] = {"z", "z_local", "z_calibrated", "z_accumulated", "z_baseline"};
  for (int o = 0; o < 5; ++o) {
    const std::vector<float>& a = whole.*outputs[o];
    const std::vector<float>& b = limited.*outputs[o];
    ASSERT_EQ(a.size(), b.size());
    size_t differ = 0, present = 0;
    for (size_t k = 0; k < a.size(); ++k) {
      present += !std::isnan(a[k]);
      differ += !(a[k] == b[k] || (std::isnan(a[k]) && std::isnan(b[k])));
    }
    EXPECT_GT(present, 0u) << names[o];
    EXPECT_EQ(differ, 0u) << names[o] << " differs between the whole and the chunked run";
  }
}

INSTANTIATE_TEST_SUITE_P(AllBackends, EvidenceParity, VIGIL_ALL_BACKENDS, [](const auto& info) {
  std::string n = info.param;
  for (char& ch : n)
    if (ch == '-') ch = '_';
  return n;
});

}  // namespace
}  // namespace vigil
