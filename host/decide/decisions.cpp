// Suppression decisions (DESIGN.md "Decision"): each candidate episode gets a reason code from
// the evidence of the detectors, first rule that applies.
#include <algorithm>
#include <cmath>

#include "vigil/alarms.hpp"

namespace vigil {
namespace {

float sign_of(Direction d) { return d == Direction::Drop ? -1.0f : 1.0f; }

// Mean cell z of the other stacks of series i's group at step t (NaN when none is defined).
float others_cell_z(const Scores& s, size_t i, size_t t) {
  const PeerLayout& L = s.peers;
  const size_t C = L.cells();
  const uint32_t own = L.cell_of_series[i], g = L.group_of_cell[own];
  double sum = 0;
  int n = 0;
  for (uint32_t c = L.group_cell_offsets[g]; c < L.group_cell_offsets[g + 1]; ++c) {
    if (c == own) continue;
    const float v = s.cell_z[t * C + c];
    if (!std::isnan(v)) {
      sum += v;
      ++n;
    }
  }
  return n ? static_cast<float>(sum / n) : NAN;
}

// The last step of an episode's onset, the first `onset_points` points the rules read.
uint32_t onset_end_of(const Episode& e, const Config& config) {
  return std::min(e.last, e.first + static_cast<uint32_t>(config.decisions.onset_points) - 1);
}

void gather_evidence(const Dataset& data, const Scores& s, const Config& config, Episode& e) {
  const size_t N = data.N(), i = e.series;
  const uint32_t onset_end = onset_end_of(e, config);
  const float dir = sign_of(e.direction);
  auto max_over = [&](const std::vector<float>& v, uint32_t t0, uint32_t t1, float sign) {
    float best = NAN;
    for (uint32_t t = t0; t <= t1 && !v.empty(); ++t) {
      const float x = sign * v[t * N + i];
      if (!std::isnan(x) && (std::isnan(best) || x > best)) best = x;
    }
    return best;
  };
  std::vector<float> onset;
  for (uint32_t t = e.first; t <= onset_end; ++t)
    if (!std::isnan(s.z[t * N + i])) onset.push_back(std::fabs(s.z[t * N + i]));
  if (!onset.empty()) {
    std::nth_element(onset.begin(), onset.begin() + onset.size() / 2, onset.end());
    e.onset_z = onset[onset.size() / 2];
  }
  const uint32_t before = e.first > 0 ? e.first - 1 : 0;
  e.derivative = max_over(s.z_derivative, before, onset_end, dir);
  e.volatility = max_over(s.z_volatility, e.first, onset_end, 1.0f);
  if (!s.breadth.empty()) {
    e.breadth = max_over(s.breadth, e.first, onset_end, 1.0f);
    e.correlation = max_over(s.correlation, e.first, onset_end, 1.0f);
    double sum = 0;
    int n = 0;
    for (uint32_t t = e.first; t <= onset_end; ++t) {
      const float g = others_cell_z(s, i, t);
      if (!std::isnan(g)) {
        sum += g;
        ++n;
      }
    }
    e.group_z = n ? static_cast<float>(sum / n) : NAN;
  }
  for (uint32_t t = e.first; t <= e.last; ++t) {
    const std::string names = active_events(s.events, i, t);
    if (names.empty()) continue;
    if (!s.z_base.empty()) {
      const float b = s.z_base[t * N + i];
      if (!std::isnan(b) && (std::isnan(e.base_peak_z) || std::fabs(b) > std::fabs(e.base_peak_z))) e.base_peak_z = b;
    }
    if ((";" + e.events + ";").find(";" + names + ";") == std::string::npos)
      e.events += (e.events.empty() ? "" : ";") + names;
  }
}

size_t other_stacks(const Scores& s, size_t series) {
  const PeerLayout& L = s.peers;
  const uint32_t g = L.group_of_cell[L.cell_of_series[series]];
  return L.group_cell_offsets[g + 1] - L.group_cell_offsets[g] - 1;
}

bool overlaps(const Episode& a, const Episode& b) { return a.first <= b.last && b.first <= a.last; }

// Whether a scheduled occurrence whose effect is still unknown (the first of its name, without an
// expected_impact: the forecast neither adjusts for it nor learns from it) covers series i at
// one of the steps [t0, t1].
bool unknown_event_effect(const EventPlan& plan, size_t i, uint32_t t0, uint32_t t1) {
  if (plan.empty()) return false;
  for (uint32_t k = plan.offsets[i]; k < plan.offsets[i + 1]; ++k) {
    const EventEffect& e = plan.entries[k];
    for (uint32_t t = std::max(t0, e.first); t <= t1 && t < e.end; ++t)
      if (std::isnan(e.effect[event_segment(e, t)])) return true;
  }
  return false;
}

}  // namespace

void decide_episodes(const Dataset& data, const Scores& scores, const Config& config, size_t score_from,
                     std::vector<Episode>& episodes) {
  const auto& d = config.decisions;
  const double hours_per_step = static_cast<double>(data.step) / 3600.0;
  for (Episode& e : episodes) {
    gather_evidence(data, scores, config, e);
    const double hours = (e.last - e.first + 1) * hours_per_step;
    const bool large = std::fabs(e.impact) >= d.ceiling_impact, sustained = hours >= d.ceiling_hours;
    if (large && sustained) continue;  // the hard ceiling: raised whatever the rules say
    // A scheduled event seen for the first time, with no expected impact given: its deviation at
    // the onset is the event's own effect, which the next occurrences learn. Kept in the ledger.
    if (config.mechanisms.events && unknown_event_effect(scores.events, e.series, e.first, onset_end_of(e, config))) {
      e.decision = "suppressed";
      e.reason = "anticipated_event";
      continue;
    }
    const bool peers = !std::isnan(e.breadth);
    if (config.mechanisms.cross_stack && peers && other_stacks(scores, e.series) > 0) {
      // Own and group deviations on the same clipped scale as the cells' robust means.
      const float own = std::min(e.onset_z, static_cast<float>(config.peers.clip_z));
      const float group = sign_of(e.direction) * e.group_z;  // the group's deviation the same way
      const bool broad = e.breadth >= std::max(1.0, d.external_breadth_share * other_stacks(scores, e.series)) ||
                         (e.breadth >= 1.0f && group >= d.external_group_z);
      const bool correlated = e.correlation >= d.external_correlation;
      const bool not_larger = group > 0 && own <= d.external_own_ratio * group;
      if (broad && correlated && not_larger) {
        e.decision = "suppressed";
        e.reason = "external_event";
        continue;
      }
    }
    // A gradual shift: no sharp onset, no erratic spread, and broad (other stacks move too), so
    // an isolated slow leak is never explained away; below the ceiling on both size and length.
    if (config.mechanisms.ensemble && peers && e.breadth >= 1.0f && !large && !sustained &&
        !(e.derivative >= d.gradual_derivative) && !(e.volatility >= d.gradual_volatility)) {
      e.decision = "suppressed";
      e.reason = "gradual_shift";
    }
  }

  // anticipated_event: what the raw forecast flagged during scheduled events and the
  // event-adjusted one did not. Kept in the ledger so users see what the schedule explained.
  if (config.mechanisms.events && !scores.z_base.empty()) {
    std::vector<Episode> raw = find_episodes(data, scores, config, score_from, &scores.z_base);
    for (Episode& r : raw) {
      gather_evidence(data, scores, config, r);
      if (r.events.empty()) continue;
      bool seen = false;
      for (const Episode& e : episodes) seen = seen || (e.series == r.series && overlaps(e, r));
      if (seen) continue;
      r.decision = "suppressed";
      r.reason = "anticipated_event";
      r.peak_z = r.base_peak_z;
      episodes.push_back(r);
    }
    std::stable_sort(episodes.begin(), episodes.end(), [](const Episode& a, const Episode& b) {
      return a.first != b.first ? a.first < b.first : a.series < b.series;
    });
  }

}

std::vector<Notice> collect_notices(const Dataset& data, const Config& config, std::vector<Episode>& episodes) {
  // One notice per (group, time window) for the external events, however many series.
  std::vector<Notice> notices;
  const int group_dim = data.group_dim.empty() ? -1 : data.keys.dim_index(data.group_dim);
  const uint32_t window = static_cast<uint32_t>(config.detection.group_window_minutes * 60.0 / data.step);
  for (uint32_t k = 0; k < episodes.size(); ++k) {
    Episode& e = episodes[k];
    if (e.reason != "external_event") continue;
    const uint32_t code = group_dim >= 0 ? data.keys.code(e.series, group_dim) : 0;
    Notice* into = nullptr;
    for (auto& n : notices)
      if (n.group_code == code && e.first <= n.last + window) into = &n;
    if (!into) {
      notices.push_back(Notice{});
      into = &notices.back();
      into->group_dim = group_dim >= 0 ? static_cast<uint32_t>(group_dim) : 0;
      into->group_code = code;
      into->first = e.first;
      into->direction = e.direction;
    }
    into->episodes.push_back(k);
    into->last = std::max(into->last, e.last);
    if (std::fabs(e.peak_z) > std::fabs(into->peak_z)) into->peak_z = e.peak_z;
    if (std::find(into->series.begin(), into->series.end(), e.series) == into->series.end())
      into->series.push_back(e.series);
    e.notice = static_cast<long>(into - notices.data());
  }
  for (auto& n : notices) std::sort(n.series.begin(), n.series.end());
  return notices;
}

std::vector<Notice> decide(const Dataset& data, const Scores& scores, const Config& config, size_t score_from,
                           std::vector<Episode>& episodes) {
  decide_episodes(data, scores, config, score_from, episodes);
  return collect_notices(data, config, episodes);
}

}  // namespace vigil
