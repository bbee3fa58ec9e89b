// Event effects learned from earlier occurrences of the same name (event_plan.cpp): causal
// (ties in start are not "earlier"), per name, and O(events log events) per series.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "vigil/event_plan.hpp"

namespace vigil {
namespace {

// One series, constant forecast log1p(100); each occurrence `k` of the schedule shifts its
// window by effects[k] in log space, so its observed effect is exactly that.
struct OneSeries {
  Dataset data;
  EventSchedule schedule;
  std::vector<float> base;

  OneSeries(size_t T, const std::vector<std::pair<std::string, int64_t>>& occurrences, const std::vector<float>& effects) {
    data.keys.dims = {"region"};
    data.keys.codes.push_back(data.keys.intern(0, "br"));
    data.start = 1767225600;
    data.step = 300;
    data.T = T;
    base.assign(T, std::log1p(100.0f));
    std::vector<float> shift(T, 0.0f);
    for (size_t k = 0; k < occurrences.size(); ++k) {
      Event e;
      e.name = occurrences[k].first;
      e.start = data.start + occurrences[k].second * data.step;
      e.end = e.start + 4 * data.step;  // 4 steps: one per segment
      schedule.events.push_back(e);
      for (int64_t t = occurrences[k].second; t < occurrences[k].second + 4; ++t) shift[t] += effects[k];
    }
    data.values.resize(T);
    for (size_t t = 0; t < T; ++t) data.values[t] = std::expm1(std::log1p(100.0f) + shift[t]);
  }

  EventPlan learn() const {
    EventPlan plan = plan_events(schedule, data);
    learn_event_effects(plan, schedule, data, {kLog1p}, base, {0}, 1, "", {});
    return plan;
  }
};

TEST(EventLearning, UsesOnlyStrictlyEarlierOccurrencesOfTheSameName) {
  // a@10: 0.1; a@30 and a@50... two at the same start 30 (0.2 and 0.3: neither is earlier); b@70
  // (another name, 0.9, never mixed in); a@90: 0.4. Disjoint windows except the tie.
  const OneSeries s(120, {{"a", 10}, {"a", 30}, {"a", 30}, {"b", 70}, {"a", 90}}, {0.1f, 0.2f, 0.3f, 0.9f, 0.4f});
  const EventPlan plan = s.learn();
  ASSERT_EQ(plan.entries.size(), 5u);
  std::vector<float> effect(5);
  for (size_t e = 0; e < 5; ++e) effect[plan.occurrence[e]] = plan.entries[e].effect[1];
  EXPECT_TRUE(std::isnan(effect[0]));  // no history, no expected_impact: unknown
  EXPECT_NEAR(effect[1], 0.1f, 1e-4);  // only a@10 is earlier
  EXPECT_NEAR(effect[2], 0.1f, 1e-4);
  EXPECT_TRUE(std::isnan(effect[3]));  // b has no history
  // a@90 sees 0.1 and the tied pair's 0.2 + 0.3 overlapping (0.5 on the shared window): mean of
  // the observed effects 0.1, 0.5, 0.5, shrunk toward the (here identical) cell mean.
  EXPECT_NEAR(effect[4], (0.1f + 0.5f + 0.5f) / 3, 1e-4);
}

TEST(EventLearning, TenThousandOccurrencesOnOneSeriesTakeWellUnderASecond) {
  // Was O(E^2) map lookups per series: minutes at this size.
  std::vector<std::pair<std::string, int64_t>> occurrences;
  std::vector<float> effects;
  for (int k = 0; k < 10000; ++k) {
    occurrences.push_back({k % 3 ? "match" : "final", (k * 7919) % 40000});
    effects.push_back(0.01f * (k % 17));
  }
  const OneSeries s(40010, occurrences, effects);
  const auto started = std::chrono::steady_clock::now();
  const EventPlan plan = s.learn();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(plan.entries.size(), 10000u);
  EXPECT_LT(seconds, 5.0);
  std::printf("learn_event_effects: 10,000 occurrences on one series in %.3f s\n", seconds);
}

}  // namespace
}  // namespace vigil
