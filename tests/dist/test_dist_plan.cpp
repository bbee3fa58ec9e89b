// The parts of a distributed run that need no MPI: which rank scores which series, the batches of
// one rank's share, and episodes as bytes and back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>

#include "common/synthetic.hpp"
#include "dist/dist.hpp"

namespace vigil {
namespace {

// Regions of unequal sizes: region r has r + 1 devices x 2 stacks.
Dataset uneven_regions(size_t regions) {
  Dataset d;
  d.keys.dims = {"region", "stack", "device"};
  d.keys.dictionary.resize(3);
  d.keys.index.resize(3);
  for (size_t r = 0; r < regions; ++r)
    for (size_t s = 0; s < 2; ++s)
      for (size_t k = 0; k <= r; ++k) {
        d.keys.codes.push_back(d.keys.intern(0, "r" + std::to_string(r)));
        d.keys.codes.push_back(d.keys.intern(1, "s" + std::to_string(s)));
        d.keys.codes.push_back(d.keys.intern(2, "d" + std::to_string(k)));
      }
  d.group_dim = "region";
  d.stack_dim = "stack";
  d.T = 10;
  return d;
}

TEST(DistAssign, EverySeriesOnceWholeGroupsBalanced) {
  const Dataset d = uneven_regions(20);  // 420 series in groups of 2..40
  for (int K : {1, 2, 3, 4, 7}) {
    const auto parts = dist::assign_series(d, true, K);
    ASSERT_EQ(parts.size(), static_cast<size_t>(K));
    std::vector<int> rank_of_series(d.N(), -1);
    std::vector<int> rank_of_group(20, -1);
    size_t largest = 0;
    for (int r = 0; r < K; ++r) {
      EXPECT_TRUE(std::is_sorted(parts[r].begin(), parts[r].end()));
      largest = std::max(largest, parts[r].size());
      for (uint32_t i : parts[r]) {
        EXPECT_EQ(rank_of_series[i], -1) << "series " << i << " on two ranks";
        rank_of_series[i] = r;
        const uint32_t g = d.keys.code(i, 0);
        if (rank_of_group[g] < 0) rank_of_group[g] = r;
        EXPECT_EQ(rank_of_group[g], r) << "group " << g << " split between ranks";
      }
    }
    EXPECT_EQ(std::count(rank_of_series.begin(), rank_of_series.end(), -1), 0);
    // Largest group first to the least-loaded rank: no rank is more than one group (40 series at
    // most) above the even share.
    EXPECT_LE(largest, d.N() / K + 40) << K << " ranks";
    if (K == 2) EXPECT_EQ(largest, d.N() / 2);  // 420 splits evenly here
    EXPECT_EQ(parts, dist::assign_series(d, true, K)) << "not deterministic";
  }
}

TEST(DistAssign, WithoutGroupsWholeMeansOneRankElseEvenRanges) {
  Dataset d = test::make_traffic(10, 1, 3600, 1);  // no group dimension
  auto whole = dist::assign_series(d, true, 3);
  EXPECT_EQ(whole[0].size(), 10u);
  EXPECT_TRUE(whole[1].empty() && whole[2].empty());
  auto ranges = dist::assign_series(d, false, 3);
  EXPECT_EQ(ranges[0], (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(ranges[1], (std::vector<uint32_t>{3, 4, 5}));
  EXPECT_EQ(ranges[2], (std::vector<uint32_t>{6, 7, 8, 9}));
  // More ranks than groups: the extra ranks score nothing.
  const Dataset two = uneven_regions(2);
  const auto spread = dist::assign_series(two, true, 4);
  EXPECT_EQ(std::count_if(spread.begin(), spread.end(), [](const auto& p) { return p.empty(); }), 2);
}

TEST(DistAssign, PlanOfOneRanksShareHoldsWholeGroupsOfItsSeries) {
  const Dataset d = uneven_regions(12);
  const auto parts = dist::assign_series(d, true, 3);
  for (const auto& mine : parts) {
    const auto plan = plan_batches(d, true, 30, &mine);
    std::vector<uint32_t> covered;
    for (const auto& batch : plan) {
      EXPECT_TRUE(std::is_sorted(batch.begin(), batch.end()));
      covered.insert(covered.end(), batch.begin(), batch.end());
      // Whole groups: every series of a group in the batch is in the batch.
      for (uint32_t i : batch)
        for (uint32_t j : mine)
          if (d.keys.code(i, 0) == d.keys.code(j, 0))
            EXPECT_TRUE(std::binary_search(batch.begin(), batch.end(), j));
    }
    std::sort(covered.begin(), covered.end());
    EXPECT_EQ(covered, mine);
  }
  EXPECT_TRUE(plan_batches(d, true, 30, nullptr).size() > 0);
  const std::vector<uint32_t> none;
  EXPECT_TRUE(plan_batches(d, true, 30, &none).empty());
}

TEST(DistEpisodes, RoundTripKeepsEveryField) {
  std::vector<Episode> v(3);
  v[0].series = 7;
  v[0].first = 100;
  v[0].last = 140;
  v[0].direction = Direction::Spike;
  v[0].peak_z = -7.5f;
  v[0].peak_t = 120;
  v[0].impact = 0.42f;
  v[0].points = 9;
  v[0].decision = "suppressed";
  v[0].reason = "external_event";
  v[0].alarm = 3;
  v[0].notice = 11;
  v[0].onset_z = 6.25f;
  v[0].breadth = 2;
  v[0].correlation = 0.5f;
  v[0].group_z = -3;
  v[0].derivative = 8;
  v[0].volatility = 1.5f;
  v[0].base_peak_z = -9;
  v[0].events = "derby;final";
  v[2].series = 4000000000u;
  const auto back = dist::decode_episodes(dist::encode_episodes(v));
  ASSERT_EQ(back.size(), 3u);
  const Episode& e = back[0];
  EXPECT_EQ(e.series, 7u);
  EXPECT_EQ(e.first, 100u);
  EXPECT_EQ(e.last, 140u);
  EXPECT_EQ(e.direction, Direction::Spike);
  EXPECT_EQ(e.peak_z, -7.5f);
  EXPECT_EQ(e.peak_t, 120u);
  EXPECT_EQ(e.impact, 0.42f);
  EXPECT_EQ(e.points, 9u);
  EXPECT_EQ(e.decision, "suppressed");
  EXPECT_EQ(e.reason, "external_event");
  EXPECT_EQ(e.alarm, 3);
  EXPECT_EQ(e.notice, 11);
  EXPECT_EQ(e.onset_z, 6.25f);
  EXPECT_EQ(e.breadth, 2.0f);
  EXPECT_EQ(e.correlation, 0.5f);
  EXPECT_EQ(e.group_z, -3.0f);
  EXPECT_EQ(e.derivative, 8.0f);
  EXPECT_EQ(e.volatility, 1.5f);
  EXPECT_EQ(e.base_peak_z, -9.0f);
  EXPECT_EQ(e.events, "derby;final");
  EXPECT_TRUE(std::isnan(back[1].onset_z));  // NaN evidence stays NaN
  EXPECT_EQ(back[1].decision, "raised");
  EXPECT_EQ(back[2].series, 4000000000u);
  std::string cut = dist::encode_episodes(v);
  cut.pop_back();
  EXPECT_THROW(dist::decode_episodes(cut), std::runtime_error);
}

TEST(DistDevice, LocalRankPicksOneOfTheVisibleGpus) {
  const char* before = std::getenv("CUDA_VISIBLE_DEVICES");
  const std::string saved = before ? before : "";
  ::setenv("CUDA_VISIBLE_DEVICES", "2,5,GPU-7f3a", 1);
  dist::select_local_device(4);  // the second process of the node's second round
  EXPECT_STREQ(std::getenv("CUDA_VISIBLE_DEVICES"), "5");
  ::setenv("CUDA_VISIBLE_DEVICES", "3", 1);  // the launcher chose already: kept
  dist::select_local_device(1);
  EXPECT_STREQ(std::getenv("CUDA_VISIBLE_DEVICES"), "3");
  if (before) ::setenv("CUDA_VISIBLE_DEVICES", saved.c_str(), 1);
  else ::unsetenv("CUDA_VISIBLE_DEVICES");
}

}  // namespace
}  // namespace vigil
