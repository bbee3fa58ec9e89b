#include "vigil/final_score.hpp"

#include <algorithm>
#include <cmath>

#include "vigil/alarms.hpp"

namespace vigil {
namespace {

// Where an excursion of one series stands: how long it has run and how far it has gone.
struct Excursion {
  uint32_t age = 0;    // points since it opened; 0 = no excursion
  uint32_t quiet = 0;  // consecutive points back under half the threshold
  float peak = 0;      // largest evidence so far, in thresholds
};

// A stuck sensor: the run of points repeating the previous value, judged against how often the
// series repeated itself while the model was learning; zeros apart, since a count rests at 0 for
// hours at night without anything being stuck.
struct Repeats {
  float last_value = NAN;  // the previous valid value
  uint32_t run = 0;        // consecutive points repeating it
  float repeats[2] = {0, 0}, pairs[2] = {0, 0};  // learning phase, [after a 0, after another value]
};

// Escalating past this multiple of the excursion's peak renews it (fresh evidence).
constexpr float kEscalation = 1.5f;
// A persisting excursion fades toward this share of its score.
constexpr float kFadeFloor = 0.25f;
// A run of repeats as improbable as this (under independent repeats) is one threshold.
constexpr float kStuckOdds = 1e9f;

}  // namespace

std::vector<float> final_scores(const Dataset& data, const Scores& scores, const Config& config,
                                const std::vector<Episode>* episodes) {
  const size_t N = data.N(), T = data.T;
  std::vector<float> out(T * N, NAN);
  // Per series, the spans the rules explained away.
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> explained(N);
  if (episodes)
    for (const Episode& e : *episodes)
      if (e.decision != "raised") explained[e.series].emplace_back(e.first, e.last);
  for (auto& spans : explained) std::sort(spans.begin(), spans.end());
  // One detection per excursion: its first point scores in full, every later point halves its
  // way toward the floor unless it escalates. Holding the full score for an hour instead cost 7
  // NAB points on the real cloud-monitoring series (65.2 -> 57.8): each persisting point past the
  // threshold is one more page for the same incident.
  constexpr uint32_t hold = 1;
  const float fade_rate = std::log(2.0f);
  const uint32_t gap = static_cast<uint32_t>(config.detection.merge_gap_points);

  const float stuck_surprise = std::log(kStuckOdds);
  const float local_threshold = static_cast<float>(config.evidence.local_threshold);
  const float local_gate = static_cast<float>(config.evidence.local_gate_z);

  constexpr size_t kBlock = 1024;  // series per task, walked through time together (time-major)
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i0 = 0; i0 < N; i0 += kBlock) {
    const size_t i1 = std::min(N, i0 + kBlock);
    std::vector<Excursion> state(i1 - i0);
    std::vector<Repeats> repeats(i1 - i0);
    std::vector<size_t> next_span(i1 - i0, 0);
    for (size_t t = 0; t < T; ++t)
      for (size_t i = i0; i < i1; ++i) {
        const size_t p = t * N + i;
        // Scores made without the evidence stage (a caller's own z) are judged on z alone.
        const float z = scores.z_calibrated.empty() ? scores.z[p] : scores.z_calibrated[p];
        const float local = scores.z_local.empty() ? NAN : scores.z_local[p];
        const float value = data.values[p];
        Excursion& x = state[i - i0];
        Repeats& m = repeats[i - i0];
        if (std::isfinite(value)) {
          if (!std::isnan(m.last_value)) {
            const bool same = value == m.last_value;
            m.run = same ? m.run + 1 : 0;
            if (std::isnan(z)) {  // before the first z (about a day): how often does it repeat itself?
              const int kind = m.last_value != 0.0f;
              m.repeats[kind] += same;
              m.pairs[kind] += 1;
            }
          }
          m.last_value = value;
        }
        // No z yet (or a missing point): no score, and an excursion neither opens nor closes. The
        // local evidence counts only where the forecast agrees, so it never scores alone.
        if (std::isnan(z)) continue;
        const Direction dir = static_cast<Direction>(scores.direction[i]);
        auto allowed = [dir](float v) {
          return std::max(dir == Direction::Drop ? -v : dir == Direction::Spike ? v : std::fabs(v), 0.0f);
        };
        const float forecast_r = allowed(z) / scores.threshold[i];
        // The local evidence counts where the forecast agrees that something is off (same sign,
        // |calibrated z| >= local_gate_z): a daily ramp is steep against the last hours but not
        // against the seasonal forecast.
        const bool agrees = !std::isnan(local) && std::fabs(z) >= local_gate && (z < 0) == (local < 0);
        const float local_r = agrees ? allowed(local) / local_threshold : 0.0f;
        float r = std::max(forecast_r, local_r);  // evidence in thresholds
        // The metric's alarm policy: below its volume floor nothing is actionable (a spike of a
        // count that is small anyway). The forecast is in transformed space.
        if (!scores.min_volume.empty() && scores.min_volume[i] > 0) {
          const float expected =
              scores.forecast.empty() ? 0.0f : inverse_transform(scores.forecast[p], scores.transform[i]);
          if (!(std::max(value, expected) >= scores.min_volume[i])) r = 0;
        }
        const int kind = m.last_value != 0.0f;
        // A value kind the learning phase never saw (a first 0) is judged by the series as a whole.
        const float seen_repeats = m.pairs[kind] > 0 ? m.repeats[kind] : m.repeats[0] + m.repeats[1];
        const float seen_pairs = m.pairs[kind] > 0 ? m.pairs[kind] : m.pairs[0] + m.pairs[1];
        if (m.run > 0 && seen_pairs > 0) {
          const float repeat_p = (seen_repeats + 1.0f) / (seen_pairs + 2.0f);  // Laplace's rule
          r = std::max(r, static_cast<float>(m.run) * -std::log(repeat_p) / stuck_surprise);
        }
        if (r >= 1.0f) {
          // The peak is the evidence last scored in full (the onset or an escalation), so evidence
          // that keeps growing, like a stuck sensor's ever longer run, is scored anew at each
          // 1.5-fold step.
          if (x.age == 0 || r > kEscalation * x.peak) x = Excursion{0, 0, r};
          x.quiet = 0;
          ++x.age;
        } else if (x.age > 0) {
          x.quiet = r < 0.5f ? x.quiet + 1 : 0;
          ++x.age;
          if (x.quiet > gap) x = Excursion{};
        }
        float score = r * r / (1.0f + r * r);
        if (x.age > hold)
          score *= kFadeFloor + (1.0f - kFadeFloor) * std::exp(-fade_rate * static_cast<float>(x.age - hold));
        auto& spans = explained[i];
        size_t& k = next_span[i - i0];
        while (k < spans.size() && spans[k].second < t) ++k;
        for (size_t j = k; j < spans.size() && spans[j].first <= t; ++j)
          if (t <= spans[j].second) {
            score *= 0.5f;
            break;
          }
        out[p] = score;
      }
  }
  return out;
}

std::vector<float> score_single_series(const std::vector<float>& values, int64_t start, int64_t step,
                                       const Config& config, Backend& backend) {
  Dataset data;
  data.keys.series_without_dims = 1;
  data.start = start;
  data.step = step;
  data.T = values.size();
  data.values = values;
  data.group_dim.clear();
  data.stack_dim.clear();
  const Scores scores = score_dataset(data, config, backend);
  // One series has no peers: every rule that could explain its episodes needs peers or a
  // schedule, so its final score needs no episodes.
  return final_scores(data, scores, config);
}

}  // namespace vigil
