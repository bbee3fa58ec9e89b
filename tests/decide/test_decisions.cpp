// Suppression decisions on generated cubes, through the CLI as a user runs them: the cross-stack
// rule explains power cuts away as one notice per region, never a malfunction confined to one
// stack, never costs recall, and the hard ceiling overrides it.
#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/test_util.hpp"

namespace vigil {
namespace {

nlohmann::json eval_json(const std::string& truth, const std::string& alarms) {
  auto r = test::run_vigil("eval --json --truth " + truth + " --alarms " + alarms);
  EXPECT_EQ(r.code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

std::vector<nlohmann::json> lines(const std::string& path) {
  std::vector<nlohmann::json> v;
  std::istringstream in(test::read_file(path));
  for (std::string l; std::getline(in, l);) v.push_back(nlohmann::json::parse(l));
  return v;
}

class Decisions : public ::testing::TestWithParam<int> {};

TEST_P(Decisions, PowerCutsBecomeNoticesWithoutLosingIncidents) {
  test::TempDir tmp;
  const std::string cube = tmp.file("cube");
  ASSERT_EQ(test::run_vigil("generate --out " + cube + " --shape metric=2,stack=4,device=3,region=8 --days 21 --step 15m" +
                            " --external-high 3 --seed " + std::to_string(GetParam()) + " --quiet")
                .code,
            0);
  const std::string common = " --input " + cube + " --config " + cube + "/config.json --events " + cube +
                             "/events.csv --backend cpu --quiet";
  ASSERT_EQ(test::run_vigil("score" + common + " --mechanisms none --alarms " + tmp.file("none.jsonl")).code, 0);
  ASSERT_EQ(test::run_vigil("score" + common + " --alarms " + tmp.file("all.jsonl") + " --ledger " +
                            tmp.file("ledger.jsonl") + " --scores " + tmp.file("scores.csv"))
                .code,
            0);
  // Scores rows by "timestamp,metric,stack,device,region" for the checks on explained points.
  std::map<std::string, double> score_of;
  {
    std::istringstream in(test::read_file(tmp.file("scores.csv")));
    std::string line;
    std::getline(in, line);
    // The generated names hold no comma, so fields split on every one.
    const auto split = [](const std::string& text) {
      std::vector<std::string> fields;
      std::istringstream row(text);
      for (std::string f; std::getline(row, f, ',');) fields.push_back(f);
      if (!text.empty() && text.back() == ',') fields.emplace_back();
      return fields;
    };
    const std::vector<std::string> header = split(line);
    const size_t score_column = std::find(header.begin(), header.end(), "score") - header.begin();
    ASSERT_LT(score_column, header.size());
    while (std::getline(in, line)) {
      const std::vector<std::string> fields = split(line);
      ASSERT_GT(fields.size(), score_column) << line;
      size_t comma = 0;
      for (int k = 0; k < 5; ++k) comma = line.find(',', comma + 1);
      if (!fields[score_column].empty()) score_of[line.substr(0, comma)] = std::stod(fields[score_column]);
    }
  }
  const auto none = eval_json(cube + "/truth.jsonl", tmp.file("none.jsonl"));
  const auto all = eval_json(cube + "/truth.jsonl", tmp.file("all.jsonl"));
  std::printf("seed %d: recall %.3f -> %.3f, false alarms %d -> %d (external_high %d -> %d)\n", GetParam(),
              none["recall"].get<double>(), all["recall"].get<double>(), none["false_alarms"].get<int>(),
              all["false_alarms"].get<int>(), none["false_alarms_by_kind"]["external_high"].get<int>(),
              all["false_alarms_by_kind"]["external_high"].get<int>());
  EXPECT_GE(all["recall"].get<double>(), none["recall"].get<double>());
  EXPECT_LE(all["false_alarms"].get<int>(), none["false_alarms"].get<int>());
  EXPECT_LE(all["false_alarms_by_kind"]["external_high"].get<int>(),
            none["false_alarms_by_kind"]["external_high"].get<int>());

  // Suppressed episodes are explained, and external events are one notice per region and time.
  int notices = 0;
  for (const auto& l : lines(tmp.file("ledger.jsonl"))) {
    if (l["status"] != "suppressed") continue;
    EXPECT_FALSE(l["evidence"]["rule"].get<std::string>().empty());
    if (l["id"].get<std::string>().rfind("notice-", 0) == 0) {
      ++notices;
      EXPECT_EQ(l["reason"], "external_event");
      EXPECT_EQ(l["scope"].size(), 1u) << l.dump();
      EXPECT_TRUE(l["scope"].contains("region"));
      EXPECT_GE(l["n_series"].get<int>(), 1);
    } else if (l["reason"] == "external_event") {
      EXPECT_TRUE(l["evidence"]["notice"].is_string());
      EXPECT_GE(l["evidence"]["breadth"].get<double>(), 1.0);
      // Explained, not actionable: its points score below the threshold's 0.5.
      const auto& s = l["series"][0];
      const std::string key = l["start"].get<std::string>() + "," + s["metric"].get<std::string>() + "," +
                              s["stack"].get<std::string>() + "," + s["device"].get<std::string>() + "," +
                              s["region"].get<std::string>();
      ASSERT_TRUE(score_of.count(key)) << key;
      EXPECT_LT(score_of[key], 0.5) << key;
    }
  }
  EXPECT_GE(notices, 1);
}

INSTANTIATE_TEST_SUITE_P(Seeds, Decisions, ::testing::Values(2, 5));

TEST(Decisions, TheHardCeilingRaisesLargeSustainedDeviationsWhateverTheRules) {
  test::TempDir tmp;
  const std::string cube = tmp.file("cube");
  ASSERT_EQ(test::run_vigil("generate --out " + cube + " --shape metric=2,stack=4,device=3,region=8 --days 21" +
                            " --step 15m --external-high 3 --seed 2 --quiet")
                .code,
            0);
  // Everything 30 minutes long and 30 % deep counts as large and sustained here.
  test::write_file(tmp.file("c.json"), R"({"metrics": {"play_starts": {"direction": "drop"},
    "active_sessions": {"direction": "drop"}}, "decisions": {"ceiling_impact": 0.3, "ceiling_hours": 0.5}})");
  ASSERT_EQ(test::run_vigil("score --input " + cube + " --config " + tmp.file("c.json") + " --ledger " +
                            tmp.file("ledger.jsonl") + " --quiet")
                .code,
            0);
  for (const auto& l : lines(tmp.file("ledger.jsonl"))) {
    if (l["id"].get<std::string>().rfind("episode-", 0) != 0 || l["reason"] == "anticipated_event") continue;
    // Every candidate lasts at least two 15-minute points, so each one 30 % deep or more is
    // large and sustained, and raised.
    if (std::abs(l["evidence"]["impact"].get<double>()) >= 0.3) EXPECT_EQ(l["reason"], "malfunction") << l.dump();
  }
}

}  // namespace
}  // namespace vigil
