// Peer groups (include/vigil/peers.hpp): the layout, the cell aggregate, breadth and the rolling
// correlation on hand-made z; every built backend against a scalar double-precision reference;
// and the acceptance criterion on generated data (a power cut is broad, a stack- or device-
// confined malfunction is not).
//
// Tolerances of the parity suite: cell_z within 1e-5 relative (the backends sum in float, the
// reference in double); breadth exact, except at a point whose group has a cell_z within 1e-4 of
// +-deviating_z (a rounding difference may decide that cell); correlation within 1e-4 absolute.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/backends.hpp"
#include "common/test_util.hpp"
#include "vigil/backend.hpp"
#include "vigil/events.hpp"
#include "vigil/peers.hpp"
#include "vigil/pipeline.hpp"
#include "vigil/tools/scenario.hpp"

namespace vigil {
namespace {

// A dataset whose series have the given dimension values (one row per series); the values stay
// 0, the tests hand z to the stage directly.
Dataset keyed(const std::vector<std::string>& dims, const std::vector<std::vector<std::string>>& rows, size_t T = 1) {
  Dataset d;
  d.keys.dims = dims;
  d.keys.dictionary.resize(dims.size());
  d.keys.index.resize(dims.size());
  for (const auto& row : rows)
    for (size_t k = 0; k < dims.size(); ++k) d.keys.codes.push_back(d.keys.intern(k, row[k]));
  d.T = T;
  d.step = 60;
  d.values.assign(T * rows.size(), 0.0f);
  return d;
}

// region x stack x device, every combination, in that nesting order.
Dataset cube(const std::vector<std::string>& regions, const std::vector<std::string>& stacks, int devices, size_t T) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : regions)
    for (const auto& s : stacks)
      for (int k = 0; k < devices; ++k) rows.push_back({r, s, "d" + std::to_string(k)});
  return keyed({"region", "stack", "device"}, rows, T);
}

struct PeerResult {
  std::vector<float> cell_z, breadth, correlation;
};

PeerResult run_peers(Backend& backend, const PeerLayout& layout, const std::vector<float>& z, size_t T,
                     const PeerParams& params = PeerParams{}) {
  const size_t N = layout.order.size();
  PeerResult r;
  r.cell_z.assign(T * layout.cells(), -1.0f);
  r.breadth.assign(T * N, -1.0f);
  r.correlation.assign(T * N, -1.0f);
  backend.peers(params, PeerInput{z.data(), T, N, &layout},
                PeerOutput{r.cell_z.data(), r.breadth.data(), r.correlation.data()});
  return r;
}

PeerResult run_cpu(const PeerLayout& layout, const std::vector<float>& z, size_t T,
                   const PeerParams& params = PeerParams{}) {
  auto backend = make_cpu_backend();
  return run_peers(*backend, layout, z, T, params);
}

// Series of `d` whose value of dimension `dim` is `value`.
std::vector<size_t> where(const Dataset& d, const std::string& dim, const std::string& value) {
  std::vector<size_t> out;
  const int k = d.keys.dim_index(dim);
  for (size_t i = 0; i < d.N(); ++i)
    if (d.keys.value(i, k) == value) out.push_back(i);
  return out;
}

// ---- layout

TEST(PeerLayout, OrdersByGroupThenStackThenIndex) {
  // Regions and stacks get their codes in order of first appearance: eu before us, tv before web.
  const Dataset d = keyed({"metric", "stack", "region"}, {{"plays", "tv", "eu"},      // 0
                                                          {"plays", "web", "us"},     // 1
                                                          {"errors", "web", "eu"},    // 2
                                                          {"errors", "tv", "eu"},     // 3
                                                          {"plays", "web", "eu"},     // 4
                                                          {"errors", "web", "us"}});  // 5
  const PeerLayout l = make_peer_layout(d);
  EXPECT_EQ(l.order, (std::vector<uint32_t>{0, 3, 2, 4, 1, 5}));
  EXPECT_EQ(l.cell_offsets, (std::vector<uint32_t>{0, 2, 4, 6}));  // eu/tv, eu/web, us/web
  EXPECT_EQ(l.group_cell_offsets, (std::vector<uint32_t>{0, 2, 3}));
  EXPECT_EQ(l.group_of_cell, (std::vector<uint32_t>{0, 0, 1}));
  EXPECT_EQ(l.cell_of_series, (std::vector<uint32_t>{0, 2, 1, 0, 1, 2}));
  EXPECT_EQ(l.cells(), 3u);
  EXPECT_EQ(l.groups(), 2u);
}

TEST(PeerLayout, WithoutGroupDimensionEverySeriesIsInOneGroup) {
  Dataset d = keyed({"stack", "region"}, {{"web", "eu"}, {"tv", "us"}, {"web", "us"}});
  d.group_dim.clear();
  const PeerLayout l = make_peer_layout(d);
  EXPECT_EQ(l.order, (std::vector<uint32_t>{0, 2, 1}));
  EXPECT_EQ(l.cell_offsets, (std::vector<uint32_t>{0, 2, 3}));
  EXPECT_EQ(l.group_cell_offsets, (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(l.cell_of_series, (std::vector<uint32_t>{0, 1, 0}));
}

TEST(PeerLayout, WithoutStackDimensionEverySeriesIsItsOwnStack) {
  Dataset d = keyed({"stack", "region"}, {{"web", "us"}, {"tv", "eu"}, {"web", "us"}});
  d.stack_dim.clear();
  const PeerLayout l = make_peer_layout(d);
  EXPECT_EQ(l.order, (std::vector<uint32_t>{0, 2, 1}));  // us first: it appeared first
  EXPECT_EQ(l.cell_offsets, (std::vector<uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(l.group_cell_offsets, (std::vector<uint32_t>{0, 2, 3}));
  EXPECT_EQ(l.group_of_cell, (std::vector<uint32_t>{0, 0, 1}));
  EXPECT_EQ(l.cell_of_series, (std::vector<uint32_t>{0, 2, 1}));
}

TEST(PeerLayout, WithoutEitherDimensionOneGroupOfSingletons) {
  Dataset d = keyed({"series"}, {{"a"}, {"b"}, {"c"}});
  d.group_dim.clear();
  d.stack_dim = "no_such_column";  // a role naming a missing dimension counts as absent
  const PeerLayout l = make_peer_layout(d);
  EXPECT_EQ(l.order, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(l.cell_offsets, (std::vector<uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(l.group_cell_offsets, (std::vector<uint32_t>{0, 3}));
}

TEST(PeerLayout, EmptyDatasetHasNoCells) {
  const PeerLayout l = make_peer_layout(keyed({"stack", "region"}, {}));
  EXPECT_EQ(l.cells(), 0u);
  EXPECT_EQ(l.groups(), 0u);
}

// ---- cell_z and breadth on hand-made z

TEST(Peers, CellZIsTheClippedMeanOfTheScoredMembers) {
  // eu/web: series 0..2; eu/tv: series 3..4.
  const Dataset d =
      keyed({"region", "stack", "device"},
            {{"eu", "web", "a"}, {"eu", "web", "b"}, {"eu", "web", "c"}, {"eu", "tv", "a"}, {"eu", "tv", "b"}});
  const PeerLayout l = make_peer_layout(d);
  const float nan = NAN;
  const std::vector<float> z = {12,  -1,  nan, -7,  -3,  // web (5 - 1) / 2, tv (-5 - 3) / 2
                                nan, nan, nan, 1,   2,   // web: none scored
                                -20, -20, 20,  nan, 4};  // web -5 / 3, tv 4
  const PeerResult r = run_cpu(l, z, 3);
  ASSERT_EQ(l.cells(), 2u);
  EXPECT_FLOAT_EQ(r.cell_z[0], 2.0f);
  EXPECT_FLOAT_EQ(r.cell_z[1], -4.0f);
  EXPECT_TRUE(std::isnan(r.cell_z[2]));
  EXPECT_FLOAT_EQ(r.cell_z[3], 1.5f);
  EXPECT_FLOAT_EQ(r.cell_z[4], -5.0f / 3.0f);
  EXPECT_FLOAT_EQ(r.cell_z[5], 4.0f);
  // Breadth follows the sign of the series' own z; an undefined cell deviates no way.
  EXPECT_EQ(r.breadth[0], 0.0f);  // z > 0, tv deviates down
  EXPECT_EQ(r.breadth[1], 1.0f);  // z < 0, tv deviates down
  EXPECT_TRUE(std::isnan(r.breadth[2]));
  EXPECT_TRUE(std::isnan(r.correlation[2]));
  EXPECT_EQ(r.breadth[5 + 3], 0.0f);   // web's cell_z is NaN
  EXPECT_EQ(r.breadth[10 + 2], 1.0f);  // z = 20 > 0, tv deviates up
  EXPECT_EQ(r.breadth[10 + 4], 0.0f);  // its own cell deviates up, web (-5/3) does not
}

TEST(Peers, BreadthSeparatesRegionWideFromConfinedDrops) {
  const std::vector<std::string> stacks = {"web", "mobile", "tv", "console"};
  const size_t T = 50;
  const Dataset d = cube({"eu", "us"}, stacks, 4, T);
  const size_t N = d.N();
  const PeerLayout l = make_peer_layout(d);
  // Background noise: a cell's mean of four members never comes near 2.5.
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.7f);
  std::vector<float> z(T * N);
  for (float& v : z) v = noise(rng);
  const auto eu = where(d, "region", "eu");
  const auto in_eu = [&](size_t i) { return d.keys.value(i, 0) == "eu"; };
  const auto set = [&](size_t t, size_t i, float v) { z[t * N + i] = v; };

  // t = 10: a power cut, every stack of eu drops; one eu series happens to sit at exactly 0.
  for (size_t i : eu) set(10, i, -8.0f);
  set(10, eu[5], 0.0f);
  // t = 20: a malfunction of eu/web alone.
  for (size_t i : eu)
    if (d.keys.value(i, 1) == "web") set(20, i, -8.0f);
  // t = 30: the d0 app breaks on every stack: one member in four of each cell.
  for (size_t i : where(d, "device", "d0")) set(30, i, -8.0f);
  // t = 40: web and mobile drop in eu while tv surges.
  for (size_t i : eu) {
    const std::string& stack = d.keys.value(i, 1);
    if (stack == "web" || stack == "mobile") set(40, i, -8.0f);
    if (stack == "tv") set(40, i, 8.0f);
  }

  const PeerResult r = run_cpu(l, z, T);
  const auto breadth = [&](size_t t, size_t i) { return r.breadth[t * N + i]; };
  for (size_t i = 0; i < N; ++i) {
    SCOPED_TRACE(d.keys.describe(i));
    const std::string& stack = d.keys.value(i, 1);
    if (in_eu(i) && i != eu[5]) {
      EXPECT_EQ(breadth(10, i), 3.0f);
    }
    if (!in_eu(i)) {
      EXPECT_EQ(breadth(10, i), 0.0f);
    }
    if (in_eu(i) && stack == "web") {
      EXPECT_EQ(breadth(20, i), 0.0f);
    }
    if (d.keys.value(i, 2) == "d0") {
      EXPECT_LE(breadth(30, i), 1.0f);
    }
    if (in_eu(i) && (stack == "web" || stack == "mobile")) {
      EXPECT_EQ(breadth(40, i), 1.0f);
    }
    if (in_eu(i) && stack == "tv") {
      EXPECT_EQ(breadth(40, i), 0.0f);
    }
    for (size_t t : {0, 5, 25, 49}) {  // quiet steps
      EXPECT_EQ(breadth(t, i), 0.0f);
    }
  }
  EXPECT_EQ(breadth(10, eu[5]), 0.0f);  // z == 0 points no way
}

TEST(Peers, CorrelationFollowsTheOtherStacksSignal) {
  // eu: web holds the three series under test; the other stacks all follow one signal s(t).
  // solo: a region with a single stack, which has no other stack to correlate with.
  std::vector<std::vector<std::string>> rows = {
      {"eu", "web", "follows"}, {"eu", "web", "independent"}, {"eu", "web", "opposes"}};
  for (const char* stack : {"mobile", "tv", "console"})
    for (int k = 0; k < 3; ++k) rows.push_back({"eu", stack, "d" + std::to_string(k)});
  rows.push_back({"solo", "web", "d0"});
  const size_t T = 600, N = rows.size();
  const Dataset d = keyed({"region", "stack", "device"}, rows, T);
  const PeerLayout l = make_peer_layout(d);

  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> z(T * N);
  for (size_t t = 0; t < T; ++t) {
    const float s =
        2.0f * std::sin(2.0f * static_cast<float>(M_PI) * static_cast<float>(t) / 25.0f) + 0.5f * normal(rng);
    float* row = z.data() + t * N;
    row[0] = s + 0.3f * normal(rng);
    row[1] = 1.5f * normal(rng);
    row[2] = -s + 0.3f * normal(rng);
    for (size_t i = 3; i < N; ++i) row[i] = s + 0.3f * normal(rng);
  }
  PeerParams params;
  params.correlation_rate = 0.02f;  // a window of ~50 steps: tight estimates
  const PeerResult r = run_cpu(l, z, T, params);
  const auto corr = [&](size_t t, size_t i) { return r.correlation[t * N + i]; };

  // Undefined until a full window (1 / rate = 50 valid steps) has been seen.
  for (size_t t = 0; t < 49; ++t) {
    EXPECT_TRUE(std::isnan(corr(t, 0))) << t;
  }
  EXPECT_FALSE(std::isnan(corr(49, 0)));
  double independent_sum = 0;
  for (size_t t = 100; t < T; ++t) {
    EXPECT_GT(corr(t, 0), 0.9f) << t;
    EXPECT_LT(corr(t, 2), -0.9f) << t;
    EXPECT_LT(std::fabs(corr(t, 1)), 0.6f) << t;
    independent_sum += corr(t, 1);
    EXPECT_TRUE(std::isnan(corr(t, N - 1)));  // solo: no other stack
  }
  EXPECT_LT(std::fabs(independent_sum / static_cast<double>(T - 100)), 0.15);
}

// ---- every backend against the reference

// The definitions of peers.hpp spelt out directly, in double precision, one point at a time.
PeerResult reference(const PeerParams& p, const PeerLayout& l, const std::vector<float>& z, size_t T) {
  const size_t N = l.order.size(), C = l.cells();
  std::vector<double> cell(T * C);
  for (size_t t = 0; t < T; ++t)
    for (size_t c = 0; c < C; ++c) {
      double sum = 0;
      int valid = 0;
      for (size_t i = 0; i < N; ++i) {
        const float v = z[t * N + i];
        if (l.cell_of_series[i] != c || std::isnan(v)) continue;
        sum += std::clamp<double>(v, -p.clip_z, p.clip_z);
        ++valid;
      }
      cell[t * C + c] = valid ? sum / valid : NAN;
    }
  PeerResult r;
  r.cell_z.assign(cell.begin(), cell.end());
  r.breadth.assign(T * N, NAN);
  r.correlation.assign(T * N, NAN);
  for (size_t i = 0; i < N; ++i) {
    const uint32_t own = l.cell_of_series[i], group = l.group_of_cell[own];
    float steps = 0;  // settled when steps * rate >= 1 in float, as documented
    double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
    for (size_t t = 0; t < T; ++t) {
      const float v = z[t * N + i];
      if (std::isnan(v)) continue;
      int breadth = 0, others = 0;
      double others_sum = 0;
      for (size_t c = 0; c < C; ++c) {
        const double cz = cell[t * C + c];
        if (c == own || l.group_of_cell[c] != group || std::isnan(cz)) continue;
        breadth += (v > 0 && cz >= p.deviating_z) || (v < 0 && cz <= -p.deviating_z);
        others_sum += cz;
        ++others;
      }
      r.breadth[t * N + i] = static_cast<float>(breadth);
      if (others > 0) {  // one step of the EW moments, the rate settling from 1/steps to its own
        const double x = std::clamp<double>(v, -p.clip_z, p.clip_z), y = others_sum / others;
        steps += 1;
        const double a = steps * p.correlation_rate >= 1.0f ? p.correlation_rate : 1.0 / steps;
        const double dx = x - mx, dy = y - my;
        mx += a * dx;
        my += a * dy;
        sxx = (1 - a) * (sxx + a * dx * dx);
        syy = (1 - a) * (syy + a * dy * dy);
        sxy = (1 - a) * (sxy + a * dx * dy);
      }
      if (steps * p.correlation_rate >= 1.0f && sxx >= kPeerMinVariance && syy >= kPeerMinVariance)
        r.correlation[t * N + i] = static_cast<float>(sxy / std::sqrt(sxx * syy));
    }
  }
  return r;
}

// Uneven groups: big and small cells, single-member cells, a region with one stack, a series
// that is never scored, shuffled input order; z with gaps, huge values, all-NaN steps and
// region-wide shifts that make cells deviate.
struct RandomCase {
  Dataset data;
  std::vector<float> z;
};

RandomCase random_case(size_t N, size_t T, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < N; ++i) {
    const int region = static_cast<int>(u(rng) * 7);
    const int stack = region == 6 ? 0 : region == 5 ? static_cast<int>(i % 4) : static_cast<int>(u(rng) * u(rng) * 4);
    rows.push_back({"r" + std::to_string(region), "s" + std::to_string(stack), "id" + std::to_string(i)});
  }
  RandomCase c{keyed({"region", "stack", "id"}, rows, T), {}};
  c.z.resize(T * N);
  std::vector<float> shift(7);
  for (size_t t = 0; t < T; ++t) {
    const bool all_missing = t % 97 == 13;
    for (float& s : shift) s = u(rng) < 0.1f ? (u(rng) < 0.5f ? -6.0f : 6.0f) : 0.0f;
    for (size_t i = 0; i < N; ++i) {
      float v = 2.0f * normal(rng) + shift[c.data.keys.code(i, 0)];
      if (u(rng) < 0.1f || all_missing || i == 17) v = NAN;
      if (u(rng) < 0.01f) v = (u(rng) < 0.5f ? -1e6f : 1e6f);
      c.z[t * N + i] = v;
    }
  }
  return c;
}

class PeerParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = test::backend_named(GetParam());
    if (!backend_) GTEST_SKIP() << "no CUDA device: the CUDA backend is compiled but not run here";
  }

  static void expect_matches_reference(const PeerParams& p, const PeerLayout& l, const std::vector<float>& z, size_t T,
                                       const PeerResult& got) {
    const PeerResult want = reference(p, l, z, T);
    const size_t N = l.order.size(), C = l.cells();
    for (size_t k = 0; k < want.cell_z.size(); ++k) {
      ASSERT_EQ(std::isnan(want.cell_z[k]), std::isnan(got.cell_z[k])) << "cell_z at " << k;
      if (!std::isnan(want.cell_z[k])) {
        ASSERT_NEAR(got.cell_z[k], want.cell_z[k], 1e-5 * (1 + std::fabs(want.cell_z[k]))) << "cell_z at " << k;
      }
    }
    size_t checked = 0, borderline = 0, correlated = 0;
    for (size_t t = 0; t < T; ++t)
      for (size_t i = 0; i < N; ++i) {
        const size_t k = t * N + i;
        ASSERT_EQ(std::isnan(want.breadth[k]), std::isnan(got.breadth[k])) << "breadth at t=" << t << " i=" << i;
        ASSERT_EQ(std::isnan(want.correlation[k]), std::isnan(got.correlation[k]))
            << "correlation at t=" << t << " i=" << i;
        if (!std::isnan(want.correlation[k])) {
          ASSERT_NEAR(got.correlation[k], want.correlation[k], 1e-4) << "t=" << t << " i=" << i;
          ++correlated;
        }
        if (std::isnan(want.breadth[k])) continue;
        bool near_threshold = false;
        const uint32_t group = l.group_of_cell[l.cell_of_series[i]];
        for (size_t c = 0; c < C; ++c)
          near_threshold |=
              l.group_of_cell[c] == group && std::fabs(std::fabs(want.cell_z[t * C + c]) - p.deviating_z) < 1e-4f;
        if (near_threshold) {
          ++borderline;
          continue;
        }
        ASSERT_EQ(got.breadth[k], want.breadth[k]) << "t=" << t << " i=" << i;
        ++checked;
      }
    EXPECT_GT(checked, T * N / 2);
    EXPECT_LT(borderline, checked / 100 + 1);
    EXPECT_GT(correlated, T * N / 2);
  }

  std::unique_ptr<Backend> backend_;
};

TEST_P(PeerParity, RandomZWithGapsAndUnevenGroups) {
  const size_t N = 701, T = 400;
  const RandomCase c = random_case(N, T, 7);
  const PeerLayout l = make_peer_layout(c.data);
  ASSERT_EQ(l.groups(), 7u);
  for (const float rate : {0.1f, 0.5f}) {
    PeerParams p;
    p.correlation_rate = rate;
    SCOPED_TRACE(rate);
    expect_matches_reference(p, l, c.z, T, run_peers(*backend_, l, c.z, T, p));
  }
  size_t deviating = 0;
  const PeerResult r = run_peers(*backend_, l, c.z, T);
  for (float b : r.breadth) deviating += b >= 1;
  EXPECT_GT(deviating, T * N / 50) << "the case should exercise breadth";
}

TEST_P(PeerParity, SingletonCellsWithoutStackDimension) {
  const size_t N = 300, T = 120;
  RandomCase c = random_case(N, T, 8);
  c.data.stack_dim.clear();
  const PeerLayout l = make_peer_layout(c.data);
  ASSERT_EQ(l.cells(), N);
  expect_matches_reference(PeerParams{}, l, c.z, T, run_peers(*backend_, l, c.z, T));
}

TEST_P(PeerParity, CausalOutputsDoNotDependOnLaterSteps) {
  const size_t N = 257, T = 300, t0 = 150;
  const RandomCase c = random_case(N, T, 9);
  const PeerLayout l = make_peer_layout(c.data);
  const PeerResult before = run_peers(*backend_, l, c.z, T);
  RandomCase later = random_case(N, T, 10);
  std::vector<float> z = c.z;
  std::copy(later.z.begin() + (t0 + 1) * N, later.z.end(), z.begin() + (t0 + 1) * N);
  const PeerResult after = run_peers(*backend_, l, z, T);
  const size_t C = l.cells();
  const auto same_bits = [](const float* a, const float* b, size_t n) {
    return std::memcmp(a, b, n * sizeof(float)) == 0;
  };
  EXPECT_TRUE(same_bits(before.cell_z.data(), after.cell_z.data(), (t0 + 1) * C));
  EXPECT_TRUE(same_bits(before.breadth.data(), after.breadth.data(), (t0 + 1) * N));
  EXPECT_TRUE(same_bits(before.correlation.data(), after.correlation.data(), (t0 + 1) * N));
  EXPECT_FALSE(same_bits(before.correlation.data(), after.correlation.data(), T * N));
}

TEST_P(PeerParity, EmptyInputsAreNoOps) {
  const PeerLayout none = make_peer_layout(keyed({"region", "stack"}, {}));
  EXPECT_NO_THROW(run_peers(*backend_, none, {}, 10));
  const RandomCase c = random_case(5, 1, 1);
  const PeerLayout l = make_peer_layout(c.data);
  EXPECT_NO_THROW(run_peers(*backend_, l, {}, 0));
}

TEST_P(PeerParity, RejectsALayoutOfAnotherDataset) {
  const RandomCase c = random_case(20, 4, 1);
  const PeerLayout l = make_peer_layout(random_case(21, 4, 1).data);
  std::vector<float> cell(4 * l.cells()), breadth(4 * 20), corr(4 * 20);
  EXPECT_THROW(backend_->peers(PeerParams{}, PeerInput{c.z.data(), 4, 20, &l},
                               PeerOutput{cell.data(), breadth.data(), corr.data()}),
               std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, PeerParity, VIGIL_ALL_BACKENDS,
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

#ifdef VIGIL_HAVE_CUDA
// The CUDA backend moves z in chunks of time steps; the correlation state must carry over.
TEST(PeerParityCuda, ChunksOfTimeStepsGiveTheSameResult) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const size_t N = 333, T = 257;
  const RandomCase c = random_case(N, T, 12);
  const PeerLayout l = make_peer_layout(c.data);
  const PeerResult whole = run_cpu(l, c.z, T);
  for (size_t chunk : {1, 7, 100}) {
    SCOPED_TRACE(chunk);
    PeerResult r{std::vector<float>(T * l.cells()), std::vector<float>(T * N), std::vector<float>(T * N)};
    peers_cuda(PeerParams{}, PeerInput{c.z.data(), T, N, &l},
               PeerOutput{r.cell_z.data(), r.breadth.data(), r.correlation.data()}, chunk);
    EXPECT_EQ(std::memcmp(r.cell_z.data(), whole.cell_z.data(), r.cell_z.size() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(r.breadth.data(), whole.breadth.data(), r.breadth.size() * sizeof(float)), 0);
    for (size_t k = 0; k < T * N; ++k) {
      ASSERT_EQ(std::isnan(whole.correlation[k]), std::isnan(r.correlation[k])) << k;
      if (!std::isnan(whole.correlation[k])) {
        ASSERT_NEAR(r.correlation[k], whole.correlation[k], 1e-5) << k;
      }
    }
  }
}

// As the forecast's limit test (test_streaming.cpp): a device with room for about two time steps
// of this input at a time, through the Backend interface; the peers page through it.
TEST(PeerParityCuda, AMemoryLimitGivesTheSameResult) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const size_t N = 333, T = 257;
  const RandomCase c = random_case(N, T, 13);
  const PeerLayout l = make_peer_layout(c.data);
  const PeerResult whole = run_cpu(l, c.z, T);
  auto backend = make_backend("cuda");
  backend->limit_device_memory(64 * 1024);
  PeerResult r{std::vector<float>(T * l.cells()), std::vector<float>(T * N), std::vector<float>(T * N)};
  backend->peers(PeerParams{}, PeerInput{c.z.data(), T, N, &l},
                 PeerOutput{r.cell_z.data(), r.breadth.data(), r.correlation.data()});
  EXPECT_EQ(std::memcmp(r.cell_z.data(), whole.cell_z.data(), r.cell_z.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(r.breadth.data(), whole.breadth.data(), r.breadth.size() * sizeof(float)), 0);
  for (size_t k = 0; k < T * N; ++k) {
    ASSERT_EQ(std::isnan(whole.correlation[k]), std::isnan(r.correlation[k])) << k;
    if (!std::isnan(whole.correlation[k])) {
      ASSERT_NEAR(r.correlation[k], whole.correlation[k], 1e-5) << k;
    }
  }
}
#endif

// ---- acceptance on generated data: the forecast stage's z through the peer stage
//
// At the onset of a power cut (external_high: a sudden drop of every stack in one region) the
// affected series see the other three stacks deviate with them; at the onset of a malfunction
// of one stack in one region, or of one device family, they do not (median breadth <= 1).
// Scored without the event schedule, a stack malfunction placed inside the weekly derby sees
// the other stacks deviate too (viewers leave them for the broadcast): true, and explained by
// the events mechanism, so the check runs on z scored with the schedule, as `vigil score
// --events` does; the power cuts are also checked on z scored without it.

// Median breadth over the scored series in a truth record's scope at its first step (NaN when
// none is scored there yet).
double onset_breadth(const Dataset& d, const TruthRecord& record, const std::vector<float>& breadth) {
  const size_t t0 = static_cast<size_t>((record.start - d.start) / d.step), N = d.N();
  std::vector<float> values;
  for (size_t i = 0; i < N; ++i) {
    bool in_scope = true;
    for (const auto& [dim, allowed] : record.scope) {
      const std::string& v = d.keys.value(i, d.keys.dim_index(dim));
      in_scope = in_scope && std::find(allowed.begin(), allowed.end(), v) != allowed.end();
    }
    if (in_scope && !std::isnan(breadth[t0 * N + i])) values.push_back(breadth[t0 * N + i]);
  }
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const size_t m = values.size() / 2;
  return values.size() % 2 ? values[m] : 0.5 * (values[m - 1] + values[m]);
}

std::string join(const std::vector<double>& values) {
  std::string out;
  for (double v : values) {
    char text[32];
    std::snprintf(text, sizeof text, "%s%.1f", out.empty() ? "" : " ", v);
    out += text;
  }
  return out;
}

TEST(PeersOnGeneratedData, PowerCutsAreBroadConfinedMalfunctionsAreNot) {
  GenerateOptions options;
  options.shape = parse_shape("metric=2,stack=4,device=4,region=6");  // play_starts, active_sessions
  options.days = 16;
  options.step = 900;
  auto backend = make_cpu_backend();
  std::vector<double> power_cuts, power_cuts_without_schedule, confined;
  for (uint64_t seed : {1, 2, 3, 4}) {
    options.seed = seed;
    const Scenario scenario = generate_scenario(options);
    const Dataset& d = scenario.data;
    const EventSchedule schedule = parse_events(scenario.events_csv, "generated events.csv");
    const PeerLayout layout = make_peer_layout(d);
    const PeerResult with_schedule =
        run_peers(*backend, layout, score_dataset(d, Config{}, *backend, &schedule).z, d.T);
    const PeerResult without_schedule = run_peers(*backend, layout, score_dataset(d, Config{}, *backend).z, d.T);
    for (const TruthRecord& record : scenario.truth) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " " + record.name);
      const double median = onset_breadth(d, record, with_schedule.breadth);
      if (std::isnan(median)) continue;  // inside the forecast's learning phase: not scored
      const bool stack_region =
          record.scope.count("stack") && record.scope.count("region") && !record.scope.count("device");
      const bool device_family = record.scope.count("device") && !record.scope.count("stack");
      if (record.kind == "external_high") {
        power_cuts.push_back(median);
        EXPECT_GE(median, 2.0);
        power_cuts_without_schedule.push_back(onset_breadth(d, record, without_schedule.breadth));
        EXPECT_GE(power_cuts_without_schedule.back(), 2.0);
      } else if (record.kind == "incident" && (stack_region || device_family)) {
        confined.push_back(median);
        EXPECT_LE(median, 1.0);
      }
    }
  }
  EXPECT_GE(power_cuts.size(), 6u);
  EXPECT_GE(confined.size(), 10u);
  std::printf(
      "median onset breadth: power cuts %s (without the schedule %s); stack- or device-confined "
      "malfunctions %s\n",
      join(power_cuts).c_str(), join(power_cuts_without_schedule).c_str(), join(confined).c_str());
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// The CPU's vectorised series loop (peers.cpp) against peer_step itself, the per-point function
// the CUDA kernel runs, series by series: the same operations in the same order, so the same bits.
TEST(PeerCpu, TheVectorisedSeriesLoopIsPeerStepToTheBit) {
  const size_t N = 701, T = 400;
  const RandomCase c = random_case(N, T, 11);
  const PeerLayout l = make_peer_layout(c.data);
  PeerParams p;
  p.correlation_rate = 0.2f;
  auto cpu = make_cpu_backend(2);
  const PeerResult r = run_peers(*cpu, l, c.z, T, p);
  const size_t C = l.cells(), G = l.groups();
  std::vector<CorrelationState> state(N, correlation_init());
  for (size_t t = 0; t < T; ++t) {
    const float* cell_row = r.cell_z.data() + t * C;
    for (size_t i = 0; i < N; ++i) {
      const uint32_t cell = l.cell_of_series[i], g = l.group_of_cell[cell];
      ASSERT_LT(g, G);
      const GroupContext context =
          group_context(cell_row, l.group_cell_offsets[g], l.group_cell_offsets[g + 1], p.deviating_z);
      const PeerPoint want = peer_step(p, context, cell_row[cell], c.z[t * N + i], state[i]);
      const float got_b = r.breadth[t * N + i], got_c = r.correlation[t * N + i];
      ASSERT_EQ(std::memcmp(&want.breadth, &got_b, sizeof(float)), 0) << "breadth t=" << t << " i=" << i;
      ASSERT_EQ(std::memcmp(&want.correlation, &got_c, sizeof(float)), 0) << "correlation t=" << t << " i=" << i;
    }
  }
}

}  // namespace
}  // namespace vigil
