// Batches: a cube scored a batch of groups at a time (read from disk in pieces, or on a device
// with room for a few series only) gives exactly the alarms, ledger and scores of one piece.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "common/backends.hpp"
#include "common/synthetic.hpp"
#include "common/test_util.hpp"
#include "vigil/alarms.hpp"
#include "vigil/error.hpp"
#include "vigil/events.hpp"
#include "vigil/ingest.hpp"
#include "vigil/run.hpp"
#include "vigil/tools/scenario.hpp"
#include "vigil/value_source.hpp"

namespace vigil {
namespace {

struct Cube {
  test::TempDir dir;
  Scenario scenario;
  Config config;
  EventSchedule schedule;
};

// A small generated cube with scheduled events, incidents and external events, on disk.
const Cube& cube() {
  static Cube* c = [] {
    auto* cube = new Cube;
    GenerateOptions options;
    options.shape = parse_shape("metric=3,stack=3,device=3,region=9");
    options.days = 16;
    options.step = 900;
    options.seed = 5;
    cube->scenario = generate_scenario(options);
    write_cube(cube->scenario.data, cube->dir.file("cube"));
    test::write_file(cube->dir.file("config.json"), scenario_config_json(cube->scenario.data));
    cube->config = read_config(cube->dir.file("config.json"));
    cube->schedule = parse_events(cube->scenario.events_csv, "events.csv");
    return cube;
  }();
  return *c;
}

// What a user sees of a run, in comparable form.
struct Seen {
  std::vector<std::tuple<uint32_t, uint32_t, uint32_t, std::string, std::string, float>> episodes;
  std::vector<std::tuple<uint32_t, uint32_t, std::vector<uint32_t>, std::string>> alarms;
  std::vector<std::pair<uint32_t, std::vector<uint32_t>>> notices;
};

Seen seen(const RunResult& r) {
  Seen s;
  for (const Episode& e : r.episodes) s.episodes.emplace_back(e.series, e.first, e.last, e.decision, e.reason, e.peak_z);
  for (const Alarm& a : r.alarms) s.alarms.emplace_back(a.first, a.last, a.series, a.severity);
  for (const Notice& n : r.notices) s.notices.emplace_back(n.first, n.series);
  return s;
}

TEST(Batches, HoldWholeGroupsAndEverySeriesOnce) {
  const Dataset& d = cube().scenario.data;
  const int region = d.keys.dim_index("region");
  const size_t per_region = d.N() / 9;
  for (size_t max_series : {1ul, per_region, per_region + 1, 3 * per_region, d.N()}) {
    const auto plan = plan_batches(d, true, max_series);
    std::vector<int> times_seen(d.N(), 0);
    for (const auto& batch : plan) {
      EXPECT_TRUE(std::is_sorted(batch.begin(), batch.end()));
      // No batch beyond the limit unless it is one group; a group never spans two batches.
      std::set<uint32_t> groups;
      for (uint32_t i : batch) groups.insert(d.keys.code(i, region));
      EXPECT_TRUE(batch.size() <= max_series || groups.size() == 1) << max_series;
      for (uint32_t i : batch) ++times_seen[i];
      EXPECT_EQ(batch.size(), groups.size() * per_region);
    }
    EXPECT_TRUE(std::all_of(times_seen.begin(), times_seen.end(), [](int n) { return n == 1; }));
    EXPECT_EQ(plan.size(), max_series >= d.N() ? 1u : (9 + std::max<size_t>(1, max_series / per_region) - 1) /
                                                          std::max<size_t>(1, max_series / per_region));
  }
  // Without a mechanism that compares series, batches cut anywhere.
  const auto cut = plan_batches(d, false, 10);
  EXPECT_EQ(cut.size(), (d.N() + 9) / 10);
  EXPECT_EQ(cut.front().size(), 10u);
}

class Streaming : public ::testing::TestWithParam<std::string> {};

TEST_P(Streaming, ACubeReadInBatchesGivesTheAlarmsOfOnePieceOnTheCpu) {
  auto backend = test::backend_named(GetParam());
  if (!backend) GTEST_SKIP() << "no CUDA device";
  const Cube& c = cube();
  auto cpu = make_cpu_backend();
  const RunResult whole = run_scoring(c.scenario.data, c.config, *cpu, 0, &c.schedule);
  ASSERT_FALSE(whole.alarms.empty());
  ASSERT_FALSE(whole.notices.empty());

  // On a device, also as if it had room for ~40 series at a time: the cube is larger than it.
  backend->limit_device_memory(40 * 4 * 40 * c.scenario.data.T);
  OpenedCube opened = open_cube(c.dir.file("cube"), IngestOptions{});
  BatchOptions batching;
  batching.max_series = 2 * c.scenario.data.N() / 9;  // two regions a batch
  size_t calls = 0, last_done = 0;
  batching.on_progress = [&](size_t done, size_t total) {
    ++calls;
    EXPECT_GT(done, last_done);
    EXPECT_EQ(total, c.scenario.data.N());
    last_done = done;
  };
  const RunResult batched =
      run_scoring(opened.header, *opened.values, c.config, *backend, 0, &c.schedule, batching);
  EXPECT_EQ(batched.batches, 5u);
  EXPECT_EQ(calls, 5u);
  EXPECT_EQ(last_done, c.scenario.data.N());
  EXPECT_TRUE(batched.scores.z.empty());  // nothing of N x T kept

  const Seen a = seen(whole), b = seen(batched);
  EXPECT_EQ(a.alarms, b.alarms);
  EXPECT_EQ(a.notices, b.notices);
  if (GetParam() != "cuda") EXPECT_EQ(a.episodes, b.episodes);  // to the bit on the same backend
  EXPECT_EQ(whole.short_history, batched.short_history);
  EXPECT_EQ(whole.event_occurrences, batched.event_occurrences);
}

INSTANTIATE_TEST_SUITE_P(Backends, Streaming, VIGIL_ALL_BACKENDS);

// The CPU's one pass per batch: two threads each taking cache-sized batches through every stage,
// and a cube read a set of batches at a time because the memory budget holds only part of it.
// Nothing of that may change a result: episodes and alarms to the bit, and every series' scores.
TEST(Streaming, ConcurrentBatchesAndPartialReadsGiveTheResultsOfOnePiece) {
  const Cube& c = cube();
  auto cpu = make_cpu_backend(2);
  const RunResult whole = run_scoring(c.scenario.data, c.config, *cpu, 0, &c.schedule);
  ASSERT_FALSE(whole.alarms.empty());
  const size_t N = c.scenario.data.N(), T = c.scenario.data.T;

  OpenedCube opened = open_cube(c.dir.file("cube"), IngestOptions{});
  BatchOptions batching;
  // A budget the size of the cube's values: the reads get at most about half of it (the rest
  // goes to the workers' batches and what the process holds), so the cube is read in pieces.
  batching.memory_budget = N * T * sizeof(float);
  std::map<std::string, std::vector<float>> z, calibrated;  // by series key
  batching.on_batch = [&](const Dataset& batch, const Scores& s, const std::vector<Episode>&) {
    for (size_t i = 0; i < batch.N(); ++i)
      for (size_t t = 0; t < T; ++t) {
        z[batch.keys.describe(i)].push_back(s.z[t * batch.N() + i]);
        calibrated[batch.keys.describe(i)].push_back(s.z_calibrated[t * batch.N() + i]);
      }
  };
  const RunResult fused = run_scoring(opened.header, *opened.values, c.config, *cpu, 0, &c.schedule, batching);
  EXPECT_EQ(fused.workers, 2u);
  EXPECT_GT(fused.batches, 2u);
  EXPECT_GE(fused.read_sets, 2u);

  const Seen a = seen(whole), b = seen(fused);
  EXPECT_EQ(a.episodes, b.episodes);
  EXPECT_EQ(a.alarms, b.alarms);
  EXPECT_EQ(a.notices, b.notices);
  EXPECT_EQ(whole.young_points, fused.young_points);
  ASSERT_EQ(z.size(), N);
  for (size_t i = 0; i < N; ++i) {
    const std::string key = c.scenario.data.keys.describe(i);
    for (size_t t = 0; t < T; ++t) {
      const float want = whole.scores.z[t * N + i], got = z[key][t];
      ASSERT_TRUE(want == got || (std::isnan(want) && std::isnan(got))) << key << " t=" << t;
      const float want_c = whole.scores.z_calibrated[t * N + i], got_c = calibrated[key][t];
      ASSERT_TRUE(want_c == got_c || (std::isnan(want_c) && std::isnan(got_c))) << key << " t=" << t;
    }
  }
}

TEST(Streaming, AMetricsTransformIsDecidedOverEveryBatch) {
  // One region's series of a metric carry fractions: the whole metric is log1p, not count,
  // in every batch, as in one piece.
  Dataset d = test::make_traffic(4, 12, 3600, 3);
  for (float& v : d.values) v = std::round(v);
  for (size_t t = 0; t < d.T; ++t) d.values[t * d.N() + 0] += 0.5f;
  d.keys = Keys{};
  d.keys.dims = {"metric", "region"};
  d.keys.dictionary = {{"plays"}, {"a", "b", "c", "d"}};
  d.keys.codes = {0, 0, 0, 1, 0, 2, 0, 3};
  auto cpu = make_cpu_backend();
  BatchOptions batching;
  batching.max_series = 1;
  std::vector<uint8_t> transforms;
  batching.on_batch = [&](const Dataset&, const Scores& s, const std::vector<Episode>&) {
    transforms.insert(transforms.end(), s.transform.begin(), s.transform.end());
  };
  Config config;
  run_scoring(d, *memory_source(d), config, *cpu, 0, nullptr, batching);
  EXPECT_EQ(transforms, std::vector<uint8_t>(4, kLog1p));
}

TEST(Streaming, AValuesFileTruncatedAfterOpeningIsACleanInputError) {
  const Cube& c = cube();
  test::TempDir tmp;
  std::filesystem::copy(c.dir.file("cube"), tmp.file("cube"));
  OpenedCube opened = open_cube(tmp.file("cube"), IngestOptions{});
  std::filesystem::resize_file(tmp.file("cube/values.npy"), 4096);
  auto cpu = make_cpu_backend();
  BatchOptions batching;
  batching.max_series = 40;
  try {
    run_scoring(opened.header, *opened.values, c.config, *cpu, 0, nullptr, batching);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("values.npy"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vigil
