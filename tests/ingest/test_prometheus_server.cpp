// Against a real Prometheus: a generated cube, exported by `vigil export` and backfilled with
// promtool, read back through `vigil score --prometheus` gives the alarms and ledger that scoring
// the cube gives, byte for byte; and the server's own 400 and 422 (past --query.max-samples, even
// at one step) are exit 2 with no output.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/servers.hpp"
#include "common/test_util.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

using nlohmann::json;

TEST(PrometheusLive, ABackfilledCubeScoresToTheSameAlarmsAsTheCube) {
  const std::string prometheus = test::find_program("prometheus"), promtool = test::find_program("promtool");
  if (prometheus.empty() || promtool.empty()) GTEST_SKIP() << "prometheus/promtool are not installed (apt-get install prometheus)";
  test::TempDir tmp;
  const std::string cube = tmp.file("cube");
  // 36 series x 10 days at 15 minutes: 34,560 samples; dimensions in the order the reader
  // gives them (metric, then the labels sorted).
  auto r = test::run_vigil("generate --out " + cube + " --shape metric=2,device=3,region=3,stack=2 --days 10 --step 15m"
                           " --seed 5 --incidents 5 --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  r = test::run_vigil("export --input " + cube + " --out " + tmp.file("data.om"));
  ASSERT_EQ(r.code, 0) << r.err;
  auto [code, out] = test::run_command(promtool + " tsdb create-blocks-from openmetrics --quiet " + tmp.file("data.om") +
                                       " " + tmp.file("tsdb") + " 2>&1");
  ASSERT_EQ(code, 0) << out;

  const int port = test::free_port();
  test::write_file(tmp.file("prometheus.yml"), "scrape_configs: []\n");
  test::ServerProcess server({prometheus, "--config.file=" + tmp.file("prometheus.yml"),
                              "--storage.tsdb.path=" + tmp.file("tsdb"), "--storage.tsdb.retention.time=10y",
                              "--web.listen-address=127.0.0.1:" + std::to_string(port), "--query.max-samples=20000"},
                             tmp.file("prometheus.log"));
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(test::wait_until_ready(url + "/-/ready", 60)) << test::read_file(tmp.file("prometheus.log"));

  const json meta = json::parse(test::read_file(cube + "/meta.json"));
  const int64_t start = meta.at("start").is_string() ? *parse_timestamp(meta.at("start").get<std::string>())
                                                     : meta.at("start").get<int64_t>();
  const int64_t end = start + (10 * 96 - 1) * 900;
  const std::string common = " --config " + cube + "/config.json --events " + cube + "/events.csv --backend cpu";
  r = test::run_vigil("score --input " + cube + common + " --alarms " + tmp.file("cube_alarms.jsonl") + " --ledger " +
                      tmp.file("cube_ledger.jsonl"));
  ASSERT_EQ(r.code, 0) << r.err;
  // 34,560 samples > --query.max-samples: the reader splits the range after the server's 422s.
  const std::string read = " --prometheus " + url + " --start " + std::to_string(start) + " --end " +
                           std::to_string(end) + " --step 15m";
  r = test::run_vigil("score" + read + " --query '{__name__=~\".+\"}'" + common + " --alarms " +
                      tmp.file("prom_alarms.jsonl") + " --ledger " + tmp.file("prom_ledger.jsonl"));
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string cube_alarms = test::read_file(tmp.file("cube_alarms.jsonl"));
  EXPECT_GE(test::count_lines(cube_alarms), 2u);
  EXPECT_EQ(test::read_file(tmp.file("prom_alarms.jsonl")), cube_alarms);
  EXPECT_EQ(test::read_file(tmp.file("prom_ledger.jsonl")), test::read_file(tmp.file("cube_ledger.jsonl")));

  // The server's 400 (a parse error) and a 422 that no split avoids: exit 2, one line, no output.
  for (const std::string& query : {std::string("sum("), std::string("sum_over_time({__name__=~\".+\"}[10d])")}) {
    test::TempDir out_dir;
    r = test::run_vigil("score" + read + " --query '" + query + "' --backend cpu --alarms " +
                        out_dir.file("alarms.jsonl"));
    EXPECT_EQ(r.code, 2) << query << ": " << r.err;
    EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(query == "sum(" ? "HTTP 400" : "HTTP 422"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(out_dir.file("alarms.jsonl")));
  }
}

}  // namespace
}  // namespace vigil
