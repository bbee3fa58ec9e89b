// The --config file: every section read, every mistake one clear error naming the file.
#include <gtest/gtest.h>

#include "test_util.hpp"
#include "vigil/config.hpp"
#include "vigil/error.hpp"

namespace vigil {
namespace {

TEST(Config, ReadsEverySection) {
  test::TempDir tmp;
  test::write_file(tmp.file("c.json"), R"({
    "threshold": 6, "min_duration_minutes": 20, "merge_gap_points": 3, "scope_density": 0.3,
    "group_window_minutes": 30, "metric_dim": "kpi", "direction": "drop",
    "metrics": {"errors": {"direction": "spike", "threshold": 7, "transform": "count"}, "latency": {}},
    "forecast": {"daily_knots": 48, "weekly": false, "outlier_z": 5, "derivative_minutes": 30},
    "peers": {"deviating_z": 3, "correlation_hours": 4, "event_shrink_occurrences": 2}})");
  const Config c = read_config(tmp.file("c.json"));
  EXPECT_EQ(c.detection.threshold, 6);
  EXPECT_EQ(c.detection.min_duration_minutes, 20);
  EXPECT_EQ(c.detection.merge_gap_points, 3);
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

}  // namespace
}  // namespace vigil
