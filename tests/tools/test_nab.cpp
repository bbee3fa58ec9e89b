// NAB's scoring rule (computed by hand here), the classic detectors, the generated corpus, and
// `vigil nab` end to end: vigil's final score against the classic detectors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/test_util.hpp"
#include "vigil/tools/classic_detectors.hpp"
#include "vigil/error.hpp"
#include "vigil/tools/nab.hpp"
#include "vigil/tools/nab_corpus.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

using nab::LabelledFile;
using nab::Window;

const nab::Profile& standard() { return nab::profiles()[0]; }
const nab::Profile& low_fp() { return nab::profiles()[1]; }
const nab::Profile& low_fn() { return nab::profiles()[2]; }

// NAB's sigmoid, written out independently of the code under test.
double sigmoid_by_hand(double x) { return 2.0 / (1.0 + std::exp(5.0 * x)) - 1.0; }

// One file of 1000 rows (probation: rows 0-149) with one window, rows 450-550 (width 101).
LabelledFile one_window_file() { return {"f.csv", 1000, {{450, 550}}}; }

std::vector<double> firing_at(size_t rows, std::vector<size_t> at, double score = 1.0) {
  std::vector<double> s(rows, 0.0);
  for (size_t i : at) s[i] = score;
  return s;
}

double raw_at(const LabelledFile& file, const std::vector<double>& scores, const nab::Profile& p,
              double threshold = 0.5) {
  return nab::raw_score({file}, {scores}, p, threshold);
}

TEST(NabWindows, CentredOnLabelsWithNabLength) {
  // int(0.1 * 1000 / 1) = 100 rows: 50 on each side of the label.
  const auto one = nab::windows_from_labels(1000, {500});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].first, 450u);
  EXPECT_EQ(one[0].last, 550u);
  // Two labels share the 10 %: 50 rows each, 25 on either side.
  const auto two = nab::windows_from_labels(1000, {700, 300});
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].first, 275u);
  EXPECT_EQ(two[0].last, 325u);
  EXPECT_EQ(two[1].first, 675u);
  EXPECT_EQ(two[1].last, 725u);
  // Clipped at the end of the file.
  EXPECT_EQ(nab::windows_from_labels(1000, {990})[0].last, 999u);
}

TEST(NabWindows, FirstWindowInProbationIsDroppedAndOverlapsMerge) {
  const auto dropped = nab::windows_from_labels(1000, {100, 600});
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0].first, 575u);
  const auto merged = nab::windows_from_labels(1000, {500, 520});
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged[0].first, 475u);
  EXPECT_EQ(merged[0].last, 545u);
}

TEST(NabWindows, LabelledSegmentsGetTenPercentOfTheFileCentredOnThem) {
  std::vector<uint8_t> labels(1000, 0);
  for (size_t i = 300; i < 310; ++i) labels[i] = 1;  // a 10-row segment
  for (size_t i = 700; i < 760; ++i) labels[i] = 1;  // a 60-row segment
  // Two segments: int(0.1 * 1000 / 2) = 50 rows each, centred; never narrower than the segment.
  const auto w = nab::windows_from_segments(labels);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].first, 280u);
  EXPECT_EQ(w[0].last, 329u);
  EXPECT_EQ(w[1].first, 700u);
  EXPECT_EQ(w[1].last, 759u);
  // Three segments, int(0.1 * 200 / 3) = 6 rows each: rows 0-1 get [0, 3] (clipped at the
  // start), row 5 gets [3, 7], which shares row 3 with it: one window; row 199 gets [197, 199].
  std::vector<uint8_t> close(200, 0);
  close[0] = close[1] = 1;
  close[5] = 1;
  close[199] = 1;
  const auto m = nab::windows_from_segments(close);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].first, 0u);
  EXPECT_EQ(m[0].last, 7u);
  EXPECT_EQ(m[1].first, 197u);
  EXPECT_EQ(m[1].last, 199u);
  EXPECT_TRUE(nab::windows_from_segments(std::vector<uint8_t>(50, 0)).empty());
}

TEST(NabWindows, ProbationaryPeriodIsFifteenPercentCappedAt750) {
  EXPECT_EQ(nab::probationary_length(1000), 150u);
  EXPECT_EQ(nab::probationary_length(4032), 604u);
  EXPECT_EQ(nab::probationary_length(22695), 750u);
}

TEST(NabScoring, ScaledSigmoidMatchesNab) {
  EXPECT_NEAR(nab::scaled_sigmoid(-1.0), 0.98661, 1e-5);
  EXPECT_NEAR(nab::scaled_sigmoid(-0.5), 0.84828, 1e-5);
  EXPECT_NEAR(nab::scaled_sigmoid(0.0), 0.0, 1e-12);
  EXPECT_NEAR(nab::scaled_sigmoid(1.0), -0.98661, 1e-5);
  EXPECT_EQ(nab::scaled_sigmoid(3.0), -1.0);
  EXPECT_EQ(nab::scaled_sigmoid(7.5), -1.0);
}

TEST(NabScoring, DetectionAtTheWindowStartScoresOneHundred) {
  const LabelledFile file = one_window_file();
  const auto choice = nab::optimise_thresholds({file}, {firing_at(1000, {450})});
  for (size_t p = 0; p < nab::profiles().size(); ++p) {
    EXPECT_NEAR(choice[p].raw, 1.0, 1e-12) << nab::profiles()[p].name;
    EXPECT_NEAR(choice[p].normalised, 100.0, 1e-9) << nab::profiles()[p].name;
    EXPECT_EQ(choice[p].threshold, 1.0);
  }
}

TEST(NabScoring, NeverFiringScoresZero) {
  const LabelledFile file = one_window_file();
  EXPECT_EQ(raw_at(file, firing_at(1000, {}), standard()), -1.0);
  EXPECT_EQ(raw_at(file, firing_at(1000, {}), low_fn()), -2.0);
  // Firing everywhere costs more than it earns, so the optimiser prefers never firing.
  const auto choice = nab::optimise_thresholds({file}, {std::vector<double>(1000, 0.3)});
  for (const auto& c : choice) {
    EXPECT_EQ(c.threshold, nab::kNeverFires);
    EXPECT_EQ(c.normalised, 0.0);
  }
}

TEST(NabScoring, EarlierDetectionInAWindowScoresMore) {
  const LabelledFile file = one_window_file();
  const double early = raw_at(file, firing_at(1000, {470}), standard());
  const double middle = raw_at(file, firing_at(1000, {500}), standard());
  const double late = raw_at(file, firing_at(1000, {550}), standard());
  EXPECT_GT(early, middle);
  EXPECT_GT(middle, late);
  EXPECT_GT(late, 0.0);
  // Row 500: position -(550 - 500 + 1) / 101 in the window, scaled so the left edge earns 1.
  EXPECT_NEAR(middle, sigmoid_by_hand(-51.0 / 101.0) / sigmoid_by_hand(-1.0), 1e-12);
  EXPECT_NEAR(late, sigmoid_by_hand(-1.0 / 101.0) / sigmoid_by_hand(-1.0), 1e-12);
}

TEST(NabScoring, OnlyTheFirstDetectionInAWindowCounts) {
  const LabelledFile file = one_window_file();
  EXPECT_NEAR(raw_at(file, firing_at(1000, {450, 470, 520, 550}), standard()), 1.0, 1e-12);
}

TEST(NabScoring, EachFalsePositiveCostsItsWeight) {
  const LabelledFile file = one_window_file();
  // Before any window: a full A_FP.
  EXPECT_NEAR(raw_at(file, firing_at(1000, {450, 300}), standard()), 1.0 - 0.11, 1e-12);
  EXPECT_NEAR(raw_at(file, firing_at(1000, {450, 300, 310}), standard()), 1.0 - 0.22, 1e-12);
  EXPECT_NEAR(raw_at(file, firing_at(1000, {450, 300}), low_fp()), 1.0 - 0.22, 1e-12);
  // One window width (100 rows = width - 1) after the window: scaled_sigmoid(1) of A_FP.
  EXPECT_NEAR(raw_at(file, firing_at(1000, {450, 650}), standard()), 1.0 + 0.11 * sigmoid_by_hand(1.0), 1e-12);
  // Right after the window the penalty is small; three widths on it is a full A_FP.
  EXPECT_NEAR(raw_at(file, firing_at(1000, {450, 551}), standard()), 1.0 + 0.11 * sigmoid_by_hand(0.01), 1e-12);
  EXPECT_NEAR(raw_at(file, firing_at(1000, {450, 900}), standard()), 1.0 - 0.11, 1e-12);
}

TEST(NabScoring, ProbationaryPeriodIsIgnored) {
  const LabelledFile file = one_window_file();
  EXPECT_NEAR(raw_at(file, firing_at(1000, {450, 0, 100, 149}), standard()), 1.0, 1e-12);
  EXPECT_NEAR(raw_at(file, firing_at(1000, {450, 150}), standard()), 1.0 - 0.11, 1e-12);
  // A window wholly inside the probationary period is not scored at all.
  const LabelledFile early{"e.csv", 1000, {{50, 80}, {450, 550}}};
  EXPECT_EQ(nab::scored_windows({early}), 1u);
  EXPECT_NEAR(raw_at(early, firing_at(1000, {450}), standard()), 1.0, 1e-12);
}

TEST(NabScoring, NormalisationUsesNullAndPerfect) {
  EXPECT_NEAR(nab::normalised_score(-3, 3, standard()), 0.0, 1e-12);
  EXPECT_NEAR(nab::normalised_score(3, 3, standard()), 100.0, 1e-12);
  EXPECT_NEAR(nab::normalised_score(0, 3, standard()), 50.0, 1e-12);
  EXPECT_NEAR(nab::normalised_score(0, 3, low_fn()), 100.0 * 6 / 9, 1e-12);
}

TEST(NabThreshold, PicksTheBestThreshold) {
  const LabelledFile file = one_window_file();
  std::vector<double> s(1000, 0.0);
  s[300] = s[310] = 0.9;  // two false positives outscore the true detection
  s[460] = 0.8;
  s[200] = 0.5;
  const auto choice = nab::optimise_thresholds({file}, {s});
  // 1.1: -1; 0.9: -1.22; 0.8: -0.22 + the detection at 460; 0.5: one more false positive.
  const double at_08 = -0.22 + sigmoid_by_hand(-91.0 / 101.0) / sigmoid_by_hand(-1.0);
  EXPECT_EQ(choice[0].threshold, 0.8);
  EXPECT_NEAR(choice[0].raw, at_08, 1e-12);
  EXPECT_NEAR(choice[0].raw, raw_at(file, s, standard(), 0.8), 1e-12);
  // reward_low_FP: A_FP 0.22 makes two false positives cost 0.44, still worth the detection.
  EXPECT_EQ(choice[1].threshold, 0.8);
}

TEST(NabThreshold, SweepAgreesWithScoringEveryThreshold) {
  // Three files with random scores: the sweep's optimum equals the best of raw_score over every
  // distinct score value.
  std::vector<LabelledFile> corpus = {{"a", 800, nab::windows_from_labels(800, {300, 600})},
                                      {"b", 1200, nab::windows_from_labels(1200, {900})},
                                      {"c", 500, {}}};
  uint64_t state = 12345;
  const auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  };
  nab::CorpusScores scores;
  std::set<double> candidates = {nab::kNeverFires};
  for (const auto& f : corpus) {
    std::vector<double> s(f.rows);
    for (double& v : s) v = std::floor(next() * 200) / 200;  // ties, as real detectors have
    candidates.insert(s.begin(), s.end());
    scores.push_back(s);
  }
  const auto choice = nab::optimise_thresholds(corpus, scores);
  for (size_t p = 0; p < nab::profiles().size(); ++p) {
    double best = -1e300;
    for (double t : candidates) best = std::max(best, nab::raw_score(corpus, scores, nab::profiles()[p], t));
    EXPECT_NEAR(choice[p].raw, best, 1e-9) << nab::profiles()[p].name;
    EXPECT_NEAR(nab::raw_score(corpus, scores, nab::profiles()[p], choice[p].threshold), best, 1e-9);
  }
}

TEST(NabThreshold, CountsAndDelayAtAThreshold) {
  const LabelledFile file{"f.csv", 1000, {{450, 550}, {700, 800}}};
  const auto counts = nab::detection_counts({file}, {firing_at(1000, {460, 480, 300, 900, 100})}, 0.5);
  EXPECT_EQ(counts.detected_windows, 1u);
  EXPECT_EQ(counts.missed_windows, 1u);
  EXPECT_EQ(counts.false_positive_points, 2u);  // 300 and 900; 100 is in probation
  EXPECT_EQ(counts.median_delay_points, 10.0);
}

TEST(NabInput, ParsesCombinedWindowsAndLabels) {
  const auto windows = nab::parse_labels_json(
      R"({"realKnownCause/a.csv": [["2014-04-10 07:15:00.000000", "2014-04-11 16:45:00.000000"]],
          "b/c.csv": []})",
      "w.json");
  ASSERT_EQ(windows.size(), 2u);
  std::map<std::string, nab::FileLabels> by_name(windows.begin(), windows.end());
  ASSERT_EQ(by_name["realKnownCause/a.csv"].windows.size(), 1u);
  EXPECT_EQ(by_name["realKnownCause/a.csv"].windows[0].first, 1397114100);  // 2014-04-10 07:15:00 UTC
  EXPECT_TRUE(by_name["b/c.csv"].windows.empty());
  const auto labels = nab::parse_labels_json(R"({"a.csv": ["2014-04-10 07:15:00"]})", "l.json");
  ASSERT_EQ(labels[0].second.labels.size(), 1u);
  EXPECT_THROW(nab::parse_labels_json("[1, 2]", "x.json"), InputError);
  EXPECT_THROW(nab::parse_labels_json(R"({"a.csv": [["2014-04-10", "nonsense"]]})", "x.json"), InputError);
}

TEST(NabInput, WindowsFromTimesTakeTheRowsInside) {
  const std::vector<int64_t> times = {0, 300, 600, 900, 1200, 1500};
  const auto w = nab::windows_from_times(times, {{250, 950}, {5000, 6000}});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].first, 1u);
  EXPECT_EQ(w[0].last, 3u);
}

TEST(NabInput, IrregularRowsSnapToTheCommonStep) {
  // Mostly 300 s apart, one row 20 s late, one gap, and two rows landing on one grid point.
  const std::vector<int64_t> times = {0, 300, 620, 900, 1200, 1500, 2400, 2640, 2700};
  const std::vector<float> values = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const auto grid = nab::place_on_grid(times, values);
  EXPECT_EQ(grid.step, 300);
  ASSERT_EQ(grid.values.size(), 10u);
  EXPECT_EQ(grid.grid_index, (std::vector<size_t>{0, 1, 2, 3, 4, 5, 8, 9, 9}));
  EXPECT_EQ(grid.values[2], 3.0f);
  EXPECT_TRUE(std::isnan(grid.values[6]));
  EXPECT_TRUE(std::isnan(grid.values[7]));
  EXPECT_EQ(grid.values[9], 9.0f);  // the later row wins
}

// --- classic detectors -----------------------------------------------------------------------------

// Ten days of 5-minute points: a daily cycle, deterministic noise, one large spike.
std::vector<float> daily_series_with_spike(size_t spike_at) {
  std::vector<float> v(2880);
  uint64_t state = 7;
  for (size_t t = 0; t < v.size(); ++t) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const double noise = (static_cast<double>(state >> 11) * 0x1.0p-53 - 0.5) * 4;
    v[t] = static_cast<float>(100 + 20 * std::sin(2 * M_PI * static_cast<double>(t) / 288) + noise);
  }
  v[spike_at] += 60;
  return v;
}

size_t argmax_after(const std::vector<double>& s, size_t from) {
  return static_cast<size_t>(std::max_element(s.begin() + static_cast<long>(from), s.end()) - s.begin());
}

TEST(NabClassic, EveryDetectorRanksAnObviousSpikeFirst) {
  const size_t spike = 2500;
  const auto v = daily_series_with_spike(spike);
  const std::vector<std::pair<const char*, std::vector<double>>> scores = {
      {"rolling z-score", classic::rolling_zscore(v, 288)},
      {"windowed Gaussian", classic::windowed_gaussian(v)},
      {"seasonal ESD", classic::seasonal_esd(v, 300)},
  };
  for (const auto& [name, s] : scores) {
    ASSERT_EQ(s.size(), v.size()) << name;
    for (double x : s) ASSERT_TRUE(x >= 0.0 && x <= 1.0) << name;
    EXPECT_EQ(argmax_after(s, 600), spike) << name;
  }
  // The seasonal ESD flags the spike (score above one half) and little else.
  const auto esd = classic::seasonal_esd(v, 300);
  EXPECT_GT(esd[spike], 0.5);
  size_t flagged = 0;
  for (double x : esd) flagged += x > 0.5;
  EXPECT_LT(flagged, 10u);
}

TEST(NabClassic, DetectorsAreCausal) {
  auto v = daily_series_with_spike(2500);
  const auto before = classic::seasonal_esd(v, 300);
  const auto z_before = classic::rolling_zscore(v, 288);
  for (size_t t = 2000; t < v.size(); ++t) v[t] += 500;  // the future changes
  const auto after = classic::seasonal_esd(v, 300);
  const auto z_after = classic::rolling_zscore(v, 288);
  for (size_t t = 0; t < 2000; ++t) {
    ASSERT_EQ(before[t], after[t]) << t;
    ASSERT_EQ(z_before[t], z_after[t]) << t;
  }
}

TEST(NabClassic, QuantilesAndEsdCriticalValues) {
  EXPECT_NEAR(classic::normal_quantile(0.975), 1.959964, 1e-6);
  EXPECT_NEAR(classic::normal_quantile(1e-6), -4.753424, 1e-5);
  EXPECT_NEAR(classic::student_t_quantile(0.975, 30), 2.042272, 1e-4);
  EXPECT_NEAR(classic::student_t_quantile(0.995, 100), 2.625891, 1e-4);
  // NIST/SEMATECH's generalized ESD example (n = 54): lambda_1 = 3.158, lambda_10 = 3.085.
  EXPECT_NEAR(classic::esd_critical_value(54, 1, 0.05), 3.158, 2e-3);
  EXPECT_NEAR(classic::esd_critical_value(54, 10, 0.05), 3.085, 2e-3);
}

// --- the generated corpus --------------------------------------------------------------------------

TEST(NabCorpus, DeterministicPerSeedAndIndependentOfSize) {
  const auto a = nab::generate_nab_corpus(4, 11);
  const auto b = nab::generate_nab_corpus(4, 11);
  const auto other = nab::generate_nab_series(3, 12);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].values, b[i].values);
    EXPECT_EQ(a[i].name, b[i].name);
  }
  EXPECT_EQ(nab::generate_nab_series(3, 11).values, a[3].values);
  EXPECT_NE(other.values, a[3].values);
}

TEST(NabCorpus, VariedFilesWithLabelsInsideTheScoredData) {
  const auto corpus = nab::generate_nab_corpus(24, 1);
  std::set<std::string> kinds, types;
  std::set<int64_t> steps;
  const auto& known = nab::nab_anomaly_types();
  for (const auto& s : corpus) {
    kinds.insert(s.kind);
    steps.insert(s.step);
    EXPECT_GE(s.values.size(), 3000u);
    EXPECT_LE(s.values.size(), 16000u);
    for (float v : s.values) ASSERT_TRUE(std::isfinite(v)) << s.name;
    ASSERT_GE(s.anomalies.size(), 1u);
    ASSERT_LE(s.anomalies.size(), 4u);
    std::vector<size_t> onsets;
    for (const auto& a : s.anomalies) {
      EXPECT_LT(a.onset, s.values.size()) << s.name;
      EXPECT_GE(a.onset, nab::probationary_length(s.values.size())) << s.name;
      EXPECT_NE(std::find(known.begin(), known.end(), a.type), known.end()) << a.type;
      types.insert(a.type);
      onsets.push_back(a.onset);
    }
    // NAB's construction keeps one window per label: none dropped, none merged.
    EXPECT_EQ(nab::windows_from_labels(s.values.size(), onsets).size(), onsets.size()) << s.name;
  }
  EXPECT_EQ(kinds.size(), 6u);
  EXPECT_EQ(steps.size(), 3u);
  EXPECT_GE(types.size(), 6u);
}

// --- `vigil nab` ---------------------------------------------------------------------------------------

TEST(NabCli, VigilBeatsEachClassicDetectorOnTheStandardProfile) {
  test::TempDir dir;
  const auto r = test::run_vigil("nab --files 12 --seed 1 --json " + dir.file("nab.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  std::printf("%s", r.out.c_str());  // the table, for whoever tunes the final score
  const auto j = nlohmann::json::parse(test::read_file(dir.file("nab.json")));
  const auto& detectors = j["detectors"];
  ASSERT_EQ(detectors.size(), 4u);
  ASSERT_EQ(detectors[0]["detector"], "vigil");
  const double vigil = detectors[0]["standard"]["score"].get<double>();
  for (size_t d = 1; d < detectors.size(); ++d)
    EXPECT_GT(vigil, detectors[d]["standard"]["score"].get<double>()) << detectors[d]["detector"];
}

TEST(NabCli, ReadsNabFilesAndLabels) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "data" / "realKnownCause");
  // 2000 rows, 5 minutes apart with a little jitter, a jump at row 1500.
  std::string csv = "timestamp,value\n";
  for (int i = 0; i < 2000; ++i) {
    const int64_t t = 1396137600 + 300 * i + (i % 7 == 3 ? 20 : 0);
    char row[64];
    std::snprintf(row, sizeof row, "%s,%d\n", format_iso(t).c_str(), (i >= 1500 ? 80 : 50) + (i * 37 % 11));
    csv += row;
  }
  test::write_file((dir.path() / "data" / "realKnownCause" / "jump.csv").string(), csv);
  test::write_file(dir.file("windows.json"),
                   R"({"realKnownCause/jump.csv": [["2014-04-03 20:40:00.000000", "2014-04-04 13:20:00.000000"]]})");
  const auto r = test::run_vigil("nab --data " + dir.file("data") + " --labels " + dir.file("windows.json") +
                                 " --json " + dir.file("out.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(test::read_file(dir.file("out.json")));
  EXPECT_EQ(j["corpus"]["files"], 1);
  EXPECT_EQ(j["corpus"]["windows"], 1);
  EXPECT_EQ(j["corpus"]["points"], 2000);

  test::write_file(dir.file("other.json"), R"({"realKnownCause/other.csv": []})");
  const auto missing = test::run_vigil("nab --data " + dir.file("data") + " --labels " + dir.file("other.json"));
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("jump.csv"), std::string::npos) << missing.err;
  const auto alone = test::run_vigil("nab --data " + dir.file("data"));
  EXPECT_EQ(alone.code, 2);  // no labels file and no label column
  EXPECT_NE(alone.err.find("label"), std::string::npos) << alone.err;
}

// The cloud-monitoring format: `TimeStamp,Value,Label` (any case, fields may be quoted), one
// label per row, no labels file.
TEST(NabCli, ReadsALabelColumnPerRow) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "data" / "service");
  std::string csv = "\"TimeStamp\",\"Value\",\"Label\"\n";
  for (int i = 0; i < 4320; ++i) {  // three days a minute apart; the forecast scores from the second
    const bool incident = i >= 3000 && i < 3030;
    char row[96];
    std::snprintf(row, sizeof row, "\"%s\",\"%d\",\"%d\"\n", format_iso(1530000000 + 60 * i).c_str(),
                  (incident ? 400 : 100) + (i * 37 % 23), incident ? 1 : 0);  // (1530000000: a round minute)
    csv += row;
  }
  test::write_file((dir.path() / "data" / "service" / "rps.csv").string(), csv);
  const auto r = test::run_vigil("nab --data " + dir.file("data") + " --json " + dir.file("out.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(test::read_file(dir.file("out.json")));
  EXPECT_EQ(j["corpus"]["files"], 1);
  EXPECT_EQ(j["corpus"]["windows"], 1);
  EXPECT_EQ(j["corpus"]["points"], 4320);
  // The step up at row 3000 is found at once by vigil: the window is detected.
  EXPECT_EQ(j["detectors"][0]["detector"], "vigil");
  EXPECT_EQ(j["detectors"][0]["at_standard_threshold"]["detected_windows"], 1) << j["detectors"][0].dump();

  // A label that is not 0/1: one line naming the file and the line, exit 2, no output.
  std::string bad = csv;
  bad.replace(bad.find(",\"0\"\n", 50000), 6, ",\"2\"\n");
  test::write_file((dir.path() / "data" / "service" / "rps.csv").string(), bad);
  const auto wrong = test::run_vigil("nab --data " + dir.file("data") + " --json " + dir.file("bad.json"));
  EXPECT_EQ(wrong.code, 2);
  EXPECT_NE(wrong.err.find("rps.csv:"), std::string::npos) << wrong.err;
  EXPECT_NE(wrong.err.find("label '2' is not 0 or 1"), std::string::npos) << wrong.err;
  EXPECT_EQ(std::count(wrong.err.begin(), wrong.err.end(), '\n'), 1) << wrong.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.json")));
}

// The real development data (shared/data/cloud-monitoring, 60 production series labelled by
// experts), when it is beside the repository: vigil's final score at least 10 NAB points above
// the best classic detector on the standard profile (README "Detection on real data").
TEST(NabCli, BeatsTheClassicDetectorsOnRealCloudMonitoringData) {
  const std::filesystem::path data = std::filesystem::path(VIGIL_SOURCE_DIR) / ".." / "shared" / "data" /
                                     "cloud-monitoring";
  if (!std::filesystem::is_directory(data)) GTEST_SKIP() << data << " is not here";
  test::TempDir dir;
  const auto r = test::run_vigil("nab --data " + data.string() + " --json " + dir.file("out.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  std::printf("%s", r.out.c_str());
  const auto j = nlohmann::json::parse(test::read_file(dir.file("out.json")));
  EXPECT_EQ(j["corpus"]["files"], 60);
  const auto& detectors = j["detectors"];
  ASSERT_EQ(detectors[0]["detector"], "vigil");
  double best_classic = -1e9;
  for (size_t d = 1; d < detectors.size(); ++d)
    best_classic = std::max(best_classic, detectors[d]["standard"]["score"].get<double>());
  EXPECT_GE(detectors[0]["standard"]["score"].get<double>(), best_classic + 10);
}

}  // namespace
}  // namespace vigil
