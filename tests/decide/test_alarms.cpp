// Candidate episodes and grouping along the dimension lattice, on hand-made z, and the
// forecast-only detector end to end on realistic traffic with injected incidents.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "common/synthetic.hpp"
#include "common/test_util.hpp"
#include "vigil/alarms.hpp"
#include "vigil/run.hpp"
#include "vigil/tools/scenario.hpp"

namespace vigil {
namespace {

// A cube of metric x device x region keys with flat values, for grouping tests.
Dataset lattice(int metrics, int devices, int regions, size_t T) {
  Dataset d;
  std::vector<std::string> device_names = test::numbered("dev", devices);
  device_names[0] = "roku";
  d.keys = test::cartesian_keys(
      {{"metric", test::numbered("m", metrics)}, {"device", device_names}, {"region", test::numbered("r", regions)}});
  d.start = 1772409600;
  d.step = 300;
  d.T = T;
  d.values.assign(T * d.N(), 100.0f);
  return d;
}

Scores flat_scores(const Dataset& d, Direction dir = Direction::Both) {
  Scores s;
  const size_t N = d.N();
  s.transform.assign(N, kCount);
  s.direction.assign(N, static_cast<uint8_t>(dir));
  s.threshold.assign(N, 5.0f);
  s.forecast.assign(d.T * N, std::log1p(100.0f));
  s.z.assign(d.T * N, 0.5f);
  return s;
}

// Sets z over [t0, t1) and a value that moves with it (5 % of the forecast's 100 per unit of
// z), so that the episode's relative change is material.
void set_z(Dataset& d, Scores& s, size_t series, size_t t0, size_t t1, float z) {
  for (size_t t = t0; t < t1; ++t) {
    s.z[t * d.N() + series] = z;
    d.values[t * d.N() + series] = std::max(0.0f, 100.0f * (1.0f + 0.05f * z));
  }
}

Config config_with_min_duration(double minutes) {
  Config c;
  c.detection.min_duration_minutes = minutes;
  return c;
}

TEST(Episodes, RunsMergeShortGapsAndRespectMinimumDuration) {
  Dataset d = lattice(1, 1, 4, 100);
  Scores s = flat_scores(d);
  set_z(d, s, 0, 10, 14, -7.0f);  // 4 points
  set_z(d, s, 0, 16, 18, -6.0f);  // after a 2-point gap: merged (merge_gap_points = 2)
  set_z(d, s, 1, 10, 11, -9.0f);  // a single point: shorter than the minimum duration
  set_z(d, s, 2, 10, 13, -8.0f);  // 3 points...
  set_z(d, s, 2, 16, 19, -8.0f);  // ...then a 3-point gap: two episodes
  set_z(d, s, 3, 30, 33, 8.0f);   // a spike
  const auto eps = find_episodes(d, s, config_with_min_duration(10), 0);
  ASSERT_EQ(eps.size(), 4u);
  EXPECT_EQ(eps[0].series, 0u);
  EXPECT_EQ(eps[0].first, 10u);
  EXPECT_EQ(eps[0].last, 17u);
  EXPECT_EQ(eps[0].points, 6u);
  EXPECT_EQ(eps[0].peak_z, -7.0f);
  EXPECT_EQ(eps[0].direction, Direction::Drop);
  EXPECT_EQ(eps[1].series, 2u);
  EXPECT_EQ(eps[1].last, 12u);
  EXPECT_EQ(eps[2].series, 2u);
  EXPECT_EQ(eps[2].first, 16u);
  EXPECT_EQ(eps[3].direction, Direction::Spike);
  // The impact is the median relative change in original units: 65 (4 points) and 70 (2 points)
  // against the forecast's expm1(log1p(100)).
  EXPECT_NEAR(eps[0].impact, -0.35f, 1e-4f);
}

TEST(Episodes, AnImmaterialChangeIsNoCandidateOnRelativeMetrics) {
  Dataset d = lattice(1, 1, 2, 100);
  Scores s = flat_scores(d);
  set_z(d, s, 0, 10, 14, -7.0f);  // -35 %: a candidate
  set_z(d, s, 1, 10, 14, -7.0f);
  for (size_t t = 10; t < 14; ++t) d.values[t * d.N() + 1] = 90.0f;  // past the z threshold, but -10 %
  Config c;
  auto eps = find_episodes(d, s, c, 0);
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].series, 0u);
  c.detection.min_impact = 0.05;  // a stricter user's setting keeps both
  EXPECT_EQ(find_episodes(d, s, c, 0).size(), 2u);
  s.transform[1] = kIdentity;  // an identity metric has no meaningful relative change: no minimum
  c.detection.min_impact = 0.2;
  EXPECT_EQ(find_episodes(d, s, c, 0).size(), 2u);
}

TEST(Episodes, DirectionRulesAndScoreFrom) {
  Dataset d = lattice(1, 1, 2, 100);
  Scores s = flat_scores(d, Direction::Drop);
  set_z(d, s, 0, 10, 15, 9.0f);   // a spike on a drops-only metric: ignored
  set_z(d, s, 1, 10, 15, -9.0f);  // a drop, but before --score-from
  set_z(d, s, 1, 50, 55, -9.0f);  // a drop after it
  const auto eps = find_episodes(d, s, Config{}, 20);
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].series, 1u);
  EXPECT_EQ(eps[0].first, 50u);
}

TEST(Episodes, TheMetricsAlarmPolicyDropsLowVolumeAndIsolatedBlips) {
  Dataset d = lattice(1, 1, 3, 100);
  Scores s = flat_scores(d, Direction::Spike);
  set_z(d, s, 0, 10, 14, 8.0f);  // +40 % on a series of about 100 for 4 points
  set_z(d, s, 1, 10, 12, 8.0f);  // the same for 2 points
  set_z(d, s, 2, 40, 44, 8.0f);
  s.min_volume.assign(d.N(), 0.0f);
  s.min_points.assign(d.N(), 0);
  EXPECT_EQ(find_episodes(d, s, config_with_min_duration(10), 0).size(), 3u);
  s.min_volume[2] = 500.0f;  // a spike to 140 of a metric whose policy calls anything below 500 normal
  s.min_points[1] = 3;       // an isolated two-point blip is not worth an alarm
  const auto eps = find_episodes(d, s, config_with_min_duration(10), 0);
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].series, 0u);
  // From a config: the metric's rule reaches every series of the metric.
  test::TempDir tmp;
  test::write_file(tmp.file("c.json"), R"({"metrics": {"m0": {"direction": "spike", "min_volume": 500, "min_points": 3}}})");
  const Config c = read_config(tmp.file("c.json"));
  const SeriesRules rules = derive_series_rules(d.keys, std::vector<uint8_t>(d.N(), kHasValue), c);
  EXPECT_EQ(rules.min_volume, std::vector<float>(d.N(), 500.0f));
  EXPECT_EQ(rules.min_points, std::vector<uint32_t>(d.N(), 3u));
}

TEST(Episodes, DirectionChangeSplitsAnEpisode) {
  Dataset d = lattice(1, 1, 1, 60);
  Scores s = flat_scores(d);
  set_z(d, s, 0, 10, 14, -9.0f);
  set_z(d, s, 0, 14, 18, 9.0f);
  const auto eps = find_episodes(d, s, Config{}, 0);
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_EQ(eps[0].direction, Direction::Drop);
  EXPECT_EQ(eps[0].last, 13u);
  EXPECT_EQ(eps[1].direction, Direction::Spike);
}

std::set<std::string> scope_of(const Dataset& d, const Alarm& a) {
  std::set<std::string> s;
  for (auto& [dim, code] : a.scope) s.insert(d.keys.dims[dim] + "=" + d.keys.dictionary[dim][code]);
  return s;
}

TEST(Grouping, OneDeviceFamilyInEveryRegionIsOneAlarmScopedToTheDevice) {
  Dataset d = lattice(2, 4, 10, 200);
  Scores s = flat_scores(d);
  std::vector<uint32_t> roku;
  for (uint32_t i = 0; i < d.N(); ++i)
    if (d.keys.value(i, 1) == "roku") {
      roku.push_back(i);
      // Onsets spread over 20 minutes, as low-traffic series notice later.
      set_z(d, s, i, 100 + i % 5, 130, -9.0f);
    }
  set_z(d, s, 3 * 10 + 1, 110, 120, -9.0f);  // an unrelated single-series drop at the same time
  Config c;
  auto eps = find_episodes(d, s, c, 0);
  auto alarms = group_alarms(d, eps, c);
  ASSERT_EQ(alarms.size(), 2u);
  const Alarm& big = alarms[0].series.size() > 1 ? alarms[0] : alarms[1];
  const Alarm& single = alarms[0].series.size() > 1 ? alarms[1] : alarms[0];
  EXPECT_EQ(scope_of(d, big), (std::set<std::string>{"device=roku"}));
  EXPECT_EQ(big.series, roku);
  EXPECT_EQ(big.first, 100u);
  EXPECT_EQ(big.last, 129u);
  EXPECT_EQ(single.series.size(), 1u);
  EXPECT_EQ(scope_of(d, single).size(), 3u);  // every dimension of its one series
  for (const auto& e : eps) EXPECT_GE(e.alarm, 0);
}

TEST(Grouping, SixteenSeriesAtOnceAreOneAlarmEvenWhenSomeAreMissed) {
  Dataset d = lattice(4, 4, 6, 200);
  Scores s = flat_scores(d);
  // One region on every metric and device = 16 series; 12 of them detect it.
  int hit = 0;
  for (uint32_t i = 0; i < d.N(); ++i)
    if (d.keys.value(i, 2) == "r2" && hit++ < 12) set_z(d, s, i, 50, 70, -8.0f);
  Config c;
  auto eps = find_episodes(d, s, c, 0);
  auto alarms = group_alarms(d, eps, c);
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(scope_of(d, alarms[0]), (std::set<std::string>{"region=r2"}));
  EXPECT_EQ(alarms[0].series.size(), 12u);
  EXPECT_NEAR(alarms[0].density, 12.0 / 16.0, 1e-9);
  EXPECT_EQ(alarms[0].severity, "critical");
}

TEST(Grouping, SparseCoincidencesStaySeparateAndLateMembersJoin) {
  Dataset d = lattice(2, 5, 20, 400);
  Scores s = flat_scores(d);
  // Two series in different regions and devices: no scope covers them densely.
  set_z(d, s, 3, 100, 110, -8.0f);
  set_z(d, s, 77, 101, 110, -8.0f);
  // A metric-wide drop whose members notice it up to three hours apart.
  for (uint32_t i = 0; i < d.N(); ++i)
    if (d.keys.value(i, 0) == "m1") set_z(d, s, i, 200 + (i % 3) * 18, 300, -8.0f);
  Config c;
  auto eps = find_episodes(d, s, c, 0);
  auto alarms = group_alarms(d, eps, c);
  size_t singles = 0, metric_wide = 0;
  for (const auto& a : alarms) {
    if (a.series.size() == 1) ++singles;
    if (scope_of(d, a) == std::set<std::string>{"metric=m1"}) {
      ++metric_wide;
      EXPECT_EQ(a.series.size(), 100u);
    }
  }
  EXPECT_EQ(singles, 2u);
  EXPECT_EQ(metric_wide, 1u);
  EXPECT_EQ(alarms.size(), 3u);
}

TEST(Grouping, ABroadButSparseIncidentIsOneAlarm) {
  Dataset d = lattice(2, 10, 30, 200);
  Scores s = flat_scores(d);
  // 25 of metric m0's 300 series (8 %, scattered over devices and regions) spike together:
  // error counts too small to notice it elsewhere. Below the density rule, but broad.
  std::vector<uint32_t> spiking;
  for (uint32_t i = 0; i < d.N() && spiking.size() < 25; i += 11)
    if (d.keys.value(i, 0) == "m0") spiking.push_back(i);
  ASSERT_EQ(spiking.size(), 25u);
  for (uint32_t i : spiking) set_z(d, s, i, 100, 110, 9.0f);
  Config c;
  auto eps = find_episodes(d, s, c, 0);
  auto alarms = group_alarms(d, eps, c);
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(scope_of(d, alarms[0]), (std::set<std::string>{"metric=m0"}));
  EXPECT_EQ(alarms[0].series, spiking);
  // Five such series are coincidences, not one incident.
  Scores few = flat_scores(d);
  for (size_t k = 0; k < 5; ++k) set_z(d, few, spiking[5 * k], 100, 110, 9.0f);
  eps = find_episodes(d, few, c, 0);
  EXPECT_EQ(group_alarms(d, eps, c).size(), 5u);
}

TEST(Grouping, AnAlarmStormListsTheStrongestSeriesAndCountsTheRest) {
  Dataset d = lattice(2, 10, 30, 200);
  Scores s = flat_scores(d);
  // Metric m0 drops everywhere (300 series); the deeper the drop, the higher the series index.
  std::vector<uint32_t> members;
  for (uint32_t i = 0; i < d.N(); ++i)
    if (d.keys.value(i, 0) == "m0") {
      members.push_back(i);
      set_z(d, s, i, 100, 120, -6.0f - 0.01f * static_cast<float>(i));
    }
  Config c;
  c.detection.max_series_listed = 20;
  auto eps = find_episodes(d, s, c, 0);
  const auto alarms = group_alarms(d, eps, c);
  ASSERT_EQ(alarms.size(), 1u);
  test::TempDir tmp;
  write_alarms(tmp.file("alarms.jsonl"), d, alarms, eps, c.detection.max_series_listed);
  const auto line = nlohmann::json::parse(test::read_file(tmp.file("alarms.jsonl")));
  EXPECT_EQ(line["n_series"], members.size());
  EXPECT_EQ(line["series_truncated"], members.size() - 20);
  ASSERT_EQ(line["series"].size(), 20u);
  // The strongest first: the last member series has the deepest drop.
  const uint32_t deepest = members.back();
  EXPECT_EQ(line["series"][0]["region"], d.keys.value(deepest, 2));
  EXPECT_EQ(line["series"][0]["device"], d.keys.value(deepest, 1));

  // The evaluator still matches an incident on a series the line left out, through the scope.
  const auto read = read_alarms(tmp.file("alarms.jsonl"));
  TruthRecord hidden;
  hidden.kind = "incident";
  hidden.name = "m0_r0_drop";
  hidden.scope = {{"metric", {"m0"}}, {"region", {"r0"}}, {"device", {"roku"}}};  // the weakest series
  hidden.start = d.time_at(100);
  hidden.end = d.time_at(119);
  EXPECT_EQ(evaluate({hidden}, read).detected, 1);
  hidden.scope = {{"metric", {"m1"}}};  // a metric the alarm does not cover
  EXPECT_EQ(evaluate({hidden}, read).detected, 0);

  // Without a cap every series is listed.
  write_alarms(tmp.file("all.jsonl"), d, alarms, eps, 0);
  const auto all = nlohmann::json::parse(test::read_file(tmp.file("all.jsonl")));
  EXPECT_EQ(all["series"].size(), members.size());
  EXPECT_EQ(all["series_truncated"], 0);
}

// The issue's acceptance scenario, forecast-only and with every mechanism: a month of 15-minute
// traffic for a few hundred series; abrupt 35 % drops on one series and on 16 at once and a 3x
// spike are each one alarm, and quiet series raise at most about one false alarm per 1,000
// series-days.
TEST(Detection, FindsMalfunctionsWithFewFalseAlarms) {
  const int regions = 16, devices = 5, stacks = 3;
  Dataset d;
  d.keys = test::cartesian_keys({{"stack", test::numbered("stack", stacks)},
                                 {"device", test::numbered("device", devices)},
                                 {"region", test::numbered("region", regions)}});
  const size_t N = d.N();  // 240 series
  std::vector<test::TrafficShape> shapes(N);
  for (size_t i = 0; i < N; ++i) {
    shapes[i].level = 200 * std::pow(10.0, static_cast<double>((i * 7) % 11) / 5.0);  // 200 .. 30,000
    shapes[i].tz_hours = static_cast<int>(i % 8) - 3;
    shapes[i].weekend_boost = 0.1 + 0.05 * static_cast<double>(i % 4);
  }
  Dataset traffic = test::make_traffic(N, 30, 900, 99, shapes);
  d.start = traffic.start;
  d.step = traffic.step;
  d.T = traffic.T;
  d.values = std::move(traffic.values);

  const size_t day = 96;
  // (1) one series drops 35 % for 3 h from 18:00 UTC on day 12
  const size_t one = 17;
  test::inject(d, one, 12 * day + 72, 12 * day + 84, 0.65f);
  // (2) one device family on one stack, in all 16 regions, drops 35 % for 2 h on day 18
  std::vector<size_t> sixteen;
  for (size_t i = 0; i < N; ++i)
    if (d.keys.value(i, 0) == "stack1" && d.keys.value(i, 1) == "device2") sixteen.push_back(i);
  ASSERT_EQ(sixteen.size(), 16u);
  for (size_t i : sixteen) test::inject(d, i, 18 * day + 60, 18 * day + 68, 0.65f);
  // (3) a 3x spike on one series for 1 h on day 24
  const size_t spiky = 131;
  test::inject(d, spiky, 24 * day + 50, 24 * day + 54, 3.0f);

  auto backend = make_cpu_backend();
  for (const char* mechanisms : {"none", "all"}) {  // forecast-only, then with the suppression rules
    Config c;
    if (std::string(mechanisms) == "none") c.mechanisms = Mechanisms{false, false, false};
    RunResult run = run_scoring(d, c, *backend, 0);
    auto overlaps = [&](const Alarm& a, size_t t0, size_t t1) { return a.first <= t1 && a.last + 1 >= t0; };
    int found_one = 0, found_sixteen = 0, found_spike = 0, false_alarms = 0;
    for (const Alarm& a : run.alarms) {
      const bool has = [&](size_t i) { return std::binary_search(a.series.begin(), a.series.end(), i); }(one);
      if (has && overlaps(a, 12 * day + 72, 12 * day + 84)) { ++found_one; continue; }
      if (overlaps(a, 18 * day + 60, 18 * day + 68) && std::binary_search(a.series.begin(), a.series.end(), sixteen[0])) {
        ++found_sixteen;
        EXPECT_GE(a.series.size(), 12u);
        continue;
      }
      if (std::binary_search(a.series.begin(), a.series.end(), spiky) && overlaps(a, 24 * day + 50, 24 * day + 54)) {
        ++found_spike;
        EXPECT_EQ(a.direction, Direction::Spike);
        continue;
      }
      ++false_alarms;
    }
    std::printf("--mechanisms %s: %zu alarms, %d false over %.0f series-days\n", mechanisms, run.alarms.size(),
                false_alarms, static_cast<double>(N) * 22.0);
    EXPECT_EQ(found_one, 1);
    EXPECT_EQ(found_sixteen, 1) << "a malfunction hitting 16 series at once is one alarm";
    EXPECT_EQ(found_spike, 1);
    const double scored_days = static_cast<double>(N) * (30.0 - 8.0);
    EXPECT_LE(false_alarms, static_cast<int>(std::ceil(1.5 * scored_days / 1000.0)))
        << false_alarms << " false alarms over " << scored_days << " series-days";
  }
}

}  // namespace
}  // namespace vigil
