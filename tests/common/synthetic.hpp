#pragma once
// Small realistic series for the engine's tests: daily and weekly traffic shape, count noise that
// is relatively larger at night, and injected anomalies whose truth the test knows.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "vigil/dataset.hpp"

namespace vigil::test {

struct TrafficShape {
  double level = 2000;       // mean count per step at the daily peak
  double night_ratio = 0.15; // trough / peak
  double weekend_boost = 0.2;
  double extra_noise = 0.02; // multiplicative, on top of the count noise
  int tz_hours = 0;
};

// "prefix0", "prefix1", ...
inline std::vector<std::string> numbered(const std::string& prefix, size_t n) {
  std::vector<std::string> v;
  for (size_t k = 0; k < n; ++k) v.push_back(prefix + std::to_string(k));
  return v;
}

// Keys of the Cartesian product of the dimensions' values, the first dimension varying slowest.
inline Keys cartesian_keys(const std::vector<std::pair<std::string, std::vector<std::string>>>& dims) {
  Keys keys;
  size_t n = 1;
  for (const auto& [name, values] : dims) {
    keys.dims.push_back(name);
    n *= values.size();
  }
  keys.dictionary.resize(dims.size());
  keys.index.resize(dims.size());
  for (size_t i = 0; i < n; ++i) {
    size_t rest = i;
    std::vector<uint32_t> row(dims.size());
    for (size_t d = dims.size(); d-- > 0;) {
      row[d] = keys.intern(d, dims[d].second[rest % dims[d].second.size()]);
      rest /= dims[d].second.size();
    }
    keys.codes.insert(keys.codes.end(), row.begin(), row.end());
  }
  return keys;
}

// Expected value of the traffic at unix time `ts`.
inline double traffic_mean(const TrafficShape& s, int64_t ts) {
  const double local = static_cast<double>(ts + s.tz_hours * 3600);
  const double day_phase = std::fmod(local, 86400.0) / 86400.0;
  const int weekday = static_cast<int>(std::fmod(std::floor(local / 86400.0) + 3, 7.0));  // 0 = Monday
  // Peak in the evening (20:00), trough before dawn.
  const double wave = 0.5 * (1 + std::cos(2 * M_PI * (day_phase - 20.0 / 24.0)));
  double m = s.level * (s.night_ratio + (1 - s.night_ratio) * std::pow(wave, 1.5));
  if (weekday >= 5) m *= 1 + s.weekend_boost;
  return m;
}

// One dataset of `series` series (dims series=s0..), time-major, with count noise.
inline Dataset make_traffic(size_t series, int days, int64_t step, uint64_t seed,
                            const std::vector<TrafficShape>& shapes = {}) {
  Dataset d;
  d.keys.dims = {"series"};
  d.keys.dictionary.resize(1);
  d.keys.index.resize(1);
  for (size_t i = 0; i < series; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "s%04zu", i);
    d.keys.codes.push_back(d.keys.intern(0, name));
  }
  d.start = 1772409600;  // 2026-03-02T00:00:00Z, a Monday
  d.step = step;
  d.T = static_cast<size_t>(days) * 86400 / step;
  d.group_dim.clear();
  d.stack_dim.clear();
  d.values.resize(d.T * series);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  for (size_t i = 0; i < series; ++i) {
    TrafficShape s = shapes.empty() ? TrafficShape{} : shapes[i % shapes.size()];
    if (shapes.empty()) s.level = std::pow(10.0, 1.5 + 3.0 * (static_cast<double>(i % 7) / 6.0));
    for (size_t t = 0; t < d.T; ++t) {
      const double m = traffic_mean(s, d.time_at(t)) * (1 + s.extra_noise * normal(rng));
      const double v = std::max(0.0, m + std::sqrt(std::max(m, 1.0)) * normal(rng));
      d.values[t * series + i] = static_cast<float>(std::round(v));
    }
  }
  return d;
}

// Multiplies series i over [t0, t1) by `factor`.
inline void inject(Dataset& d, size_t i, size_t t0, size_t t1, float factor) {
  for (size_t t = t0; t < t1 && t < d.T; ++t) d.values[t * d.N() + i] *= factor;
}

}  // namespace vigil::test
