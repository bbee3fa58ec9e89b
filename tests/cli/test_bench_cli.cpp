// `vigil bench` as a user runs it: the JSON report's fields are present and consistent with each
// other, on generated data in memory and on a cube streamed from disk in batches.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/test_util.hpp"

namespace vigil {
namespace {

void expect_consistent_report(const nlohmann::json& j) {
  for (const char* key : {"backend", "device", "series", "points", "seconds", "points_per_second", "bytes_moved",
                          "bandwidth_gbs", "roofline_gbs", "roofline_fraction", "stages", "peak_rss_mb", "command"})
    EXPECT_TRUE(j.contains(key)) << key;
  const double points = j["series"].get<double>() * j["points"].get<double>();
  const double seconds = j["seconds"];
  ASSERT_GT(seconds, 0);
  EXPECT_NEAR(j["points_per_second"].get<double>(), points / seconds, 1e-6 * points / seconds);
  EXPECT_NEAR(j["bandwidth_gbs"].get<double>(), j["bytes_moved"].get<double>() / seconds / 1e9, 1e-9);
  EXPECT_GT(j["roofline_gbs"].get<double>(), 0);
  EXPECT_NEAR(j["roofline_fraction"].get<double>(), j["bandwidth_gbs"].get<double>() / j["roofline_gbs"].get<double>(),
              1e-9);
  double stage_seconds = 0;
  for (const char* stage : {"read", "forecast", "peers", "evidence", "episodes_decisions_alarms"}) {
    ASSERT_TRUE(j["stages"].contains(stage)) << stage;
    EXPECT_GT(j["stages"][stage]["bytes_moved"].get<double>(), 0) << stage;
    stage_seconds += j["stages"][stage]["seconds"].get<double>();
  }
  EXPECT_LE(stage_seconds, seconds * 1.0001);
}

TEST(BenchCli, ReportsStagesRooflineAndTheNumpyPeer) {
  test::TempDir tmp;
  auto r = test::run_vigil("bench --backend cpu --series 256 --points 600 --peer-series 256 --quiet --json " +
                           tmp.file("bench.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(test::read_file(tmp.file("bench.json")));
  expect_consistent_report(j);
  EXPECT_EQ(j["backend"], "cpu");
  EXPECT_EQ(j["series"], 256);
  EXPECT_EQ(j["batches"], 1);
  const auto& peer = j["numpy_peer"];
  EXPECT_GT(peer["vigil_cpu_1thread_points_per_second"].get<double>(), 0);
  if (peer.contains("skipped")) {
    std::printf("NumPy peer skipped: %s\n", peer["skipped"].get<std::string>().c_str());
  } else {
    EXPECT_GT(peer["ratio_per_core"].get<double>(), 0);
    EXPECT_EQ(peer["z_agreement"]["scored_by_one_only"], 0);
    EXPECT_GT(peer["z_agreement"]["share_within_0.05"].get<double>(), 0.99);
  }
}

TEST(BenchCli, StreamsACubeFromDiskInBatches) {
  test::TempDir tmp;
  ASSERT_EQ(test::run_vigil("generate --out " + tmp.file("cube") +
                            " --shape region=6,stack=2,device=2,metric=2 --days 3 --step 30m --seed 2 --quiet")
                .code,
            0);
  auto r = test::run_vigil("bench --input " + tmp.file("cube") + " --batch-series 16 --peer-series 0 --quiet --json " +
                           tmp.file("bench.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(test::read_file(tmp.file("bench.json")));
  expect_consistent_report(j);
  EXPECT_EQ(j["series"], 48);
  EXPECT_EQ(j["batches"], 3);  // two regions of 8 series a batch
  EXPECT_EQ(j["largest_batch"], 16);
  EXPECT_GT(j["stages"]["events_first_pass"]["series_occurrences"].get<int>(), 0);  // its events.csv was read
  EXPECT_FALSE(j.contains("numpy_peer"));
}

}  // namespace
}  // namespace vigil
