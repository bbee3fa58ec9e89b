#include "vigil/tools/nab.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>

#include "vigil/error.hpp"
#include "vigil/timeutil.hpp"

namespace vigil::nab {

const std::vector<Profile>& profiles() {
  static const std::vector<Profile> kProfiles = {
      {"standard", 1.0, 0.11, 1.0},
      {"reward_low_FP_rate", 1.0, 0.22, 1.0},
      {"reward_low_FN_rate", 1.0, 0.11, 2.0},
  };
  return kProfiles;
}

size_t probationary_length(size_t rows) {
  // nab/util.py getProbationPeriod: min(floor(0.15 * rows), 0.15 * 5000).
  return std::min(static_cast<size_t>(std::floor(0.15 * static_cast<double>(rows))), static_cast<size_t>(750));
}

namespace {

// Sorts and merges overlapping or touching windows. NAB's checkWindows merges a window into the
// previous one when it starts at or before that one's end; it checks each pair once, so three
// mutually overlapping windows can stay overlapped there. Merging fully keeps windows disjoint,
// which the sweep needs; it differs from NAB only on labels closer than a window length.
std::vector<Window> merged(std::vector<Window> windows) {
  std::sort(windows.begin(), windows.end(), [](const Window& a, const Window& b) { return a.first < b.first; });
  std::vector<Window> out;
  for (const Window& w : windows) {
    if (!out.empty() && w.first <= out.back().last)
      out.back().last = std::max(out.back().last, w.last);
    else
      out.push_back(w);
  }
  return out;
}

double score_or_zero(double s) { return std::isnan(s) ? 0.0 : s; }

// Visits every point after the probationary period with what a detection there is worth, per
// unit of weight (nab/sweeper.py calcSweepScore): inside window w, scaled_sigmoid of the position
// in the window divided by scaled_sigmoid(-1) (times A_TP: the left edge earns exactly A_TP);
// outside, scaled_sigmoid of the distance past the preceding window in its widths, or -1 before
// any window (times A_FP). visit(row, window index or -1, unit value).
template <class Visit>
void for_each_scored_point(const LabelledFile& file, Visit&& visit) {
  const double max_tp = scaled_sigmoid(-1.0);
  const size_t probation = probationary_length(file.rows);
  size_t next = 0;  // the first window that does not end before the current row
  for (size_t i = probation; i < file.rows; ++i) {
    while (next < file.windows.size() && file.windows[next].last < i) ++next;
    if (next < file.windows.size() && file.windows[next].first <= i) {
      const Window& w = file.windows[next];
      const double position = -static_cast<double>(w.last - i + 1) / static_cast<double>(w.width());
      visit(i, static_cast<long>(next), scaled_sigmoid(position) / max_tp);
    } else if (next == 0) {
      visit(i, -1L, -1.0);
    } else {
      const Window& prev = file.windows[next - 1];
      // NAB divides by width - 1; a one-row window would divide by zero there.
      const double span = static_cast<double>(std::max<size_t>(prev.width(), 2) - 1);
      visit(i, -1L, scaled_sigmoid(static_cast<double>(i - prev.last) / span));
    }
  }
}

bool window_is_scored(const Window& w, size_t probation) { return w.last >= probation; }

}  // namespace

std::vector<Window> windows_from_labels(size_t rows, std::vector<size_t> label_rows) {
  if (rows == 0 || label_rows.empty()) return {};
  std::sort(label_rows.begin(), label_rows.end());
  // Python 2's int(0.1 * rows / n), then integer halves on either side of the label.
  const size_t length = static_cast<size_t>(0.1 * static_cast<double>(rows) / static_cast<double>(label_rows.size()));
  const size_t half = length / 2;
  std::vector<Window> windows;
  for (size_t label : label_rows) {
    label = std::min(label, rows - 1);
    windows.push_back({label >= half ? label - half : 0, std::min(label + half, rows - 1)});
  }
  // checkWindows: only the first window is tested against the probationary period.
  if (windows.front().first < probationary_length(rows)) windows.erase(windows.begin());
  return merged(std::move(windows));
}

std::vector<Window> windows_from_segments(const std::vector<uint8_t>& labels) {
  std::vector<Window> segments;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!labels[i]) continue;
    if (!segments.empty() && segments.back().last + 1 == i) segments.back().last = i;
    else segments.push_back({i, i});
  }
  if (segments.empty()) return {};
  const size_t rows = labels.size();
  const size_t length = static_cast<size_t>(0.1 * static_cast<double>(rows) / static_cast<double>(segments.size()));
  std::vector<Window> windows;
  for (const Window& s : segments) {
    const size_t extend = length > s.width() ? (length - s.width()) / 2 : 0;
    windows.push_back({s.first >= extend ? s.first - extend : 0, std::min(s.last + extend, rows - 1)});
  }
  return merged(std::move(windows));
}

double scaled_sigmoid(double relative_position) {
  if (relative_position >= 3.0) return -1.0;  // far past a window: a full false positive
  return 2.0 / (1.0 + std::exp(5.0 * relative_position)) - 1.0;
}

double raw_score(const std::vector<LabelledFile>& corpus, const CorpusScores& scores, const Profile& profile,
                 double threshold) {
  double total = 0;
  for (size_t f = 0; f < corpus.size(); ++f) {
    const LabelledFile& file = corpus[f];
    // The first detection in a window is its best one: the reward falls through the window.
    std::vector<double> best(file.windows.size(), NAN);
    std::vector<bool> scored(file.windows.size(), false);
    double false_positives = 0;
    for_each_scored_point(file, [&](size_t i, long w, double unit) {
      if (w >= 0) scored[w] = true;
      if (score_or_zero(scores[f][i]) < threshold) return;
      if (w < 0)
        false_positives += unit;
      else if (std::isnan(best[w]))
        best[w] = unit;
    });
    total += profile.fp_weight * false_positives;
    for (size_t w = 0; w < best.size(); ++w) {
      if (!scored[w]) continue;
      total += std::isnan(best[w]) ? -profile.fn_weight : profile.tp_weight * best[w];
    }
  }
  return total;
}

size_t scored_windows(const std::vector<LabelledFile>& corpus) {
  size_t n = 0;
  for (const LabelledFile& file : corpus) {
    const size_t probation = probationary_length(file.rows);
    for (const Window& w : file.windows) n += window_is_scored(w, probation) && w.first < file.rows;
  }
  return n;
}

double normalised_score(double raw, size_t windows, const Profile& profile) {
  if (windows == 0) return 0;
  const double null_score = -profile.fn_weight * static_cast<double>(windows);
  const double perfect = profile.tp_weight * static_cast<double>(windows);
  return 100.0 * (raw - null_score) / (perfect - null_score);
}

std::vector<ThresholdChoice> optimise_thresholds(const std::vector<LabelledFile>& corpus, const CorpusScores& scores) {
  struct Point {
    double score;
    long window;  // corpus-wide window index, -1 outside every window
    double unit;
  };
  std::vector<Point> points;
  size_t window_base = 0;
  for (size_t f = 0; f < corpus.size(); ++f) {
    for_each_scored_point(corpus[f], [&](size_t i, long w, double unit) {
      points.push_back({score_or_zero(scores[f][i]), w < 0 ? -1 : static_cast<long>(window_base) + w, unit});
    });
    window_base += corpus[f].windows.size();
  }
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) { return a.score > b.score; });

  // Lowering the threshold adds points one score value at a time. Each profile's total is
  //   A_FP * (sum of false-positive units) + A_TP * (sum of the detected windows' best units)
  //   - A_FN * (undetected windows),
  // so three running sums serve every profile at once.
  const std::vector<Profile>& all = profiles();
  const size_t windows = scored_windows(corpus);
  std::vector<double> best_unit(window_base, NAN);
  double fp_units = 0, tp_units = 0;
  size_t detected = 0;
  std::vector<ThresholdChoice> best(all.size());
  for (size_t p = 0; p < all.size(); ++p) {
    best[p].raw = -all[p].fn_weight * static_cast<double>(windows);
    best[p].threshold = kNeverFires;
  }
  for (size_t k = 0; k < points.size();) {
    const double threshold = points[k].score;
    for (; k < points.size() && points[k].score == threshold; ++k) {
      const Point& pt = points[k];
      if (pt.window < 0) {
        fp_units += pt.unit;
      } else if (std::isnan(best_unit[pt.window])) {
        best_unit[pt.window] = pt.unit;
        tp_units += pt.unit;
        ++detected;
      } else if (pt.unit > best_unit[pt.window]) {
        tp_units += pt.unit - best_unit[pt.window];
        best_unit[pt.window] = pt.unit;
      }
    }
    for (size_t p = 0; p < all.size(); ++p) {
      const double total = all[p].fp_weight * fp_units + all[p].tp_weight * tp_units -
                           all[p].fn_weight * static_cast<double>(windows - detected);
      if (total > best[p].raw) best[p] = {threshold, total, 0};
    }
  }
  for (size_t p = 0; p < all.size(); ++p) best[p].normalised = normalised_score(best[p].raw, windows, all[p]);
  return best;
}

std::vector<std::vector<long>> first_detections(const std::vector<LabelledFile>& corpus, const CorpusScores& scores,
                                                double threshold) {
  std::vector<std::vector<long>> out(corpus.size());
  for (size_t f = 0; f < corpus.size(); ++f) {
    out[f].assign(corpus[f].windows.size(), -1);
    for_each_scored_point(corpus[f], [&](size_t i, long w, double) {
      if (w >= 0 && out[f][w] < 0 && score_or_zero(scores[f][i]) >= threshold) out[f][w] = static_cast<long>(i);
    });
  }
  return out;
}

DetectionCounts detection_counts(const std::vector<LabelledFile>& corpus, const CorpusScores& scores,
                                 double threshold) {
  DetectionCounts counts;
  const auto first = first_detections(corpus, scores, threshold);
  std::vector<double> delays;
  for (size_t f = 0; f < corpus.size(); ++f) {
    const size_t probation = probationary_length(corpus[f].rows);
    for (size_t w = 0; w < corpus[f].windows.size(); ++w) {
      const Window& window = corpus[f].windows[w];
      if (!window_is_scored(window, probation)) continue;
      if (first[f][w] < 0) {
        ++counts.missed_windows;
        continue;
      }
      ++counts.detected_windows;
      delays.push_back(static_cast<double>(first[f][w]) - static_cast<double>(window.first));
    }
    for_each_scored_point(corpus[f], [&](size_t i, long w, double) {
      if (w < 0 && score_or_zero(scores[f][i]) >= threshold) ++counts.false_positive_points;
    });
  }
  counts.median_delay_points = NAN;
  if (!delays.empty()) {
    std::sort(delays.begin(), delays.end());
    const size_t n = delays.size();
    counts.median_delay_points = n % 2 ? delays[n / 2] : 0.5 * (delays[n / 2 - 1] + delays[n / 2]);
  }
  return counts;
}

DetectorReport evaluate_detector(const std::string& detector, const std::vector<LabelledFile>& corpus,
                                 const CorpusScores& scores) {
  DetectorReport report;
  report.detector = detector;
  report.by_profile = optimise_thresholds(corpus, scores);
  report.standard_counts = detection_counts(corpus, scores, report.by_profile.front().threshold);
  return report;
}

namespace {

int64_t timestamp_of(const nlohmann::json& value, const std::string& source, const std::string& file) {
  if (!value.is_string()) throw InputError(where(source, 0, "'" + file + "': timestamps must be strings"));
  const auto t = parse_timestamp(value.get<std::string>());
  if (!t) throw InputError(where(source, 0, "'" + file + "': bad timestamp '" + value.get<std::string>() + "'"));
  return *t;
}

}  // namespace

std::vector<std::pair<std::string, FileLabels>> parse_labels_json(const std::string& text, const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(where(source, 0, std::string("not JSON: ") + e.what()));
  }
  if (!doc.is_object())
    throw InputError(where(source, 0, "expected an object of file -> windows (NAB's combined_windows.json)"));
  std::vector<std::pair<std::string, FileLabels>> out;
  for (const auto& [file, entries] : doc.items()) {
    if (!entries.is_array()) throw InputError(where(source, 0, "'" + file + "': expected a list"));
    FileLabels labels;
    for (const auto& entry : entries) {
      if (entry.is_array()) {
        if (entry.size() != 2) throw InputError(where(source, 0, "'" + file + "': a window is [start, end]"));
        const int64_t start = timestamp_of(entry[0], source, file), end = timestamp_of(entry[1], source, file);
        if (end < start) throw InputError(where(source, 0, "'" + file + "': a window ends before it starts"));
        labels.windows.emplace_back(start, end);
      } else {
        labels.labels.push_back(timestamp_of(entry, source, file));
      }
    }
    if (!labels.windows.empty() && !labels.labels.empty())
      throw InputError(where(source, 0, "'" + file + "': mixes windows and labelled timestamps"));
    out.emplace_back(file, std::move(labels));
  }
  return out;
}

std::vector<Window> windows_from_times(const std::vector<int64_t>& row_times,
                                       const std::vector<std::pair<int64_t, int64_t>>& windows) {
  std::vector<Window> out;
  for (const auto& [start, end] : windows) {
    const auto first = std::lower_bound(row_times.begin(), row_times.end(), start);
    const auto past_last = std::upper_bound(row_times.begin(), row_times.end(), end);
    if (first >= past_last) continue;
    out.push_back({static_cast<size_t>(first - row_times.begin()), static_cast<size_t>(past_last - row_times.begin()) - 1});
  }
  return merged(std::move(out));
}

GridPlacement place_on_grid(const std::vector<int64_t>& row_times, const std::vector<float>& row_values) {
  GridPlacement grid;
  if (row_times.empty()) return grid;
  std::map<int64_t, size_t> gaps;
  for (size_t i = 1; i < row_times.size(); ++i)
    if (row_times[i] > row_times[i - 1]) ++gaps[row_times[i] - row_times[i - 1]];
  size_t most = 0;
  for (const auto& [gap, count] : gaps)  // ascending gaps: the smallest of equally common ones
    if (count > most) most = count, grid.step = gap;
  grid.start = row_times.front();
  grid.grid_index.resize(row_times.size());
  size_t points = 0;
  for (size_t i = 0; i < row_times.size(); ++i) {
    // Nearest grid point, halves rounded up (timestamps are ascending, so this never goes back).
    grid.grid_index[i] = static_cast<size_t>((row_times[i] - grid.start + grid.step / 2) / grid.step);
    points = std::max(points, grid.grid_index[i] + 1);
  }
  grid.values.assign(points, NAN);
  for (size_t i = 0; i < row_times.size(); ++i) grid.values[grid.grid_index[i]] = row_values[i];
  return grid;
}

}  // namespace vigil::nab
