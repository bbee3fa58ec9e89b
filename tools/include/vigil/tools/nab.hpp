#pragma once
// The scoring rule of the Numenta Anomaly Benchmark (NAB), as its code computes it
// (nab/labeler.py for the windows, nab/sweeper.py for the per-point weights and the threshold
// sweep, nab/runner.py for the normalisation). A detector is judged on a corpus of files, each
// with labelled anomaly windows: the earliest detection in a window earns up to A_TP (less the
// later it comes), a window without a detection costs A_FN, and every detection outside the
// windows costs up to A_FP (less right after a window). One threshold per detector and profile
// is chosen to maximise the score over the whole corpus.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vigil::nab {

// The cost matrix of one NAB application profile.
struct Profile {
  const char* name;
  double tp_weight, fp_weight, fn_weight;
};
// standard (1, 0.11, 1), reward_low_FP_rate (1, 0.22, 1), reward_low_FN_rate (1, 0.11, 2).
const std::vector<Profile>& profiles();

// Rows first..last of a file, both included.
struct Window {
  size_t first = 0, last = 0;
  size_t width() const { return last - first + 1; }
};

// The rows of one file and its anomaly windows, sorted and disjoint.
struct LabelledFile {
  std::string name;
  size_t rows = 0;
  std::vector<Window> windows;
};

// NAB's probationary period: the first min(floor(0.15 * rows), 750) rows, where no detection
// counts (the detector is still learning).
size_t probationary_length(size_t rows);

// NAB's labeler (applyWindows + checkWindows): each labelled row gets a window of
// int(0.1 * rows / labels) rows centred on it and clipped to the file; the first window is
// dropped when it starts inside the probationary period, and overlapping windows are merged.
std::vector<Window> windows_from_labels(size_t rows, std::vector<size_t> label_rows);

// Windows from per-row labels that mark whole anomalous segments (a `Label` column: runs of 1s),
// as NAB makes them from its point labels: each segment is one anomaly with a window of
// int(0.1 * rows / segments) rows centred on it, never narrower than the segment itself;
// overlapping windows are merged. No window is dropped: one that ends inside the probationary
// period simply is not scored.
std::vector<Window> windows_from_segments(const std::vector<uint8_t>& labels);

// 2 * sigmoid(-5 x) - 1, and -1 from x = 3 on: the reward of a detection at relative position x
// (-1 = a window's left edge, 0 = its right edge, > 0 = that many window widths after it).
double scaled_sigmoid(double relative_position);

// Detections are points whose score is >= the threshold; this one never fires (NAB's 1.1: every
// score lies in [0, 1]).
constexpr double kNeverFires = 1.1;

// Per file and point: the detector's score in [0, 1]. NaN counts as 0.
using CorpusScores = std::vector<std::vector<double>>;

// The raw NAB score of a corpus at one threshold (the sum of the files' scores).
double raw_score(const std::vector<LabelledFile>& corpus, const CorpusScores& scores, const Profile& profile,
                 double threshold);

// Windows that have at least one row after the probationary period: the ones that count.
size_t scored_windows(const std::vector<LabelledFile>& corpus);

// 100 * (raw - null) / (perfect - null): 0 = never firing (every window missed), 100 = a detection
// at the left edge of every window and no false positive.
double normalised_score(double raw, size_t windows, const Profile& profile);

struct ThresholdChoice {
  double threshold = kNeverFires;
  double raw = 0;
  double normalised = 0;
};

// The threshold that maximises the corpus's raw score, for every profile (in profiles() order).
// One sorted sweep over all scored points, O(P log P), as nab/sweeper.py does; among equal scores
// the highest threshold wins, as in NAB.
std::vector<ThresholdChoice> optimise_thresholds(const std::vector<LabelledFile>& corpus, const CorpusScores& scores);

// Per file and window: the first detecting row after the probationary period, or -1 (missed).
std::vector<std::vector<long>> first_detections(const std::vector<LabelledFile>& corpus, const CorpusScores& scores,
                                                double threshold);

struct DetectionCounts {
  size_t detected_windows = 0, missed_windows = 0;
  size_t false_positive_points = 0;  // detections outside every window, after probation
  double median_delay_points = 0;    // first detection - window start, over detected windows (NaN: none)
};
DetectionCounts detection_counts(const std::vector<LabelledFile>& corpus, const CorpusScores& scores,
                                 double threshold);

// A detector's whole NAB report: each profile's optimised threshold and normalised score, and the
// counts at the standard profile's threshold.
struct DetectorReport {
  std::string detector;
  std::vector<ThresholdChoice> by_profile;  // profiles() order
  DetectionCounts standard_counts;
};
DetectorReport evaluate_detector(const std::string& detector, const std::vector<LabelledFile>& corpus,
                                 const CorpusScores& scores);

// NAB's combined_windows.json: {"dir/file.csv": [["2014-02-19 10:50:00.000000", "..."], ...]},
// or combined_labels.json: {"dir/file.csv": ["2014-02-19 10:50:00", ...]} (labelled timestamps;
// the windows then come from windows_from_labels). Timestamps as unix seconds; InputError when the
// text is not one of these. `source` names the file in error messages.
struct FileLabels {
  std::vector<std::pair<int64_t, int64_t>> windows;  // explicit windows, or
  std::vector<int64_t> labels;                       // labelled timestamps
};
std::vector<std::pair<std::string, FileLabels>> parse_labels_json(const std::string& text, const std::string& source);

// Rows of a file (timestamps in row order, ascending) inside explicit windows: the first row at or
// after the start to the last row at or before the end, as nab/scorer.py's Window does. Windows
// without a row are dropped.
std::vector<Window> windows_from_times(const std::vector<int64_t>& row_times,
                                       const std::vector<std::pair<int64_t, int64_t>>& windows);

// Real NAB files are not all on a regular grid (jitter, gaps). vigil and the classic detectors read
// a grid: step = the most common gap between consecutive rows, each row snapped to the nearest
// grid point from the first row's time (a later row wins a shared point), grid points without a
// row are NaN. `grid_index` maps each row to its grid point, so scores go back to the rows.
// Row times must be ascending.
struct GridPlacement {
  int64_t start = 0, step = 1;
  std::vector<float> values;
  std::vector<size_t> grid_index;  // per row
};
GridPlacement place_on_grid(const std::vector<int64_t>& row_times, const std::vector<float>& row_values);

}  // namespace vigil::nab
