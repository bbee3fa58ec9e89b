// The --config file: every section read, every mistake one clear error naming the file.
#include <gtest/gtest.h>

#include "common/test_util.hpp"
#include "vigil/config.hpp"
#include "vigil/error.hpp"

namespace vigil {
namespace {

TEST(Config, ReadsEverySection) {
  test::TempDir tmp;
  test::write_file(tmp.file("c.json"), R"({
    "threshold": 6, "min_duration_minutes": 20, "merge_gap_points": 3, "min_impact": 0.1, "scope_density": 0.3,
    "group_window_minutes": 30, "max_series_listed": 7, "metric_dim": "kpi", "direction": "drop",
    "metrics": {"errors": {"direction": "spike", "threshold": 7, "transform": "count"}, "latency": {}},
    "forecast": {"daily_knots": 48, "weekly": false, "outlier_z": 5, "derivative_minutes": 30},
    "peers": {"deviating_z": 3, "correlation_hours": 4, "event_shrink_occurrences": 2},
    "support_z": 2.5, "baseline_support_z": 0,
    "evidence": {"local_hours": 6, "local_threshold": 5, "local_gate_z": 1, "calibration_points": 1000,
                 "prior_points": 10, "prior_width": 3, "max_gain": 2, "accumulate_minutes": 120, "clip_z": 5}})");
  const Config c = read_config(tmp.file("c.json"));
  EXPECT_EQ(c.detection.threshold, 6);
  EXPECT_EQ(c.detection.min_duration_minutes, 20);
  EXPECT_EQ(c.detection.merge_gap_points, 3);
  EXPECT_EQ(c.detection.max_series_listed, 7u);
  EXPECT_EQ(c.detection.min_impact, 0.1);
  EXPECT_EQ(c.metric_dim, "kpi");
  EXPECT_EQ(c.rule_for("errors").direction, Direction::Spike);
  EXPECT_EQ(c.rule_for("errors").transform, Transform::Count);
  EXPECT_EQ(c.rule_for("errors").threshold, 7);
  EXPECT_EQ(c.rule_for("latency").direction, Direction::Drop);  // inherits the top level
  EXPECT_EQ(c.rule_for("unlisted").direction, Direction::Drop);
  EXPECT_EQ(c.forecast.daily_knots, 48);
  EXPECT_FALSE(c.forecast.weekly);
  EXPECT_EQ(c.forecast.derivative_minutes, 30);
  EXPECT_EQ(c.peers.deviating_z, 3);
  EXPECT_EQ(c.peers.correlation_hours, 4);
  EXPECT_EQ(c.peers.event_shrink_occurrences, 2);
  EXPECT_EQ(c.detection.support_z, 2.5);
  EXPECT_EQ(c.detection.baseline_support_z, 0);
  EXPECT_EQ(c.evidence.local_hours, 6);
  EXPECT_EQ(c.evidence.local_threshold, 5);
  EXPECT_EQ(c.evidence.local_gate_z, 1);
  EXPECT_EQ(c.evidence.calibration_points, 1000);
  EXPECT_EQ(c.evidence.prior_points, 10);
  EXPECT_EQ(c.evidence.prior_width, 3);
  EXPECT_EQ(c.evidence.max_gain, 2);
  EXPECT_EQ(c.evidence.accumulate_minutes, 120);
  EXPECT_EQ(c.evidence.clip_z, 5);
}

TEST(Config, MistakesAreInputErrorsNamingTheFile) {
  test::TempDir tmp;
  const char* bad[] = {
      "not json",
      "[1, 2]",
      R"({"treshold": 5})",
      R"({"threshold": "high"})",
      R"({"threshold": -1})",
      R"({"metrics": {"errors": {"direction": "sideways"}}})",
      R"({"forecast": {"daily_knots": 0}})",
      R"({"forecast": {"seasonality": "weekly"}})",
      R"({"peers": {"deviating": 3}})",
      R"({"peers": 3})",
      R"({"merge_gap_points": 2.5})",
      R"({"max_series_listed": -1})",
      R"({"decisions": {"onset_points": 0}})",
      R"({"evidence": {"local_window": 3}})",
      R"({"evidence": {"max_gain": 0.5}})",
      R"({"evidence": {"calibration_points": 0}})",
      R"({"forecast": {"young_width": 0.5}})",
      R"({"support_z": -1})",
  };
  for (const char* text : bad) {
    test::write_file(tmp.file("c.json"), text);
    try {
      read_config(tmp.file("c.json"));
      ADD_FAILURE() << "accepted: " << text;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("c.json"), std::string::npos) << e.what();
    }
  }
}

TEST(Config, YamlReadsLikeJson) {
  test::TempDir tmp;
  test::write_file(tmp.file("c.yaml"),
                   "threshold: 6\n"
                   "metric_dim: kpi\n"
                   "metrics:\n"
                   "  errors: {direction: spike, threshold: 7}\n"
                   "  latency:\n"
                   "    transform: identity\n"
                   "forecast:\n"
                   "  weekly: false\n"
                   "  outlier_z: 4.5\n"
                   "decisions:\n"
                   "  ceiling_hours: 3\n");
  const Config c = read_config(tmp.file("c.yaml"));
  EXPECT_EQ(c.detection.threshold, 6);
  EXPECT_EQ(c.metric_dim, "kpi");
  EXPECT_EQ(c.rule_for("errors").direction, Direction::Spike);
  EXPECT_EQ(c.rule_for("errors").threshold, 7);
  EXPECT_EQ(c.rule_for("latency").transform, Transform::Identity);
  EXPECT_FALSE(c.forecast.weekly);
  EXPECT_EQ(c.forecast.outlier_z, 4.5);
  EXPECT_EQ(c.decisions.ceiling_hours, 3);
  // A quoted number stays a string, and is rejected where a number is needed.
  test::write_file(tmp.file("q.yml"), "threshold: \"6\"\n");
  EXPECT_THROW(read_config(tmp.file("q.yml")), InputError);
}

TEST(Config, YamlSyntaxErrorsNameTheLine) {
  test::TempDir tmp;
  test::write_file(tmp.file("c.yaml"), "threshold: 6\nmetrics: [unclosed\n");
  try {
    read_config(tmp.file("c.yaml"));
    FAIL() << "accepted broken YAML";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("c.yaml:"), std::string::npos) << e.what();
  }
  test::write_file(tmp.file("k.yaml"), "forecast:\n  weekley: true\n");
  EXPECT_THROW(read_config(tmp.file("k.yaml")), InputError);
}

TEST(Config, PrintConfigShowsTheEffectiveValuesAndReadsBack) {
  test::TempDir tmp;
  test::write_file(tmp.file("c.yaml"), "metrics:\n  errors: {direction: spike}\ndecisions: {ceiling_hours: 2}\n");
  auto r = test::run_vigil("score --config " + tmp.file("c.yaml") + " --threshold 7 --print-config");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"threshold\": 7.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"ceiling_hours\": 2.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"outlier_z\": 4.0"), std::string::npos) << r.out;  // a default
  test::write_file(tmp.file("printed.json"), r.out);
  auto again = test::run_vigil("score --config " + tmp.file("printed.json") + " --print-config");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out, r.out);
  // A bad config is one line and exit 2.
  test::write_file(tmp.file("bad.yaml"), "threshold: -3\n");
  auto bad = test::run_vigil("score --config " + tmp.file("bad.yaml") + " --print-config");
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(test::count_lines(bad.err), 1u) << bad.err;
}

}  // namespace
}  // namespace vigil
