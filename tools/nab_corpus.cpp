#include "vigil/tools/nab_corpus.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "vigil/tools/nab.hpp"

namespace vigil::nab {
namespace {

// splitmix64 from a hash of (seed, file index): every file has its own stream, so files are
// independent of how many are generated and of the order they are generated in. Own samplers,
// not <random>'s distributions, whose output differs between standard libraries.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t index) : state_(mix(mix(seed ^ 0x6A09E667F3BCC909ull) + index * 0x9E3779B97F4A7C15ull)) {}
  uint64_t next() { return mix(state_ += 0x9E3779B97F4A7C15ull); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double log_uniform(double lo, double hi) { return std::exp(uniform(std::log(lo), std::log(hi))); }
  size_t below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }
  bool chance(double p) { return uniform() < p; }
  double normal() {
    const double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * v);
  }
  double poisson(double lambda) {
    if (lambda <= 0) return 0;
    if (lambda > 40) return std::max(0.0, std::round(lambda + std::sqrt(lambda) * normal()));
    const double limit = std::exp(-lambda);
    double product = uniform(), k = 0;
    while (product > limit) product *= uniform(), ++k;
    return k;
  }
  // Index drawn with the given weights.
  size_t pick(const std::vector<double>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double u = uniform() * total;
    for (size_t i = 0; i < weights.size(); ++i)
      if ((u -= weights[i]) < 0) return i;
    return weights.size() - 1;
  }

 private:
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t state_;
};

enum class Kind { WebTraffic, Cpu, MachineTemperature, Latency, ErrorCount, TweetVolume };
const char* const kKindNames[] = {"web_traffic", "cpu", "machine_temperature", "latency", "error_count", "tweet_volume"};
constexpr size_t kKinds = 6;

// The anomaly types, and how often each kind draws each (in nab_anomaly_types() order): a type
// only where it happens to such a metric (a seasonal pattern break needs a daily pattern).
const std::vector<std::string> kTypes = {"spike", "dip", "level_shift", "slow_leak", "variance", "flatline", "pattern_break"};
const std::vector<double> kTypeWeights[kKinds] = {
    {0.15, 0.25, 0.20, 0.10, 0.10, 0.00, 0.20},  // web traffic
    {0.20, 0.10, 0.20, 0.20, 0.15, 0.15, 0.00},  // cpu
    {0.10, 0.25, 0.15, 0.25, 0.10, 0.15, 0.00},  // machine temperature
    {0.25, 0.00, 0.25, 0.20, 0.20, 0.10, 0.00},  // latency
    {0.45, 0.10, 0.35, 0.00, 0.00, 0.10, 0.00},  // error counts
    {0.35, 0.20, 0.20, 0.00, 0.10, 0.00, 0.15},  // tweet volume
};

// A series before its noise: the expected value per point (anomalies included), a multiplier of
// the noise (variance changes), the points where the sensor repeats its last value (flatlines),
// and the daily profile, which pattern breaks reshuffle.
struct Draft {
  Kind kind;
  int64_t start = 0, step = 0;
  std::vector<double> level, gain, daily;
  std::vector<char> stuck;
  double sigma = 1;  // the kind's noise scale in its own units (additive kinds)
  size_t size() const { return level.size(); }
  size_t points(double hours) const {
    return std::max<size_t>(1, static_cast<size_t>(std::lround(hours * 3600.0 / static_cast<double>(step))));
  }
  double hour_of_day(size_t t) const {
    return static_cast<double>((start + static_cast<int64_t>(t) * step) % 86400) / 3600.0;
  }
  bool weekend(size_t t) const {
    const int64_t day = (start + static_cast<int64_t>(t) * step) / 86400;
    return (day + 4) % 7 >= 5;  // 1970-01-01 was a Thursday
  }
};

// A daily shape in [depth, 1]: a trough at `trough_hour`, a broad peak half a day later, sharper
// with a higher power.
double daily_shape(double hour, double trough_hour, double depth, double power) {
  const double s = 0.5 - 0.5 * std::cos(2.0 * M_PI * (hour - trough_hour) / 24.0);
  return depth + (1.0 - depth) * std::pow(s, power);
}

// --- the normal behaviour of each kind ---------------------------------------------------------

void seasonal_counts(Draft& d, Rng& rng, double base, double depth_lo, double depth_hi, double weekend_lo,
                     double weekend_hi) {
  const double trough = rng.uniform(1.0, 6.0), depth = rng.uniform(depth_lo, depth_hi);
  const double power = rng.uniform(1.0, 2.0), weekend = rng.uniform(weekend_lo, weekend_hi);
  const double trend = rng.chance(0.5) ? rng.uniform(-0.2, 0.35) : 0.0;  // benign slow growth or decay
  const double n = static_cast<double>(d.size());
  for (size_t t = 0; t < d.size(); ++t) {
    d.daily[t] = daily_shape(d.hour_of_day(t), trough, depth, power);
    d.level[t] = base * d.daily[t] * (d.weekend(t) ? weekend : 1.0) * (1.0 + trend * static_cast<double>(t) / n);
  }
}

void normal_behaviour(Draft& d, Rng& rng) {
  const double per_5min = static_cast<double>(d.step) / 300.0;
  switch (d.kind) {
    case Kind::WebTraffic:
      seasonal_counts(d, rng, rng.log_uniform(40, 2500) * per_5min, 0.1, 0.5, 0.55, 1.25);
      break;
    case Kind::TweetVolume:
      seasonal_counts(d, rng, rng.log_uniform(4, 80) * per_5min, 0.2, 0.6, 0.8, 1.1);
      break;
    case Kind::ErrorCount:
      seasonal_counts(d, rng, rng.log_uniform(0.3, 6) * per_5min, 0.3, 0.8, 0.7, 1.0);
      break;
    case Kind::Cpu: {
      d.sigma = rng.uniform(1.5, 6.0);
      std::fill(d.level.begin(), d.level.end(), rng.uniform(10, 60));
      break;
    }
    case Kind::MachineTemperature: {
      // A slow random walk (stationary spread 1 to 4 degrees, hours-long memory) and a daily cycle.
      const double base = rng.uniform(50, 90), wander = rng.uniform(1, 4), cycle = rng.uniform(0.5, 3);
      const double phi = std::exp(-static_cast<double>(d.step) / (rng.uniform(4, 24) * 3600.0));
      const double peak = rng.uniform(12, 18);
      d.sigma = rng.uniform(0.2, 0.8);
      double w = wander * rng.normal();
      for (size_t t = 0; t < d.size(); ++t) {
        w = phi * w + wander * std::sqrt(1 - phi * phi) * rng.normal();
        d.level[t] = base + w + cycle * std::cos(2.0 * M_PI * (d.hour_of_day(t) - peak) / 24.0);
      }
      break;
    }
    case Kind::Latency: {
      const double base = rng.log_uniform(30, 300), load = rng.uniform(0, 0.4), trough = rng.uniform(1, 6);
      d.sigma = rng.uniform(0.1, 0.35);  // of log latency
      const double trend = rng.chance(0.4) ? rng.uniform(-0.15, 0.3) : 0.0;
      const double n = static_cast<double>(d.size());
      for (size_t t = 0; t < d.size(); ++t)
        d.level[t] = base * (1 + load * daily_shape(d.hour_of_day(t), trough, 0, 1.5)) *
                     (1.0 + trend * static_cast<double>(t) / n);
      break;
    }
  }
}

// --- the anomalies -----------------------------------------------------------------------------

bool additive(Kind k) { return k == Kind::Cpu || k == Kind::MachineTemperature; }

void scale(Draft& d, size_t from, size_t to, double factor) {
  for (size_t t = from; t < std::min(to, d.size()); ++t) d.level[t] *= factor;
}
void shift(Draft& d, size_t from, size_t to, double delta) {
  for (size_t t = from; t < std::min(to, d.size()); ++t) d.level[t] += delta;
}
// A change that builds linearly over `build` points, holds for `hold` points, then vanishes
// (a leak fixed by a restart); multiplicative kinds take a factor, additive ones a delta.
void ramp(Draft& d, size_t from, size_t build, size_t hold, double amount) {
  for (size_t k = 0; k < build + hold && from + k < d.size(); ++k) {
    const double f = std::min(1.0, static_cast<double>(k + 1) / static_cast<double>(build));
    if (additive(d.kind))
      d.level[from + k] += f * amount;
    else
      d.level[from + k] *= 1.0 + f * (amount - 1.0);
  }
}
// The value decays towards `target` with time constant tau (a machine cooling down after a
// shutdown), stays there, and is back to normal after `length` points.
void decay_towards(Draft& d, size_t from, size_t length, double target, double tau_points) {
  for (size_t k = 0; k < length && from + k < d.size(); ++k) {
    const double keep = std::exp(-static_cast<double>(k + 1) / tau_points);
    d.level[from + k] = target + (d.level[from + k] - target) * keep;
  }
}

// Applies one anomaly at `onset`, lasting at most `room` points (the next anomaly's onset).
void apply_anomaly(Draft& d, Rng& rng, const std::string& type, size_t onset, size_t room) {
  const auto lasting = [&](double lo_hours, double hi_hours) {
    return std::clamp<size_t>(d.points(rng.uniform(lo_hours, hi_hours)), 1, std::max<size_t>(1, room * 4 / 5));
  };
  const bool add = additive(d.kind);
  const size_t end = d.size();
  if (type == "spike") {
    switch (d.kind) {
      case Kind::Cpu:
        shift(d, onset, onset + 1 + rng.below(3), std::max(20.0, rng.uniform(5, 10) * d.sigma));
        break;
      case Kind::MachineTemperature:
        shift(d, onset, onset + 1, (rng.chance(0.7) ? 1 : -1) * rng.uniform(8, 20));
        break;
      case Kind::Latency:
        scale(d, onset, onset + 3 + rng.below(10), rng.uniform(3, 8));
        break;
      case Kind::ErrorCount: {
        const size_t len = 2 + rng.below(11);
        const double factor = rng.uniform(6, 20), extra = rng.uniform(3, 10) * static_cast<double>(d.step) / 300.0;
        for (size_t t = onset; t < std::min(onset + len, end); ++t) d.level[t] = d.level[t] * factor + extra;
        break;
      }
      case Kind::TweetVolume: {
        // A burst of mentions: jumps, then decays over half an hour to three hours.
        const double peak = rng.uniform(4, 12), tau = static_cast<double>(d.points(rng.uniform(0.5, 3)));
        for (size_t k = 0; onset + k < std::min(end, onset + room); ++k) {
          const double extra = (peak - 1) * std::exp(-static_cast<double>(k) / tau);
          if (extra < 0.02) break;
          d.level[onset + k] *= 1 + extra;
        }
        break;
      }
      case Kind::WebTraffic:
        scale(d, onset, onset + 1 + rng.below(3), rng.uniform(1.6, 4));
        break;
    }
  } else if (type == "dip") {
    if (d.kind == Kind::MachineTemperature) {
      // Shutdown: cools towards the room's temperature for hours, then runs again.
      decay_towards(d, onset, lasting(2, 12), rng.uniform(25, 35), static_cast<double>(d.points(rng.uniform(0.5, 1.5))));
    } else if (d.kind == Kind::ErrorCount || d.kind == Kind::TweetVolume) {
      scale(d, onset, onset + lasting(1, 6), 0.0);  // the feed or the reporting is down
    } else {
      scale(d, onset, onset + lasting(0.5, 4), rng.uniform(0.0, add ? 0.2 : 0.4));
    }
  } else if (type == "level_shift") {
    if (add) {
      const double delta = rng.uniform(2.5, 6) * (d.kind == Kind::Cpu ? d.sigma : 1.6);
      const bool down = rng.chance(0.35) && d.level[onset] > 2 * delta;
      shift(d, onset, end, down ? -delta : delta);
    } else if (d.kind == Kind::ErrorCount) {
      scale(d, onset, end, rng.uniform(2.5, 5));
    } else {
      const bool down = rng.chance(0.4);
      scale(d, onset, end, down ? rng.uniform(0.45, 0.75) : rng.uniform(1.4, 2.5));
    }
  } else if (type == "slow_leak") {
    const size_t build = lasting(2, 12), hold = std::min(lasting(1, 6), room * 4 / 5 - std::min(room * 4 / 5, build));
    double amount = 0;
    switch (d.kind) {
      case Kind::Cpu: amount = rng.uniform(5, 10) * d.sigma; break;
      case Kind::MachineTemperature: amount = rng.uniform(6, 15); break;
      case Kind::Latency: amount = rng.uniform(2, 4); break;
      default: amount = rng.uniform(0.3, 0.6); break;  // traffic draining away
    }
    ramp(d, onset, build, hold, amount);
    if (d.kind == Kind::MachineTemperature && rng.chance(0.5))  // overheats, then shuts down
      decay_towards(d, onset + build + hold, lasting(2, 8), rng.uniform(25, 35), static_cast<double>(d.points(1)));
  } else if (type == "variance") {
    const double k = d.kind == Kind::Latency ? rng.uniform(2, 3) : rng.uniform(3, 6);
    for (size_t t = onset; t < std::min(onset + lasting(6, 24), end); ++t) d.gain[t] *= k;
  } else if (type == "flatline") {
    for (size_t t = onset; t < std::min(onset + lasting(2, 12), end); ++t) d.stuck[t] = 1;
  } else if (type == "pattern_break") {
    // For a day or two the daily pattern is shifted by 6 to 12 hours, or flat at its mean.
    const size_t length = lasting(24, 48);
    const size_t lag = d.points(rng.uniform(6, 12));
    const bool flat = rng.chance(0.4);
    double mean = 0;
    for (size_t t = 0; t < d.size(); ++t) mean += d.daily[t];
    mean /= static_cast<double>(d.size());
    for (size_t t = onset; t < std::min(onset + length, end); ++t) {
      const double wanted = flat ? mean : d.daily[t >= lag ? t - lag : t + d.points(24) - lag];
      d.level[t] *= wanted / d.daily[t];
    }
  }
}

// A weekday at most one day long whose traffic is lower for no labelled reason (a holiday
// nobody listed), away from every anomaly window.
void benign_quiet_day(Draft& d, Rng& rng, const std::vector<Window>& windows) {
  const size_t day = d.points(24);
  if (d.size() < 4 * day) return;
  for (int attempt = 0; attempt < 20; ++attempt) {
    const size_t from = day + rng.below(d.size() - 2 * day);
    const size_t to = from + day;
    if (d.weekend(from)) continue;
    const bool clear = std::none_of(windows.begin(), windows.end(), [&](const Window& w) {
      return from <= w.last + day && w.first <= to + day;
    });
    if (!clear) continue;
    scale(d, from, to, rng.uniform(0.55, 0.8));
    return;
  }
}

// --- observation noise -------------------------------------------------------------------------

std::vector<float> observe(const Draft& d, Rng& rng) {
  std::vector<float> values(d.size());
  // Benign oddities that are not labelled: heavy-tailed single points (latency, traffic), short
  // CPU bursts (some at a fixed time of day, like a nightly job), mention bursts in tweets.
  const double blip_rate = d.kind == Kind::Latency ? rng.uniform(0.001, 0.005) : d.kind == Kind::WebTraffic ? 0.001 : 0;
  const double burst_per_day = d.kind == Kind::Cpu || d.kind == Kind::TweetVolume ? rng.uniform(0, 1.5) : 0;
  const double burst_rate = burst_per_day / static_cast<double>(d.points(24));
  const bool nightly_job = d.kind == Kind::Cpu && rng.chance(0.4);
  const double job_hour = rng.uniform(0, 24), job_hours = rng.uniform(0.25, 0.75), job_load = rng.uniform(8, 20);
  const double phi = rng.uniform(0.5, 0.9), overdispersion = rng.uniform(0.02, 0.08);
  double ar = 0, burst = 0;
  const double burst_decay = std::exp(-1.0 / static_cast<double>(d.points(rng.uniform(0.3, 1.5))));
  for (size_t t = 0; t < d.size(); ++t) {
    if (d.stuck[t] && t > 0) {
      values[t] = values[t - 1];
      continue;
    }
    const double level = d.level[t], gain = d.gain[t];
    double v = 0;
    switch (d.kind) {
      case Kind::WebTraffic:
        v = rng.poisson(std::max(0.0, level) * std::exp(overdispersion * gain * rng.normal()));
        if (rng.chance(blip_rate)) v = std::round(v * rng.uniform(1.2, 1.6));
        break;
      case Kind::TweetVolume:
        burst = rng.chance(burst_rate) ? burst + rng.uniform(0.5, 2.0) : burst * burst_decay;
        v = rng.poisson(std::max(0.0, level) * (1 + burst) * std::exp(0.1 * gain * rng.normal()));
        break;
      case Kind::ErrorCount:
        v = rng.poisson(std::max(0.0, level) * std::exp(0.3 * (gain - 1) * rng.normal()));
        break;
      case Kind::Cpu: {
        ar = phi * ar + std::sqrt(1 - phi * phi) * rng.normal();
        v = level + gain * d.sigma * (ar + 0.3 * rng.normal());
        if (rng.chance(burst_rate)) v += rng.uniform(8, 18);
        const double since_job = std::fmod(d.hour_of_day(t) - job_hour + 24.0, 24.0);
        if (nightly_job && since_job < job_hours) v += job_load;
        v = std::clamp(v, 0.0, 100.0);
        break;
      }
      case Kind::MachineTemperature:
        v = level + gain * d.sigma * rng.normal();
        break;
      case Kind::Latency:
        v = level * std::exp(gain * d.sigma * rng.normal());
        if (rng.chance(blip_rate)) v *= rng.uniform(2, 5);
        break;
    }
    values[t] = static_cast<float>(v);
  }
  return values;
}

// --- placement ---------------------------------------------------------------------------------

// Onsets after the probationary period with NAB's windows around them disjoint: the span after
// probation is cut into n equal parts, one onset in each, half a window from the part's edges.
std::vector<size_t> place_onsets(size_t rows, size_t n, Rng& rng) {
  struct Span {
    size_t window, lo, part;
  };
  const auto span_for = [rows](size_t count) {
    const size_t window = static_cast<size_t>(0.1 * static_cast<double>(rows) / static_cast<double>(count));
    const size_t lo = std::max(probationary_length(rows) + window / 2 + 1, rows / 5);
    const size_t hi = rows - std::max<size_t>(window / 4, 12);
    return Span{window, lo, (hi - lo) / count};
  };
  while (n > 1 && span_for(n).part <= span_for(n).window + 2) --n;  // too short for n disjoint windows
  const Span span = span_for(n);
  std::vector<size_t> onsets;
  for (size_t k = 0; k < n; ++k) {
    const size_t first = span.lo + k * span.part + (k > 0 ? span.window / 2 + 1 : 0);
    const size_t last = span.lo + (k + 1) * span.part - (k + 1 < n ? span.window / 2 + 1 : 0);
    onsets.push_back(first + rng.below(last > first ? last - first : 1));
  }
  return onsets;
}

}  // namespace

const std::vector<std::string>& nab_anomaly_types() { return kTypes; }

GeneratedSeries generate_nab_series(size_t index, uint64_t seed) {
  Rng rng(seed, index);
  Draft d;
  d.kind = static_cast<Kind>(index % kKinds);
  const int64_t steps[] = {300, 900, 3600};
  d.step = steps[rng.pick({0.6, 0.25, 0.15})];
  const size_t max_rows = d.step == 300 ? 16000 : d.step == 900 ? 12000 : 8000;
  const size_t rows = 3000 + rng.below(max_rows - 3000 + 1);
  // Midnight UTC of a day in 2014 or 2015, plus a whole number of steps.
  d.start = 1388534400 + static_cast<int64_t>(rng.below(600)) * 86400 +
            static_cast<int64_t>(rng.below(static_cast<size_t>(86400 / d.step))) * d.step;
  d.level.assign(rows, 0);
  d.gain.assign(rows, 1);
  d.daily.assign(rows, 1);
  d.stuck.assign(rows, 0);
  normal_behaviour(d, rng);

  GeneratedSeries out;
  out.kind = kKindNames[static_cast<size_t>(d.kind)];
  char name[96];
  std::snprintf(name, sizeof name, "%s/%s_%03zu.csv", out.kind.c_str(), out.kind.c_str(), index);
  out.name = name;
  out.start = d.start;
  out.step = d.step;

  const size_t count = 1 + rng.pick({0.35, 0.35, 0.2, 0.1});
  const std::vector<size_t> onsets = place_onsets(rows, count, rng);
  const size_t kind = static_cast<size_t>(d.kind);
  for (size_t k = 0; k < onsets.size(); ++k) {
    std::string type = kTypes[rng.pick(kTypeWeights[kind])];
    // Sparse error counts cannot visibly drop to zero or get stuck: they burst instead.
    if (d.kind == Kind::ErrorCount && d.level[onsets[k]] < 3 && (type == "dip" || type == "flatline")) type = "spike";
    const size_t room = (k + 1 < onsets.size() ? onsets[k + 1] : rows) - onsets[k];
    apply_anomaly(d, rng, type, onsets[k], room);
    out.anomalies.push_back({onsets[k], type});
  }
  if ((d.kind == Kind::WebTraffic || d.kind == Kind::TweetVolume) && rng.chance(0.5))
    benign_quiet_day(d, rng, windows_from_labels(rows, onsets));
  out.values = observe(d, rng);
  return out;
}

std::vector<GeneratedSeries> generate_nab_corpus(size_t files, uint64_t seed) {
  std::vector<GeneratedSeries> corpus(files);
#pragma omp parallel for schedule(dynamic)
  for (long i = 0; i < static_cast<long>(files); ++i) corpus[i] = generate_nab_series(static_cast<size_t>(i), seed);
  return corpus;
}

}  // namespace vigil::nab
