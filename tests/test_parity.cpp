// Every built backend against the CPU reference, on random and realistic data (the ggml
// test-backend-ops idea). The CUDA instance skips when no GPU is present.
//
// Tolerances: the GPU's log1pf/expm1f/division differ from glibc's by a few ulp, so forecasts
// must agree within 1e-4 relative and z within 1e-3 relative (+1e-3 absolute); an outlier
// decision right at the threshold can flip and change a series' later state, so we require that
// at least 99.9 % of scored points agree, and that NaN (not scored) patterns agree exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "synthetic.hpp"
#include "vigil/backend.hpp"
#include "vigil/pipeline.hpp"

namespace vigil {
namespace {

std::unique_ptr<Backend> backend_named(const std::string& name) {
  if (name == "cuda") return cuda_device_count() > 0 ? make_backend("cuda") : nullptr;
  return make_cpu_backend(name == "cpu-1thread" ? 1 : 0);
}

class BackendParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = backend_named(GetParam());
    if (!backend_) GTEST_SKIP() << "no CUDA device: the CUDA backend is compiled but not run here";
  }

  // The reference: forecast_step called series by series, time by time, single-threaded.
  static void reference(const ForecastParams& p, const Dataset& d, const std::vector<uint8_t>& transform,
                        std::vector<float>& f, std::vector<float>& z) {
    const size_t N = d.N();
    f.assign(d.T * N, 0);
    z.assign(d.T * N, 0);
    std::vector<float> st(static_cast<size_t>(state_floats(p)));
    for (size_t i = 0; i < N; ++i) {
      StateRef s{st.data(), 1};
      init_state(p, s);
      for (size_t t = 0; t < d.T; ++t) {
        const PointScore r = forecast_step(p, s, clock_at(p, static_cast<int64_t>(t)), d.values[t * N + i], transform[i]);
        f[t * N + i] = r.forecast;
        z[t * N + i] = r.z;
      }
    }
  }

  void expect_parity(const Dataset& d, const Config& c = Config{}) {
    const Scores s = score_dataset(d, c, *backend_);
    std::vector<float> f, z;
    reference(s.params, d, s.transform, f, z);
    size_t scored = 0, agree = 0;
    for (size_t k = 0; k < f.size(); ++k) {
      ASSERT_EQ(std::isnan(f[k]), std::isnan(s.forecast[k])) << "forecast NaN pattern differs at " << k;
      ASSERT_EQ(std::isnan(z[k]), std::isnan(s.z[k])) << "z NaN pattern differs at " << k;
      if (std::isnan(z[k])) continue;
      ++scored;
      const bool f_ok = std::fabs(f[k] - s.forecast[k]) <= 1e-4f * (1.0f + std::fabs(f[k]));
      const bool z_ok = std::fabs(z[k] - s.z[k]) <= 1e-3f * (1.0f + std::fabs(z[k]));
      agree += f_ok && z_ok;
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

TEST_P(BackendParity, SingleSeriesAndShortHistory) {
  expect_parity(test::make_traffic(1, 3, 3600, 2));
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BackendParity, ::testing::Values("cpu", "cpu-1thread", "cuda"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace vigil
