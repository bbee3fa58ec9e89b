#include "vigil/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <unordered_map>

namespace vigil {

namespace {

// The events mechanism's first pass, on the series that have occurrences only: their forecast
// with event points frozen, from which learn_event_effects measures each occurrence.
void learn_effects(const Dataset& data, Scores& s, const EventSchedule& schedule, const std::string& metric_dim,
                   const EventLearning& learning, Backend& backend) {
  const size_t N = data.N(), T = data.T;
  std::vector<int64_t> column(N, -1);
  std::vector<uint32_t> members;
  for (size_t i = 0; i < N; ++i)
    if (s.events.offsets[i + 1] > s.events.offsets[i]) {
      column[i] = static_cast<int64_t>(members.size());
      members.push_back(static_cast<uint32_t>(i));
    }
  const size_t M = members.size();
  std::vector<float> values(T * M), forecast(T * M), z(T * M);
  std::vector<uint8_t> transform(M);
  std::vector<uint32_t> offsets(M + 1, 0);
  std::vector<EventEffect> entries;
  for (size_t j = 0; j < M; ++j) {
    const uint32_t i = members[j];
    transform[j] = s.transform[i];
    entries.insert(entries.end(), s.events.entries.begin() + s.events.offsets[i],
                   s.events.entries.begin() + s.events.offsets[i + 1]);
    offsets[j + 1] = static_cast<uint32_t>(entries.size());
  }
#pragma omp parallel for schedule(static)
  for (size_t t = 0; t < T; ++t)
    for (size_t j = 0; j < M; ++j) values[t * M + j] = data.values[t * N + members[j]];
  ForecastInput in{values.data(), transform.data(), T, M, offsets.data(), entries.data(), entries.size(), true};
  backend.forecast(s.params, in, ForecastOutput{forecast.data(), z.data(), nullptr, nullptr, nullptr});
  learn_event_effects(s.events, schedule, data, s.transform, forecast, column, M, metric_dim, learning);
}

}  // namespace

EvidenceParams young_widening_params(const ForecastParams& forecast) {
  EvidenceParams p;
  p.young_until = static_cast<float>(forecast.min_history_steps);
  p.young_slope = forecast.young_slope;
  return p;
}

EvidenceParams make_evidence_params(const EvidenceSettings& s, const ForecastParams& forecast) {
  const int64_t step = forecast.step;
  auto rate = [](double points) { return static_cast<float>(1.0 - std::exp(-1.0 / std::max(points, 1.0))); };
  EvidenceParams p;
  p.quantile_rate = static_cast<float>(1.0 / s.calibration_points);
  p.prior_points = static_cast<float>(s.prior_points);
  p.prior_width = static_cast<float>(s.prior_width);
  p.max_gain = static_cast<float>(s.max_gain);
  p.accumulate_rate = rate(std::max(3.0, s.accumulate_minutes * 60.0 / static_cast<double>(step)));
  p.accumulate_se = std::sqrt(p.accumulate_rate / (2.0f - p.accumulate_rate));
  p.clip = static_cast<float>(s.clip_z);
  const double local_points = std::max(10.0, s.local_hours * 3600.0 / static_cast<double>(step));
  p.local_rate = rate(local_points);
  p.local_warm = static_cast<float>(local_points / 4);
  const EvidenceParams young = young_widening_params(forecast);
  p.young_until = young.young_until;
  p.young_slope = young.young_slope;
  return p;
}

void accumulate_traits(const float* values, size_t T, size_t n, size_t pitch, uint8_t* traits) {
  constexpr size_t kBlock = 4096;  // series per task, scanned row by row (time-major)
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i0 = 0; i0 < n; i0 += kBlock) {
    const size_t i1 = std::min(n, i0 + kBlock);
    // Branch-free over 32-bit lanes, so the row's loop vectorises.
    uint32_t bits[kBlock] = {};
    for (size_t t = 0; t < T; ++t) {
      const float* row = values + t * pitch + i0;
      for (size_t k = 0; k < i1 - i0; ++k) {
        const float v = row[k];
        const float a = std::fabs(v);
        const uint32_t finite = a <= 3.4028234664e38f;  // false for NaN and inf
        // A fraction without a libm call: every float of magnitude 2^23 or more is whole.
        const float small = a < 8388608.0f ? v : 0.0f;
        const uint32_t fraction = static_cast<float>(static_cast<int32_t>(small)) != small;
        bits[k] |= finite * (uint32_t{kHasValue} | (v < 0.0f ? uint32_t{kHasNegative} : 0u) |
                             (fraction ? uint32_t{kHasFraction} : 0u));
      }
    }
    for (size_t i = i0; i < i1; ++i) traits[i] |= static_cast<uint8_t>(bits[i - i0]);
  }
}

SeriesRules derive_series_rules(const Keys& keys, const std::vector<uint8_t>& traits, const Config& config) {
  const size_t N = keys.num_series();
  const int metric_dim = keys.dim_index(config.metric_dim);
  std::unordered_map<uint32_t, uint8_t> metric_traits;  // by metric code
  if (metric_dim >= 0)
    for (size_t i = 0; i < N; ++i) metric_traits[keys.code(i, metric_dim)] |= traits[i];
  SeriesRules r;
  r.has_data.resize(N);
  r.transform.resize(N);
  r.direction.resize(N);
  r.threshold.resize(N);
  r.min_volume.resize(N);
  r.min_points.resize(N);
  for (size_t i = 0; i < N; ++i) {
    r.has_data[i] = (traits[i] & kHasValue) != 0;
    const MetricRule& rule = metric_dim >= 0 ? config.rule_for(keys.value(i, metric_dim)) : config.default_rule;
    const uint8_t bits = metric_dim >= 0 ? metric_traits[keys.code(i, metric_dim)] : traits[i];
    switch (rule.transform) {
      case Transform::Identity: r.transform[i] = kIdentity; break;
      case Transform::Log1p: r.transform[i] = kLog1p; break;
      case Transform::Count: r.transform[i] = kCount; break;
      default: r.transform[i] = (bits & kHasNegative) ? kIdentity : (bits & kHasFraction) ? kLog1p : kCount;
    }
    r.direction[i] = static_cast<uint8_t>(rule.direction);
    r.threshold[i] = static_cast<float>(rule.threshold > 0 ? rule.threshold : config.detection.threshold);
    r.min_volume[i] = static_cast<float>(rule.min_volume);
    r.min_points[i] = static_cast<uint32_t>(rule.min_points);
  }
  return r;
}

Scores score_dataset(const Dataset& data, const Config& config, Backend& backend, const EventSchedule* schedule,
                     const SeriesRules* rules) {
  Scores s;
  score_dataset_into(data, config, backend, schedule, rules, s);
  return s;
}

void score_dataset_into(const Dataset& data, const Config& config, Backend& backend, const EventSchedule* schedule,
                        const SeriesRules* rules, Scores& s, bool every_output) {
  const size_t N = data.N(), T = data.T;
  // The [T][N] arrays keep their memory (the forecast overwrites every element); the rest is
  // reset.
  s.events = EventPlan{};
  s.peers = PeerLayout{};
  s.seconds = s.event_seconds = s.peer_seconds = s.evidence_seconds = 0;
  s.params = make_forecast_params(config.forecast, data.start, data.step, T);
  SeriesRules own;
  if (!rules) {
    std::vector<uint8_t> traits(N, 0);
    accumulate_traits(data.values.data(), T, N, N, traits.data());
    own = derive_series_rules(data.keys, traits, config);
    rules = &own;
  }
  s.transform = rules->transform;
  s.has_data = rules->has_data;
  // Most series have a value in the first rows: the scan stops once every series has one.
  s.first_value.assign(N, static_cast<uint32_t>(T));
  for (size_t t = 0, missing = N; t < T && missing > 0; ++t)
    for (size_t i = 0; i < N; ++i)
      if (s.first_value[i] == T && std::isfinite(data.values[t * N + i])) {
        s.first_value[i] = static_cast<uint32_t>(t);
        --missing;
      }
  s.direction = rules->direction;
  s.threshold = rules->threshold;
  s.min_volume = rules->min_volume;
  s.min_points = rules->min_points;

  using clock = std::chrono::steady_clock;
  auto since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
  ForecastInput in{data.values.data(), s.transform.data(), T, N};
  if (schedule && config.mechanisms.events) {
    const auto te = clock::now();
    s.events = plan_events(*schedule, data);
    if (!s.events.empty())
      learn_effects(data, s, *schedule, config.metric_dim,
                    EventLearning{static_cast<float>(config.peers.event_shrink_occurrences)}, backend);
    s.event_seconds = since(te);
    in.event_offsets = s.events.offsets.data();
    in.event_effects = s.events.entries.data();
    in.event_count = s.events.entries.size();
    s.z_base.resize(T * N);
  } else {
    s.z_base.clear();
  }
  s.forecast.resize(T * N);
  s.z.resize(T * N);
  s.z_derivative.resize(T * N);
  s.z_volatility.resize(T * N);
  s.scale.resize(s.want_scale ? T * N : 0);
  BatchStagesInput batch;
  batch.forecast_params = s.params;
  batch.forecast = in;
  batch.per_day = static_cast<size_t>(s.params.points_per_day);
  if (config.mechanisms.cross_stack) {
    s.peers = make_peer_layout(data);
    s.cell_z.resize(T * s.peers.cells());
    s.breadth.resize(T * N);
    s.correlation.resize(T * N);
    batch.layout = &s.peers;
    batch.peer_params.clip_z = static_cast<float>(config.peers.clip_z);
    batch.peer_params.deviating_z = static_cast<float>(config.peers.deviating_z);
    batch.peer_params.correlation_rate = static_cast<float>(
        1.0 - std::exp(-static_cast<double>(data.step) / (3600.0 * config.peers.correlation_hours)));
  } else {
    s.cell_z.clear();
    s.breadth.clear();
    s.correlation.clear();
  }
  EvidenceParams& ep = batch.evidence_params;
  ep = make_evidence_params(config.evidence, s.params);
  if (!every_output) {  // only what opens episodes (episodes.cpp)
    ep.with_local = ep.with_calibrated = false;
    ep.with_accumulated = config.detection.support_z > 0;
    ep.with_baseline = config.detection.baseline_support_z > 0;
  }
  auto output = [T, N](bool wanted, std::vector<float>& v) {
    if (wanted) v.resize(T * N);
    else v.clear();
    return wanted ? v.data() : nullptr;
  };
  BatchStageTimes times;
  BatchStagesOutput out;
  out.forecast = ForecastOutput{s.forecast.data(), s.z.data(), s.z_base.empty() ? nullptr : s.z_base.data(),
                                s.z_derivative.data(), s.z_volatility.data(),
                                s.scale.empty() ? nullptr : s.scale.data()};
  if (batch.layout) out.peers = PeerOutput{s.cell_z.data(), s.breadth.data(), s.correlation.data()};
  out.evidence = EvidenceOutput{output(ep.with_local, s.z_local), output(ep.with_calibrated, s.z_calibrated),
                                output(ep.with_accumulated, s.z_accumulated), output(ep.with_baseline, s.z_baseline)};
  out.times = &times;
  backend.score_batch(batch, out);
  s.seconds = times.forecast;
  s.peer_seconds = times.peers;
  s.evidence_seconds = times.evidence;
}

}  // namespace vigil
