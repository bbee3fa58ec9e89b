#include "vigil/event_plan.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <numeric>
#include <string_view>
#include <unordered_map>

namespace vigil {

EventPlan plan_events(const EventSchedule& schedule, const Dataset& data) {
  const size_t N = data.N();
  EventPlan plan;
  struct Window {
    uint32_t first, end;
    uint32_t occurrence;
  };
  std::vector<Window> windows;
  for (uint32_t k = 0; k < schedule.events.size(); ++k) {
    const Event& e = schedule.events[k];
    plan.names.push_back(e.name);
    // Steps whose timestamp lies in [start, end).
    const int64_t first = std::max<int64_t>(0, (e.start - data.start + data.step - 1) / data.step);
    const int64_t end = std::min<int64_t>(static_cast<int64_t>(data.T),
                                          e.end <= data.start ? 0 : (e.end - data.start + data.step - 1) / data.step);
    if (end <= first) {
      ++plan.outside;
      continue;
    }
    windows.push_back({static_cast<uint32_t>(first), static_cast<uint32_t>(end), k});
  }
  std::stable_sort(windows.begin(), windows.end(), [](const Window& a, const Window& b) { return a.first < b.first; });
  std::vector<std::vector<uint32_t>> per_series(N);
  for (uint32_t w = 0; w < windows.size(); ++w) {
    const Scope& scope = schedule.events[windows[w].occurrence].scope;
    for (size_t i = 0; i < N; ++i)
      if (scope.matches(data.keys, i)) per_series[i].push_back(w);
  }
  plan.offsets.assign(N + 1, 0);
  for (size_t i = 0; i < N; ++i) {
    plan.offsets[i + 1] = plan.offsets[i] + static_cast<uint32_t>(per_series[i].size());
    for (uint32_t w : per_series[i]) {
      EventEffect entry{windows[w].first, windows[w].end, {}};
      plan.entries.push_back(entry);
      plan.occurrence.push_back(windows[w].occurrence);
    }
  }
  return plan;
}

namespace {

// Mean residual of one entry per segment over the first pass (NaN where no point was usable).
void observe(const EventEffect& entry, size_t column, size_t n_columns, size_t N, size_t series,
             const Dataset& data, uint8_t transform, const std::vector<float>& base, float* observed,
             float* mean_forecast) {
  for (int s = 0; s < kEventSegments; ++s) {
    double sum = 0, sum_f = 0;
    int n = 0;
    for (uint32_t t = entry.first; t < entry.end; ++t) {
      if (static_cast<int>(event_segment(entry, t)) != s) continue;
      const float f = base[t * n_columns + column];
      const float y = transform_value(data.values[t * N + series], transform);
      if (std::isnan(f) || std::isnan(y)) continue;
      sum += y - f;
      sum_f += std::fabs(inverse_transform(f, transform));
      ++n;
    }
    observed[s] = n ? static_cast<float>(sum / n) : NAN;
    mean_forecast[s] = n ? static_cast<float>(sum_f / n) : NAN;
  }
}

}  // namespace

void learn_event_effects(EventPlan& plan, const EventSchedule& schedule, const Dataset& data,
                         const std::vector<uint8_t>& transform, const std::vector<float>& base_forecast,
                         const std::vector<int64_t>& columns, size_t n_columns, const std::string& metric_dim,
                         const EventLearning& learning) {
  const size_t N = data.N();
  const size_t E = plan.entries.size();
  std::vector<float> observed(E * kEventSegments, NAN), level(E * kEventSegments, NAN);
  std::vector<uint32_t> series_of(E);
  for (size_t i = 0; i < N; ++i)
    for (uint32_t e = plan.offsets[i]; e < plan.offsets[i + 1]; ++e) series_of[e] = static_cast<uint32_t>(i);
#pragma omp parallel for schedule(dynamic, 64)
  for (size_t e = 0; e < E; ++e) {
    const size_t i = series_of[e];
    if (columns[i] < 0) continue;
    observe(plan.entries[e], static_cast<size_t>(columns[i]), n_columns, N, i, data, transform[i], base_forecast,
            &observed[e * kEventSegments], &level[e * kEventSegments]);
  }

  // The prior's population: the series of the same (group, stack) that measure the same metric
  // the same way; an event lifts plays while it cuts errors, so metrics never share a prior.
  const int g = data.group_dim.empty() ? -1 : data.keys.dim_index(data.group_dim);
  const int st = data.stack_dim.empty() ? -1 : data.keys.dim_index(data.stack_dim);
  const int m = metric_dim.empty() ? -1 : data.keys.dim_index(metric_dim);
  auto cell_of = [&](size_t i) {
    const uint64_t gc = g >= 0 ? data.keys.code(i, g) : 0, sc = st >= 0 ? data.keys.code(i, st) : 0;
    const uint64_t mc = m >= 0 ? data.keys.code(i, m) : 0;
    return (gc << 40) ^ (sc << 20) ^ (mc << 2) ^ transform[i];
  };
  // Per (cell, occurrence, segment): mean observed effect of the cell's series.
  std::map<std::pair<uint64_t, uint32_t>, std::array<std::pair<double, int>, kEventSegments>> cell_effect;
  for (size_t e = 0; e < E; ++e) {
    auto& acc = cell_effect[{cell_of(series_of[e]), plan.occurrence[e]}];
    for (int s = 0; s < kEventSegments; ++s) {
      const float v = observed[e * kEventSegments + s];
      if (!std::isnan(v)) {
        acc[s].first += v;
        ++acc[s].second;
      }
    }
  }

  // Expected effects from earlier occurrences of the same name only (causal). Per series, its
  // entries sorted by (name, start) are walked once with running sums, so a series with E
  // occurrences costs O(E log E), not O(E^2) (10,000 events on one series took minutes).
  const auto& events = schedule.events;
  std::unordered_map<std::string_view, uint32_t> name_ids;
  std::vector<uint32_t> name_of(events.size());
  for (size_t k = 0; k < events.size(); ++k)
    name_of[k] = name_ids.try_emplace(events[k].name, static_cast<uint32_t>(name_ids.size())).first->second;
  struct Sums {
    double own = 0, cell = 0;
    int n_own = 0, n_cell = 0;
  };
  std::vector<uint32_t> order;
  std::vector<std::array<double, kEventSegments>> cell_mean;  // per entry of the series
  for (size_t i = 0; i < N; ++i) {
    const uint32_t b = plan.offsets[i], end = plan.offsets[i + 1];
    order.resize(end - b);
    std::iota(order.begin(), order.end(), b);
    std::sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
      const uint32_t ex = plan.occurrence[x], ey = plan.occurrence[y];
      if (name_of[ex] != name_of[ey]) return name_of[ex] < name_of[ey];
      return events[ex].start != events[ey].start ? events[ex].start < events[ey].start : x < y;
    });
    cell_mean.resize(end - b);
    const uint64_t cell = cell_of(i);
    for (uint32_t e = b; e < end; ++e) {
      const auto it = cell_effect.find({cell, plan.occurrence[e]});
      for (int s = 0; s < kEventSegments; ++s)
        cell_mean[e - b][s] = it != cell_effect.end() && it->second[s].second > 0
                                  ? it->second[s].first / it->second[s].second
                                  : NAN;
    }
    std::array<Sums, kEventSegments> sums{};
    for (size_t k = 0; k < order.size();) {
      const Event& first = events[plan.occurrence[order[k]]];
      if (k == 0 || name_of[plan.occurrence[order[k - 1]]] != name_of[plan.occurrence[order[k]]]) sums = {};
      // A run of occurrences with the same name and start: none is earlier than another.
      size_t run_end = k;
      while (run_end < order.size() && name_of[plan.occurrence[order[run_end]]] == name_of[plan.occurrence[order[k]]] &&
             events[plan.occurrence[order[run_end]]].start == first.start)
        ++run_end;
      for (size_t r = k; r < run_end; ++r) {
        const uint32_t e = order[r];
        const Event& ev = events[plan.occurrence[e]];
        for (int s = 0; s < kEventSegments; ++s) {
          const Sums& sum = sums[s];
          float prior = NAN;
          if (sum.n_cell > 0) {
            prior = static_cast<float>(sum.cell / sum.n_cell);
          } else if (!std::isnan(ev.expected_impact)) {
            const float f = level[e * kEventSegments + s];
            prior = transform[i] != kIdentity ? std::log1p(std::max(ev.expected_impact, -0.99f))
                                              : (std::isnan(f) ? 0.0f : ev.expected_impact * f);
          }
          float effect = NAN;
          if (sum.n_own > 0) {
            const float mine = static_cast<float>(sum.own / sum.n_own);
            effect = std::isnan(prior) ? mine
                                       : (sum.n_own * mine + learning.shrink_occurrences * prior) /
                                             (sum.n_own + learning.shrink_occurrences);
          } else if (!std::isnan(prior)) {
            effect = prior;
          }
          plan.entries[e].effect[s] = effect;
        }
      }
      for (size_t r = k; r < run_end; ++r) {
        const uint32_t e = order[r];
        for (int s = 0; s < kEventSegments; ++s) {
          const float v = observed[e * kEventSegments + s];
          if (!std::isnan(v)) {
            sums[s].own += v;
            ++sums[s].n_own;
          }
          const double c = cell_mean[e - b][s];
          if (!std::isnan(c)) {
            sums[s].cell += c;
            ++sums[s].n_cell;
          }
        }
      }
      k = run_end;
    }
  }
}

std::string active_events(const EventPlan& plan, size_t series, size_t t) {
  std::string names;
  if (plan.offsets.empty()) return names;
  for (uint32_t e = plan.offsets[series]; e < plan.offsets[series + 1]; ++e) {
    const EventEffect& entry = plan.entries[e];
    if (t < entry.first || t >= entry.end) continue;
    const std::string& name = plan.names[plan.occurrence[e]];
    if ((";" + names + ";").find(";" + name + ";") != std::string::npos) continue;  // once per name
    names += (names.empty() ? "" : ";") + name;
  }
  return names;
}

}  // namespace vigil
