// Every built backend against the CPU reference, on random and realistic data (the ggml
// test-backend-ops idea). The CUDA instance skips when no GPU is present.
//
// Tolerances: the kernels are built with --fmad=false (CMakeLists.txt), as the CPU path is built
// without FMA contraction, and the per-point math calls no libm (its own log1p, expm1 and cbrt),
// so both backends should round alike; until a GPU run confirms that bit for bit, forecasts
// must agree within 1e-4 relative and z within 1e-3 relative (+1e-3 absolute); an outlier
// decision right at the threshold can flip and change a series' later state, so we require that
// at least 99.9 % of scored points agree, and that NaN (not scored) patterns agree exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>

#include "common/backends.hpp"
#include "common/synthetic.hpp"
#include "vigil/backend.hpp"
#include "vigil/events.hpp"
#include "vigil/pipeline.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

// The reference: forecast_point called series by series, time by time, single-threaded; the
// outputs in ForecastOutput's order. score_dataset's z is the forecast's, widened by the evidence
// stage while the model is young, so the reference widens it alike.
void scalar_reference(const Dataset& d, const Scores& s, std::vector<float> (&out)[6]) {
  const ForecastParams& p = s.params;
  const size_t N = d.N();
  for (auto& o : out) o.assign(d.T * N, 0);
  std::vector<float> st(static_cast<size_t>(state_floats(p)));
  const EventPlan& ev = s.events;
  const EvidenceParams young = make_evidence_params(Config{}.evidence, p);
  for (size_t i = 0; i < N; ++i) {
    StateRef state{st.data(), 1};
    init_state(p, state);
    EvidenceState age;
    evidence_init(young, age);
    const uint32_t n_events = ev.empty() ? 0 : ev.offsets[i + 1] - ev.offsets[i];
    for (size_t t = 0; t < d.T; ++t) {
      const PointScore r =
          forecast_point(p, state, clock_at(p, static_cast<int64_t>(t)), d.values[t * N + i], s.transform[i],
                         n_events ? ev.entries.data() + ev.offsets[i] : nullptr, n_events,
                         static_cast<uint32_t>(t), false);
      const float widen = young_widening(young, age, d.values[t * N + i]);
      const float values[6] = {r.forecast, r.z / widen, r.z_base / widen, r.z_derivative, r.z_volatility, r.scale};
      for (int o = 0; o < 6; ++o) out[o][t * N + i] = values[o];
    }
  }
}

class BackendParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = test::backend_named(GetParam());
    if (!backend_) GTEST_SKIP() << "no CUDA device: the CUDA backend is compiled but not run here";
  }

  void expect_parity(const Dataset& d, const EventSchedule* schedule = nullptr) {
    Scores s;
    s.want_scale = true;  // the scores file's band
    score_dataset_into(d, Config{}, *backend_, schedule, nullptr, s);
    if (schedule) ASSERT_FALSE(s.events.empty());
    std::vector<float> ref[6];
    scalar_reference(d, s, ref);
    const std::vector<float>* got[6] = {&s.forecast,      &s.z,           s.z_base.empty() ? nullptr : &s.z_base,
                                        &s.z_derivative, &s.z_volatility, &s.scale};
    const char* names[6] = {"forecast", "z", "z_base", "z_derivative", "z_volatility", "scale"};
    size_t scored = 0, agree = 0;
    for (size_t k = 0; k < ref[0].size(); ++k) {
      for (int o = 0; o < 6; ++o)
        if (got[o]) ASSERT_EQ(std::isnan(ref[o][k]), std::isnan((*got[o])[k])) << names[o] << " NaN pattern at " << k;
      if (std::isnan(ref[1][k])) continue;
      ++scored;
      bool ok = std::fabs(ref[0][k] - s.forecast[k]) <= 1e-4f * (1.0f + std::fabs(ref[0][k]));
      for (int o = 1; o < 6; ++o)
        if (got[o] && !std::isnan(ref[o][k]))
          ok = ok && std::fabs(ref[o][k] - (*got[o])[k]) <= 1e-3f * (1.0f + std::fabs(ref[o][k]));
      agree += ok;
    }
    ASSERT_GT(scored, 0u);
    EXPECT_GE(static_cast<double>(agree), 0.999 * static_cast<double>(scored))
        << agree << " of " << scored << " points agree on " << backend_->name();
  }

  std::unique_ptr<Backend> backend_;
};

TEST_P(BackendParity, RealisticTraffic) {
  Dataset d = test::make_traffic(300, 21, 900, 17);
  test::inject(d, 5, 16 * 96, 16 * 96 + 20, 0.4f);
  test::inject(d, 6, 17 * 96, 17 * 96 + 8, 3.0f);
  expect_parity(d);
}

TEST_P(BackendParity, RandomValuesGapsConstantsZerosAndHugeValues) {
  Dataset d = test::make_traffic(257, 9, 300, 23);  // N not a multiple of any block size
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0, 1);
  const size_t N = d.N();
  for (size_t t = 0; t < d.T; ++t)
    for (size_t i = 0; i < N; ++i) {
      float& v = d.values[t * N + i];
      switch (i % 8) {
        case 0: v = u(rng) * 1000.0f; break;                       // white noise
        case 1: v = 7.0f; break;                                   // constant
        case 2: v = 0.0f; break;                                   // zeros
        case 3: v = u(rng) < 0.3f ? NAN : v; break;                // gaps
        case 4: v = 1e30f * (1 + u(rng)); break;                   // huge
        case 5: v = u(rng) < 0.01f ? INFINITY : v; break;          // inf = missing
        case 6: v = (u(rng) - 0.5f) * 50.0f; break;                // negative: identity
        default: break;                                            // traffic
      }
    }
  for (size_t t = 0; t < d.T / 3; ++t) d.values[t * N + 7] = NAN;  // starts late
  expect_parity(d);
}

TEST_P(BackendParity, ScheduledEventsOverlappingAndUnknown) {
  Dataset d = test::make_traffic(130, 21, 900, 29);
  d.keys.dims = {"series"};
  for (size_t t = 12 * 96; t < 12 * 96 + 8; ++t)
    for (size_t i = 0; i < d.N(); i += 2) d.values[t * d.N() + i] *= 1.6f;
  // A recurring event on every series, one on some with an announced impact overlapping it, and
  // one whose effect is unknown (first occurrence, no impact).
  std::string csv = "event,start,end,scope,expected_impact\n";
  for (int day : {5, 9, 12, 16})
    csv += "match," + format_iso(d.time_at(day * 96 + 70)) + "," + format_iso(d.time_at(day * 96 + 80)) + ",*,\n";
  csv += "promo," + format_iso(d.time_at(12 * 96 + 72)) + "," + format_iso(d.time_at(12 * 96 + 90)) +
         ",series=s0001;series=s0002;series=s0003,0.3\n";
  csv += "surprise," + format_iso(d.time_at(18 * 96 + 10)) + "," + format_iso(d.time_at(18 * 96 + 20)) + ",*,\n";
  const EventSchedule schedule = parse_events(csv, "events.csv");
  expect_parity(d, &schedule);
}

TEST_P(BackendParity, SingleSeriesAndShortHistory) {
  expect_parity(test::make_traffic(1, 3, 3600, 2));
}

// The CPU backend's vector paths (SSE2, AVX2, AVX-512: whichever this machine has; VIGIL_CPU_ISA
// caps the choice) run the same float operations in the same order as the scalar step, with no
// FMA contraction: their outputs equal the reference's bit for bit, so results do not depend on
// the machine.
TEST(CpuVectorPaths, EqualTheScalarStepBitForBit) {
  Dataset d = test::make_traffic(257, 21, 900, 31);
  const size_t N = d.N();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0, 1);
  for (size_t t = 0; t < d.T; ++t)
    for (size_t i = 0; i < N; i += 5) {
      float& v = d.values[t * N + i];
      switch (i % 4) {
        case 0: v = u(rng) < 0.2f ? NAN : v; break;            // gaps
        case 1: v = std::floor(u(rng) * 6.0f); break;          // small counts
        case 2: v = (u(rng) - 0.5f) * 50.0f; break;           // negative: identity
        default: v = u(rng) < 0.002f ? v * 30.0f : v; break;  // spikes
      }
    }
  d.keys.dims = {"series"};
  std::string csv = "event,start,end,scope,expected_impact\n";
  for (int day : {5, 9, 12, 16})
    csv += "match," + format_iso(d.time_at(day * 96 + 70)) + "," + format_iso(d.time_at(day * 96 + 80)) + ",*,\n";
  csv += "surprise," + format_iso(d.time_at(18 * 96 + 10)) + "," + format_iso(d.time_at(18 * 96 + 20)) + ",*,\n";
  const EventSchedule schedule = parse_events(csv, "events.csv");
  const char* before = std::getenv("VIGIL_CPU_ISA");
  const std::string saved = before ? before : "";
  for (const char* cap : {"sse2", "avx2", ""}) {
    if (*cap) setenv("VIGIL_CPU_ISA", cap, 1);
    else unsetenv("VIGIL_CPU_ISA");
    auto backend = make_cpu_backend();
    Scores s;
    s.want_scale = true;
    score_dataset_into(d, Config{}, *backend, &schedule, nullptr, s);
    ASSERT_FALSE(s.events.empty());
    std::vector<float> want[6];
    scalar_reference(d, s, want);
    const std::vector<float>* got[6] = {&s.forecast, &s.z, &s.z_base, &s.z_derivative, &s.z_volatility, &s.scale};
    size_t differ = 0;
    for (int o = 0; o < 6; ++o)
      for (size_t k = 0; k < want[o].size(); ++k)
        differ += !(want[o][k] == (*got[o])[k] || (std::isnan(want[o][k]) && std::isnan((*got[o])[k])));
    EXPECT_EQ(differ, 0u) << "VIGIL_CPU_ISA=" << cap;
  }
  if (before) setenv("VIGIL_CPU_ISA", saved.c_str(), 1);
  else unsetenv("VIGIL_CPU_ISA");
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BackendParity, VIGIL_ALL_BACKENDS,
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace vigil
