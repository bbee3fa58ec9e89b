// The final score: 0.5 at the threshold, monotone in the evidence, highest at the onset of an
// anomaly, fading from the next point on while a deviation merely persists, halved where the
// rules explained it; the local evidence counts where the forecast agrees.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/synthetic.hpp"
#include "vigil/alarms.hpp"
#include "vigil/final_score.hpp"

namespace vigil {
namespace {

// One 5-minute series with hand-made z (threshold 5) and values that never repeat.
struct HandMade {
  Dataset data;
  Scores scores;
  HandMade(size_t T, Direction dir = Direction::Both) {
    data.keys.series_without_dims = 1;
    data.start = 1772409600;
    data.step = 300;
    data.T = T;
    for (size_t t = 0; t < T; ++t) data.values.push_back(100.0f + static_cast<float>(t % 7));
    data.group_dim.clear();
    data.stack_dim.clear();
    scores.transform.assign(1, kCount);
    scores.direction.assign(1, static_cast<uint8_t>(dir));
    scores.threshold.assign(1, 5.0f);
    scores.z.assign(T, 0.3f);
  }
  void set(size_t t0, size_t t1, float z) {
    for (size_t t = t0; t < t1; ++t) scores.z[t] = z;
  }
};

TEST(FinalScore, IsHalfAtTheThresholdAndMonotoneInTheEvidence) {
  HandMade h(40);
  const float zs[] = {0, 1, 2.5f, 5, 7, 10, 20, 40};
  for (size_t k = 0; k < 8; ++k) h.set(4 * k + 1, 4 * k + 2, -zs[k]);  // isolated points
  h.scores.z[0] = NAN;
  const auto s = final_scores(h.data, h.scores, Config{});
  EXPECT_TRUE(std::isnan(s[0]));  // no z yet: no score
  EXPECT_NEAR(s[4 * 3 + 1], 0.5f, 1e-6f);
  for (size_t k = 1; k < 8; ++k) EXPECT_GT(s[4 * k + 1], s[4 * (k - 1) + 1]) << zs[k];
  for (float v : s)
    if (!std::isnan(v)) EXPECT_TRUE(v >= 0 && v <= 1);
}

TEST(FinalScore, OnlyTheMetricsAllowedDirectionCounts) {
  HandMade h(10, Direction::Drop);
  h.set(2, 3, 9.0f);   // a spike on a drops-only metric
  h.set(5, 6, -9.0f);  // a drop
  const auto s = final_scores(h.data, h.scores, Config{});
  EXPECT_EQ(s[2], 0.0f);
  EXPECT_GT(s[5], 0.7f);
}

TEST(FinalScore, APersistingShiftFadesBelowHalfAndAnEscalationIsNewEvidence) {
  HandMade h(200);
  h.set(20, 150, -10.0f);   // a level shift lasting about 11 hours at 5 minutes
  h.set(150, 170, -25.0f);  // then it gets much worse
  const auto s = final_scores(h.data, h.scores, Config{});
  EXPECT_LT(s[19], 0.1f);
  EXPECT_GT(s[20], 0.75f);        // the onset scores at once, in full
  EXPECT_LT(s[21], s[20]);        // one detection per excursion: the next point already fades
  EXPECT_LT(s[23], 0.5f);         // ... below the threshold's 0.5 within a few points
  EXPECT_LT(s[149], 0.5f);
  EXPECT_GT(s[149], 0.19f);       // but never below a quarter: it is still a deviation
  EXPECT_GT(s[150], 0.9f);        // 2.5x deeper: fresh evidence, scored in full
  EXPECT_LT(s[175], 0.1f);        // back to normal
}

TEST(FinalScore, LocalEvidenceCountsWhereTheForecastAgrees) {
  HandMade h(30);
  h.scores.z_calibrated = h.scores.z;
  h.scores.z_local.assign(30, 0.0f);
  h.scores.z_local[5] = -8.0f;        // far below the last hours, and the forecast agrees
  h.scores.z_calibrated[5] = -2.0f;
  h.scores.z_local[15] = -8.0f;       // a steep daily ramp: the forecast expected it
  h.scores.z_calibrated[15] = 0.1f;
  h.scores.z_local[25] = 8.0f;        // the forecast disagrees on the sign
  h.scores.z_calibrated[25] = -2.0f;
  const auto s = final_scores(h.data, h.scores, Config{});
  EXPECT_GT(s[5], 0.75f);  // 2 local thresholds
  EXPECT_LT(s[15], 0.1f);
  EXPECT_LT(s[25], 0.2f);
}

TEST(FinalScore, NothingBelowTheMetricsVolumeFloorIsActionable) {
  HandMade h(20);  // values about 100
  h.set(5, 6, -9.0f);
  h.scores.min_volume.assign(1, 50.0f);
  EXPECT_GT(final_scores(h.data, h.scores, Config{})[5], 0.7f);
  h.scores.min_volume.assign(1, 500.0f);  // the policy: below 500 a move is normal
  EXPECT_EQ(final_scores(h.data, h.scores, Config{})[5], 0.0f);
}

TEST(FinalScore, AStuckSensorScoresOnceItsRunIsImprobable) {
  HandMade h(400);
  for (size_t t = 0; t < 400; ++t) {
    h.data.values[t] = 100.0f + static_cast<float>((t * 37) % 11);  // never the same twice in a row
    if (t < 200) h.scores.z[t] = NAN;                                // the learning phase
  }
  for (size_t t = 300; t < 360; ++t) h.data.values[t] = 104.0f;     // stuck for 5 hours
  const auto s = final_scores(h.data, h.scores, Config{});
  // Learning saw no repeat in 199 pairs: p = 1/201, so a run of k repeats has odds 201^-k and
  // 1e-9 (one threshold) is reached after 4 repeats.
  EXPECT_LT(s[301], 0.2f);
  EXPECT_NEAR(s[304], 0.5f, 0.08f);
  // The run keeps growing more improbable: each 1.5-fold escalation of the evidence is scored anew.
  const auto highest = [](const std::vector<float>& v, size_t from, size_t to) {
    return *std::max_element(v.begin() + from, v.begin() + to);
  };
  EXPECT_GT(highest(s, 305, 320), 0.8f);
  EXPECT_LT(s[365], 0.1f);  // moving again
  // A count that rests at 0 for hours every night is not stuck when it does so again.
  for (size_t t = 0; t < 400; ++t)
    if (t % 100 < 40) h.data.values[t] = 0.0f;
  const auto resting = final_scores(h.data, h.scores, Config{});
  EXPECT_LT(resting[339], 0.2f);
  // A feed that never showed a 0 and then reports 0 for hours is.
  for (size_t t = 0; t < 400; ++t) h.data.values[t] = 100.0f + static_cast<float>((t * 37) % 11);
  for (size_t t = 300; t < 360; ++t) h.data.values[t] = 0.0f;
  EXPECT_GT(highest(final_scores(h.data, h.scores, Config{}), 305, 320), 0.8f);
}

TEST(FinalScore, ExplainedEpisodesScoreBelowHalf) {
  HandMade h(60);
  h.set(10, 20, -9.0f);
  h.set(30, 40, -9.0f);
  Episode explained;
  explained.series = 0;
  explained.first = 10;
  explained.last = 19;
  explained.decision = "suppressed";
  explained.reason = "external_event";
  Episode raised = explained;
  raised.first = 30;
  raised.last = 39;
  raised.decision = "raised";
  raised.reason = "malfunction";
  const std::vector<Episode> episodes{raised, explained};
  const auto s = final_scores(h.data, h.scores, Config{}, &episodes);
  for (size_t t = 10; t < 20; ++t) EXPECT_LT(s[t], 0.5f) << t;
  EXPECT_GT(s[30], 0.5f);  // the raised onset
  for (size_t k = 0; k < 10; ++k) EXPECT_GT(s[30 + k], s[10 + k]) << k;  // the same evidence, not explained
}

TEST(FinalScore, SingleSeriesOnRealisticTrafficRisesAtTheOnsetOfADrop) {
  Dataset d = test::make_traffic(1, 21, 900, 7, {test::TrafficShape{}});
  const size_t onset = 18 * 96 + 80;  // day 18, 20:00
  test::inject(d, 0, onset, onset + 24, 0.6f);
  auto backend = make_cpu_backend(1);
  const auto s = score_single_series(d.values, d.start, d.step, Config{}, *backend);
  ASSERT_EQ(s.size(), d.T);
  EXPECT_TRUE(std::isnan(s[0]));  // learning
  EXPECT_GT(s[onset], 0.5f);      // the first point of the drop
  float before = 0;
  for (size_t t = 3 * 96; t < onset; ++t) before = std::max(before, std::isnan(s[t]) ? 0.0f : s[t]);
  EXPECT_LT(before, s[onset]);    // nothing before it scores as high
}

}  // namespace
}  // namespace vigil
