// Candidate episodes: runs of points past the threshold in an allowed direction, with a
// material relative change (min_impact) on log1p and count metrics.
#include <algorithm>
#include <cmath>

#include "vigil/alarms.hpp"

namespace vigil {
namespace {

struct OpenRun {
  bool open = false;
  Direction direction = Direction::Drop;
  uint32_t first = 0, last = 0, points = 0, peak_t = 0;
  float peak_z = 0;
  uint32_t streak = 0, longest = 0;  // consecutive points past the threshold
};

}  // namespace

std::vector<Episode> find_episodes(const Dataset& data, const Scores& scores, const Config& config,
                                   size_t score_from, const std::vector<float>* z_in) {
  const std::vector<float>& z_all = z_in ? *z_in : scores.z;
  const size_t N = data.N(), T = data.T;
  const auto& det = config.detection;
  const uint32_t min_points = static_cast<uint32_t>(
      std::max(2.0, std::ceil(det.min_duration_minutes * 60.0 / static_cast<double>(data.step))));
  const uint32_t gap = static_cast<uint32_t>(det.merge_gap_points);
  const uint32_t learning = static_cast<uint32_t>(scores.params.min_history_steps);

  // A point is past the threshold on its own z, or on the accumulated evidence while its own z
  // deviates the same way by at least `support_z` (a sustained moderate deviation: a 35 % drop
  // held for hours at z -3). The accumulated evidence decays slowly after a recovery; requiring
  // the point's own support keeps the episode from outliving the deviation. Only the main
  // episodes use it (z_in null): the anticipated-event check compares point z with point z.
  const std::vector<float>* accumulated =
      z_in || scores.z_accumulated.empty() || det.support_z <= 0 ? nullptr : &scores.z_accumulated;
  const float support = static_cast<float>(det.support_z);
  // The slow baseline the same way: the forecast has drifted far from earlier days while the
  // point itself is still below (or above) it, so a leak the level followed is still seen.
  const std::vector<float>* baseline =
      z_in || scores.z_baseline.empty() || det.baseline_support_z <= 0 ? nullptr : &scores.z_baseline;
  const float baseline_support = static_cast<float>(det.baseline_support_z);
  // Evidence `v` past the threshold that the point's own z supports: at least `need`, the same way.
  auto supported = [](float v, float zk, float thr, float need) {
    return std::fabs(v) >= thr && std::fabs(zk) >= need && (v < 0) == (zk < 0);
  };
  auto past_at = [&](size_t k, float thr) -> std::pair<bool, bool> {
    const float zk = z_all[k];
    const bool past = std::fabs(zk) >= thr ||  // false for NaN
                      (accumulated && supported((*accumulated)[k], zk, thr, support)) ||
                      (baseline && supported((*baseline)[k], zk, thr, baseline_support));
    return {past, zk < 0};
  };

  constexpr size_t kBlock = 256;  // series per task: time-major rows stay in cache
  const size_t blocks = (N + kBlock - 1) / kBlock;
  std::vector<std::vector<Episode>> found(blocks);

#pragma omp parallel for schedule(dynamic, 1)
  for (size_t b = 0; b < blocks; ++b) {
    const size_t i0 = b * kBlock, n = std::min(kBlock, N - i0);
    std::vector<OpenRun> runs(n);
    auto close = [&](size_t j, OpenRun& r) {
      // Sustained: long enough, with at least two consecutive points past the threshold (two
      // lone glitches a step apart are not an incident).
      if (r.open && r.last - r.first + 1 >= min_points && r.longest >= 2) {
        Episode e;
        e.series = static_cast<uint32_t>(i0 + j);
        e.first = r.first;
        e.last = r.last;
        e.direction = r.direction;
        e.peak_z = r.peak_z;
        e.peak_t = r.peak_t;
        e.points = r.points;
        // Relative change in original units over the points past the threshold.
        std::vector<float> rel;
        const uint8_t transform = scores.transform[e.series];
        const float thr = scores.threshold[e.series];
        float volume = 0;  // the largest of the observed and expected values past the threshold
        for (uint32_t t = r.first; t <= r.last; ++t) {
          const size_t k = t * N + e.series;
          if (!past_at(k, thr).first) continue;
          const float f = inverse_transform(scores.forecast[k], transform);
          if (std::isfinite(f) && std::fabs(f) > 1e-12f) rel.push_back((data.values[k] - f) / std::fabs(f));
          const float observed = data.values[k];
          volume = std::max({volume, std::isfinite(f) ? f : 0.0f, std::isfinite(observed) ? observed : 0.0f});
        }
        // The metric's alarm policy: a low-volume excursion or an isolated blip is no episode.
        const bool policy_ok = (scores.min_volume.empty() || volume >= scores.min_volume[e.series]) &&
                               (scores.min_points.empty() || r.points >= scores.min_points[e.series]);
        if (!rel.empty()) {
          std::nth_element(rel.begin(), rel.begin() + rel.size() / 2, rel.end());
          e.impact = rel[rel.size() / 2];
        }
        // A young model (still learning: see Scores::first_value) needs twice the change.
        const uint32_t born = scores.first_value.empty() ? 0 : scores.first_value[e.series];
        const double min_impact = e.first < born + learning ? 2 * det.min_impact : det.min_impact;
        if (policy_ok && (transform == kIdentity || std::fabs(e.impact) >= min_impact)) found[b].push_back(e);
      }
      r.open = false;
    };
    // Most rows hold no point past any threshold and no open run: a vectorised look skips them.
    float lowest = INFINITY;
    for (size_t j = 0; j < n; ++j) lowest = std::min(lowest, scores.threshold[i0 + j]);
    size_t open_runs = 0;
    for (size_t t = score_from; t < T; ++t) {
      const float* z = z_all.data() + t * N + i0;
      if (open_runs == 0) {
        const float* acc = accumulated ? accumulated->data() + t * N + i0 : nullptr;
        const float* base = baseline ? baseline->data() + t * N + i0 : nullptr;
        bool any = false;
        for (size_t j = 0; j < n; ++j) any |= std::fabs(z[j]) >= lowest;
        for (size_t j = 0; acc && j < n; ++j) any |= std::fabs(acc[j]) >= lowest;
        for (size_t j = 0; base && j < n; ++j) any |= std::fabs(base[j]) >= lowest;
        if (!any) continue;
      }
      for (size_t j = 0; j < n; ++j) {
        OpenRun& r = runs[j];
        const size_t i = i0 + j;
        const Direction allowed = static_cast<Direction>(scores.direction[i]);
        const float zj = z[j];
        const auto [past, drop] = past_at(t * N + i, scores.threshold[i]);
        const Direction d = drop ? Direction::Drop : Direction::Spike;
        const bool counts = past && (allowed == Direction::Both || allowed == d);
        const uint32_t tt = static_cast<uint32_t>(t);
        if (counts) {
          if (r.open && (r.direction != d || tt - r.last - 1 > gap)) close(j, r);
          if (!r.open) {
            r = OpenRun{true, d, tt, tt, 0, tt, zj, 0, 0};
          }
          r.streak = r.last + 1 == tt || r.points == 0 ? r.streak + 1 : 1;
          r.longest = std::max(r.longest, r.streak);
          r.last = tt;
          ++r.points;
          if (std::fabs(zj) > std::fabs(r.peak_z)) {
            r.peak_z = zj;
            r.peak_t = tt;
          }
        } else if (r.open && tt - r.last > gap) {
          close(j, r);
        }
      }
      open_runs = 0;
      for (size_t j = 0; j < n; ++j) open_runs += runs[j].open;
    }
    for (size_t j = 0; j < n; ++j) close(j, runs[j]);
  }
  std::vector<Episode> all;
  for (auto& v : found) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end(), [](const Episode& a, const Episode& b) {
    return a.first != b.first ? a.first < b.first : a.series < b.series;
  });
  return all;
}

}  // namespace vigil
