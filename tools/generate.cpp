// `vigil generate`: a synthetic streaming-platform cube with labelled special events and
// malfunctions (DESIGN.md "Truth files").
//
// Every series is level x daily/weekly profile (in its region's local time) x slow trend x the
// multiplicative effects of the events that cover it, plus count-like noise. Events are planned
// first, serially, from the seed; values are then generated in parallel, each series from its
// own counter-based random stream, so the output depends on the seed alone, never on the
// number of threads.
#include <omp.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "vigil/atomic_file.hpp"
#include "vigil/error.hpp"
#include "vigil/ingest.hpp"
#include "vigil/tools/scenario.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

constexpr int64_t kDefaultStart = 1772409600;  // 2026-03-02T00:00:00Z, a Monday
constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 86400;
constexpr int64_t kWeek = 7 * kDay;

// ---------------------------------------------------------------------------------------------
// Random numbers

// Independent random streams, each indexed by what it describes (a region, a series, ...).
enum Stream : uint64_t {
  kPlanStream = 1,
  kRegionStream,
  kCellStream,
  kSeriesStream,
  kNoiseStream,
  kRegionDayStream
};

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// splitmix64 started from a hash of (seed, stream, index): counter-based, so a series' numbers
// do not depend on which thread generates it or in what order.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream, uint64_t index)
      : state_(mix64(mix64(seed + 0x9E3779B97F4A7C15ULL * stream) ^ (index * 0xD1B54A32D192ED03ULL))) {}
  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    return mix64(state_);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double log_uniform(double lo, double hi) { return std::exp(uniform(std::log(lo), std::log(hi))); }
  int below(int n) { return std::min(n - 1, static_cast<int>(uniform() * n)); }
  bool chance(double p) { return uniform() < p; }
  // Two independent standard normals from one draw: the per-point hot path.
  void normal_pair(float& a, float& b) {
    const uint64_t x = next();
    a = normal_from_bits(static_cast<uint32_t>(x >> 32));
    b = normal_from_bits(static_cast<uint32_t>(x));
  }
  double normal() { return normal_from_bits(static_cast<uint32_t>(next() >> 32)); }

  // The normal quantile of 32 random bits (P. J. Acklam's rational approximation of the
  // inverse CDF): a polynomial ratio on 95 % of draws, a logarithm only in the tails, which
  // reach 6.3 sigma, enough for a detector's thresholds to meet honest outliers.
  static float normal_from_bits(uint32_t bits) {
    const float q =
        (static_cast<float>(static_cast<int32_t>(bits ^ 0x80000000u)) + 0.5f) * 0x1.0p-32f;  // u - 0.5
    if (std::fabs(q) <= 0.47575f) {
      const float r = q * q;
      return (((((-39.69683028665376f * r + 220.9460984245205f) * r - 275.9285104469687f) * r +
                138.3577518672690f) *
                   r -
               30.66479806614716f) *
                  r +
              2.506628277459239f) *
             q /
             (((((-54.47609879822406f * r + 161.5858368580409f) * r - 155.6989798598866f) * r +
                66.80131188771972f) *
                   r -
               13.28068155288572f) *
                  r +
              1);
    }
    // The tail probability from the integer, so that it keeps its precision near 0 and 1.
    const uint32_t low = bits < 0x80000000u ? bits : ~bits;
    const float p = (static_cast<float>(low) + 0.5f) * 0x1.0p-32f;
    const float t = std::sqrt(-2 * std::log(p));
    const float z = (((((-7.784894002430293e-03f * t - 3.223964580411365e-01f) * t - 2.400758277161838f) * t -
                       2.549732539343734f) *
                          t +
                      4.374664141464968f) *
                         t +
                     2.938163982698783f) /
                    ((((7.784695709041462e-03f * t + 3.224671290700398e-01f) * t + 2.445134137142996f) * t +
                      3.754408661907416f) *
                         t +
                     1);
    return bits < 0x80000000u ? z : -z;
  }

 private:
  uint64_t state_;
};

// ---------------------------------------------------------------------------------------------
// Dimensions and their readable values

const char* const kMetricNames[] = {"play_starts", "active_sessions", "stream_errors", "rebuffer_ratio"};
const char* const kStackNames[] = {"web", "mobile", "tv", "console"};
const char* const kDeviceNames[] = {"android",    "ios",     "roku", "firetv",
                                    "chromecast", "smarttv", "xbox", "playstation"};
struct RegionName {
  const char* code;
  double utc_offset_hours;  // standard time; daylight saving is not modelled
};
const RegionName kRegionNames[] = {
    {"br", -3}, {"uk", 0}, {"de", 1},  {"us", -5}, {"fr", 1},  {"jp", 9},  {"in", 5.5}, {"mx", -6},
    {"es", 1},  {"it", 1}, {"ca", -5}, {"au", 10}, {"ar", -3}, {"co", -5}, {"cl", -4},  {"pe", -5},
    {"nl", 1},  {"be", 1}, {"se", 1},  {"no", 1},  {"dk", 1},  {"fi", 2},  {"pl", 1},   {"pt", 0},
    {"ie", 0},  {"ch", 1}, {"at", 1},  {"cz", 1},  {"gr", 2},  {"tr", 3},  {"za", 2},   {"eg", 2},
    {"ng", 1},  {"ke", 3}, {"sa", 3},  {"ae", 4},  {"il", 2},  {"kr", 9},  {"tw", 8},   {"hk", 8},
    {"sg", 8},  {"my", 8}, {"th", 7},  {"id", 7},  {"ph", 8},  {"vn", 7},  {"nz", 12},  {"ro", 2},
    {"hu", 1},  {"ua", 2}};
constexpr int kNamedRegions = sizeof(kRegionNames) / sizeof(kRegionNames[0]);

enum class MetricKind { Plays, Sessions, Errors, Ratio, Count };
constexpr int kStackClasses = 4;  // web, mobile, tv, console: each has its own daily shape
constexpr int kTvStack = 2;
// Regions beyond this many reuse the profile (time zone, night depth, weekend lift, day-to-day
// factors) of an earlier one, which bounds the profile tables for very wide cubes.
constexpr int kMaxRegionProfiles = 256;

// The n-th value of a dimension in its natural order (the order of the name lists above).
std::string natural_value(const std::string& dim, int i) {
  if (dim == "metric") return i < 4 ? kMetricNames[i] : "metric" + std::to_string(i);
  if (dim == "stack") return i < 4 ? kStackNames[i] : "stack" + std::to_string(i);
  if (dim == "device") return i < 8 ? kDeviceNames[i] : "device" + std::to_string(i);
  if (dim == "region") return i < kNamedRegions ? kRegionNames[i].code : "r" + std::to_string(i);
  return dim + std::to_string(i);
}

MetricKind metric_kind(int natural) {
  switch (natural) {
    case 0:
      return MetricKind::Plays;
    case 1:
      return MetricKind::Sessions;
    case 2:
      return MetricKind::Errors;
    case 3:
      return MetricKind::Ratio;
    default:
      return MetricKind::Count;
  }
}

double utc_offset_hours(int region) {
  if (region < kNamedRegions) return kRegionNames[region].utc_offset_hours;
  return static_cast<double>((region * 7) % 24 - 11);  // spread the unnamed ones over the globe
}

// Values are stored sorted, so that the series order (the Cartesian product, last dimension
// fastest) is the lexicographic order the CSV reader produces: a cube and its CSV read alike.
struct Dim {
  std::string name;
  std::vector<std::string> values;  // sorted: the dictionary
  std::vector<int> natural;         // sorted position -> natural index
  std::vector<int> position;        // natural index -> sorted position
};

struct Layout {
  std::vector<Dim> dims;
  std::vector<size_t> stride;  // mixed radix, last dimension fastest
  size_t N = 1;
  int metric = -1, stack = -1, device = -1, region = -1;  // dimension indexes, -1 = absent

  size_t size(int d) const { return dims[d].values.size(); }
  size_t position(size_t series, int d) const { return (series / stride[d]) % size(d); }
  // Natural index of the series' value of dimension d (0 when the dimension is absent).
  int natural(size_t series, int d) const { return d < 0 ? 0 : dims[d].natural[position(series, d)]; }
  // The series index without its metric coordinate: the metrics of one cell share a population.
  size_t cell(size_t series) const {
    if (metric < 0) return series;
    const size_t s = stride[metric];
    return series / (s * size(metric)) * s + series % s;
  }
  size_t series_at(const std::vector<int>& natural_values) const {
    size_t s = 0;
    for (size_t d = 0; d < dims.size(); ++d) s += stride[d] * dims[d].position[natural_values[d]];
    return s;
  }
  // Sorted position and natural index of an existing value of dimension d.
  size_t position_of(int d, const std::string& value) const {
    const std::vector<std::string>& v = dims[d].values;
    return static_cast<size_t>(std::lower_bound(v.begin(), v.end(), value) - v.begin());
  }
  int natural_of(int d, const std::string& value) const { return dims[d].natural[position_of(d, value)]; }
  int dim_index(const std::string& name) const {
    for (size_t d = 0; d < dims.size(); ++d)
      if (dims[d].name == name) return static_cast<int>(d);
    return -1;
  }
};

Layout make_layout(const std::vector<std::pair<std::string, int>>& shape) {
  Layout layout;
  for (const auto& [name, size] : shape) {
    Dim dim;
    dim.name = name;
    std::vector<std::pair<std::string, int>> named;
    for (int i = 0; i < size; ++i) named.emplace_back(natural_value(name, i), i);
    std::sort(named.begin(), named.end());
    dim.position.resize(size);
    for (int p = 0; p < size; ++p) {
      dim.values.push_back(named[p].first);
      dim.natural.push_back(named[p].second);
      dim.position[named[p].second] = p;
    }
    layout.dims.push_back(std::move(dim));
  }
  layout.stride.assign(layout.dims.size(), 1);
  for (size_t d = layout.dims.size(); d-- > 0;) {
    layout.stride[d] = layout.N;
    layout.N *= layout.dims[d].values.size();
  }
  layout.metric = layout.dim_index("metric");
  layout.stack = layout.dim_index("stack");
  layout.device = layout.dim_index("device");
  layout.region = layout.dim_index("region");
  return layout;
}

Keys make_keys(const Layout& layout) {
  Keys keys;
  const size_t D = layout.dims.size();
  for (const Dim& dim : layout.dims) {
    keys.dims.push_back(dim.name);
    keys.dictionary.push_back(dim.values);
    std::unordered_map<std::string, uint32_t> index;
    for (size_t i = 0; i < dim.values.size(); ++i) index.emplace(dim.values[i], static_cast<uint32_t>(i));
    keys.index.push_back(std::move(index));
  }
  keys.codes.resize(layout.N * D);
  for (size_t s = 0; s < layout.N; ++s)
    for (size_t d = 0; d < D; ++d)
      keys.codes[s * D + d] = static_cast<uint32_t>(layout.position(s, static_cast<int>(d)));
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Normal behaviour: daily and weekly profile per (region, stack class), in local time

// Weekday audience by local hour, relative to the 21:00 peak: a night trough near 13 %, a
// lunchtime shoulder and the evening prime time.
const double kDailyShape[24] = {0.55, 0.38, 0.26, 0.18, 0.14, 0.13, 0.16, 0.24, 0.33, 0.40, 0.45, 0.49,
                                0.54, 0.55, 0.54, 0.55, 0.59, 0.66, 0.76, 0.87, 0.96, 1.00, 0.93, 0.76};

struct RegionProfile {
  double utc_offset_hours;
  double night_depth;   // night trough as a fraction of the evening peak (0.10..0.20)
  double weekend_lift;  // extra daytime audience on Saturday and Sunday
  double peak_shift;    // hours the region's day runs late (+) or early (-)
};

RegionProfile region_profile(uint64_t seed, int region) {
  Rng rng(seed, kRegionStream, static_cast<uint64_t>(region));
  RegionProfile p;
  p.utc_offset_hours = utc_offset_hours(region);
  p.night_depth = rng.uniform(0.10, 0.20);
  p.weekend_lift = rng.uniform(0.05, 0.25);
  p.peak_shift = rng.uniform(-0.75, 0.75);
  return p;
}

// Mobile peaks earlier and sleeps less deeply, TV later and deeper, consoles latest.
const double kStackHourShift[kStackClasses] = {0.0, -1.0, 0.5, 1.5};
const double kStackDepthShift[kStackClasses] = {0.0, 0.04, -0.03, -0.02};

double daily_shape(double hour) {
  hour = std::fmod(hour + 48.0, 24.0);
  const int h = static_cast<int>(hour);
  const double f = hour - h;
  const double v = kDailyShape[h] * (1 - f) + kDailyShape[(h + 1) % 24] * f;
  return (v - 0.13) / 0.87;  // 0 at the trough, 1 at the peak
}

// Profile multiplier at unix time `t` for a region and stack class (1 = weekday evening peak).
double profile_at(int64_t t, const RegionProfile& region, int stack_class) {
  const double local = static_cast<double>(t) + region.utc_offset_hours * kHour;
  const double day = std::floor(local / kDay);
  const double hour = (local - day * kDay) / kHour;
  const double depth = std::max(0.05, region.night_depth + kStackDepthShift[stack_class]);
  double value = depth + (1 - depth) * daily_shape(hour - region.peak_shift - kStackHourShift[stack_class]);
  // 1970-01-01 was a Thursday: Monday = 0 .. Sunday = 6.
  const int weekday = static_cast<int>((static_cast<int64_t>(day) % 7 + 7 + 3) % 7);
  if (weekday >= 5) {
    // Weekends gain a daytime audience that fades out by midnight, so the switch is smooth.
    const double x = (hour - 14.5) / 4.5;
    value *= 1 + 2 * region.weekend_lift * std::exp(-x * x);
  }
  return value;
}

// The profile repeats every week, so one week of grid points is tabulated per (region profile,
// stack class) when the step divides a week; otherwise the whole grid is.
struct ProfileTable {
  size_t period = 0;
  int stack_classes = 1;
  std::vector<float> values;  // [profile][period]
  const float* row(int region_profile, int stack_class) const {
    return values.data() + (static_cast<size_t>(region_profile) * stack_classes + stack_class) * period;
  }
};

ProfileTable make_profile_table(const Layout& layout, uint64_t seed, int64_t start, int64_t step, size_t T) {
  ProfileTable table;
  table.period = kWeek % step == 0 ? std::min<size_t>(T, kWeek / step) : T;
  table.stack_classes =
      layout.stack < 0 ? 1 : static_cast<int>(std::min<size_t>(layout.size(layout.stack), kStackClasses));
  const int regions =
      layout.region < 0 ? 1
                        : static_cast<int>(std::min<size_t>(layout.size(layout.region), kMaxRegionProfiles));
  table.values.resize(static_cast<size_t>(regions) * table.stack_classes * table.period);
#pragma omp parallel for schedule(static)
  for (int r = 0; r < regions; ++r) {
    RegionProfile profile = region_profile(seed, r);
    if (layout.region < 0) profile.utc_offset_hours = 0;
    for (int c = 0; c < table.stack_classes; ++c) {
      float* row = table.values.data() + (static_cast<size_t>(r) * table.stack_classes + c) * table.period;
      for (size_t k = 0; k < table.period; ++k)
        row[k] = static_cast<float>(profile_at(start + static_cast<int64_t>(k) * step, profile, c));
    }
  }
  return table;
}

// Days differ a little: each region's audience is a few percent up or down for the day (news,
// weather nobody labels), on every stack at once, changing smoothly from one day to the next.
// Detectors must take such broad, mild shifts in their stride.
class RegionDays {
 public:
  RegionDays(const Layout& layout, uint64_t seed, int64_t start, int64_t step, size_t T)
      : start_(start), step_(step) {
    midnight_ = start - ((start % kDay) + kDay) % kDay;
    days_ = static_cast<size_t>((start + static_cast<int64_t>(T) * step - midnight_) / kDay + 3);
    const int regions =
        layout.region < 0
            ? 1
            : static_cast<int>(std::min<size_t>(layout.size(layout.region), kMaxRegionProfiles));
    factor_.resize(regions * days_);
    for (int r = 0; r < regions; ++r) {
      Rng rng(seed, kRegionDayStream, static_cast<uint64_t>(r));
      for (size_t d = 0; d < days_; ++d)
        factor_[r * days_ + d] = static_cast<float>(std::exp(0.03 * rng.normal()));
    }
  }
  // out[t] = the region's factor at grid step t, interpolated between noons (UTC).
  void fill(int region_profile, size_t T, float* out) const {
    const float* f = factor_.data() + static_cast<size_t>(region_profile) * days_;
    // Position in days since the midnight before the start, plus half a day: day d's noon is at
    // d + 1, where entry d + 1 holds day d (entry 0: the day before the start).
    const double first = static_cast<double>(start_ - midnight_) / kDay + 0.5;
    const double per_step = static_cast<double>(step_) / kDay;
    for (size_t t = 0; t < T; ++t) {
      const double x = first + per_step * static_cast<double>(t);
      const size_t i = static_cast<size_t>(x);
      const float frac = static_cast<float>(x - static_cast<double>(i));
      out[t] = f[i] * (1 - frac) + f[i + 1] * frac;
    }
  }

 private:
  int64_t start_, step_, midnight_ = 0;
  size_t days_ = 0;
  std::vector<float> factor_;  // [region profile][day + 1]
};

// ---------------------------------------------------------------------------------------------
// Special events and malfunctions as multiplicative effects on the expected value

enum class EffectType { Game, Launch, Weather, PowerCut, Incident };

struct Effect {
  EffectType type;
  std::vector<std::vector<char>> allowed;  // per dim, by sorted position; empty = every value
  int64_t t0 = 0, t1 = 0;                  // grid steps [t0, t1)
  double strength = 0;  // Game: popularity; Launch: peak gain; Weather, PowerCut: relative drop
  // Incident multipliers at full strength, by metric kind.
  double count_factor = 1, error_factor = 1, ratio_factor = 1;
  int64_t ramp_in = 1, ramp_out = 1;  // steps to full strength and back

  bool covers(const Layout& layout, size_t series) const {
    for (size_t d = 0; d < allowed.size(); ++d)
      if (!allowed[d].empty() && !allowed[d][layout.position(series, static_cast<int>(d))]) return false;
    return true;
  }
  double ramp(int64_t t) const {
    return std::min({1.0, static_cast<double>(t - t0 + 1) / ramp_in, static_cast<double>(t1 - t) / ramp_out});
  }
};

// How strongly one series reacts: fixed per series, so a recurring event affects it alike every time
// (the engine learns the effect per series from past occurrences).
struct Sensitivity {
  double game, launch, weather, power_cut;
};

// The game's audience shift over its window: build-up, the half-time dip, the final whistle.
double game_shape(double tau) {
  const double half_time = 1 - 0.5 * std::exp(-std::pow((tau - 0.5) / 0.05, 2));
  return std::min(1.0, tau / 0.1) * std::min(1.0, (1 - tau) / 0.08) * half_time;
}

// Multiplies `mult` (one entry per grid step) by the effect's factor wherever it covers.
void apply_effect(const Effect& e, MetricKind kind, int stack_class, const Sensitivity& sens, float* mult) {
  const bool traffic = e.type != EffectType::Incident;
  // Audience events move every count with the traffic (errors too) but not a ratio.
  if (traffic && kind == MetricKind::Ratio) return;
  const double length = static_cast<double>(e.t1 - e.t0);
  for (int64_t t = e.t0; t < e.t1; ++t) {
    const double tau = (static_cast<double>(t - e.t0) + 0.5) / length;
    double f = 1;
    switch (e.type) {
      case EffectType::Game:
        // Viewers leave the service for the broadcast, except on the TV app, which streams it.
        f = 1 + (stack_class == kTvStack ? 0.40 : -0.25) * e.strength * sens.game * game_shape(tau);
        break;
      case EffectType::Launch:
        f = 1 + e.strength * sens.launch * (1 - 0.6 * tau);  // a surge that decays
        break;
      case EffectType::Weather:
        f = 1 - e.strength * sens.weather * e.ramp(t);
        break;
      case EffectType::PowerCut:
        f = 1 - e.strength * sens.power_cut;
        break;
      case EffectType::Incident: {
        const double full = kind == MetricKind::Errors  ? e.error_factor
                            : kind == MetricKind::Ratio ? e.ratio_factor
                                                        : e.count_factor;
        f = 1 + (full - 1) * e.ramp(t);
        break;
      }
    }
    mult[t] *= static_cast<float>(f);
  }
}

// ---------------------------------------------------------------------------------------------
// Per-series model

struct SeriesModel {
  MetricKind kind;
  int region_profile;  // with stack_class: the row of the profile table
  int stack_class;
  double level;         // expected value at the weekday evening peak (a ratio for Ratio)
  double sessions;      // Ratio: sessions behind the ratio at the peak (sets its noise)
  double growth;        // trend multiplier per week
  float poisson_scale;  // count noise relative to sqrt(mean)
  Sensitivity sens;
};

SeriesModel series_model(const Layout& layout, uint64_t seed, size_t series) {
  SeriesModel m;
  m.kind = layout.metric < 0 ? MetricKind::Plays : metric_kind(layout.natural(series, layout.metric));
  m.stack_class = layout.stack < 0 ? 0 : layout.natural(series, layout.stack) % kStackClasses;
  m.region_profile = layout.natural(series, layout.region) % kMaxRegionProfiles;

  // The metrics of one (stack, device, region) cell share its audience and its trend.
  Rng cell(seed, kCellStream, layout.cell(series));
  const double audience = cell.log_uniform(5, 50000);  // play starts per step at the peak
  const double cell_trend = cell.normal() * 0.015;     // per week

  Rng rng(seed, kSeriesStream, series);
  m.sessions = audience * rng.uniform(3, 6);
  switch (m.kind) {
    case MetricKind::Plays:
      m.level = audience * std::exp(0.1 * rng.normal());
      m.poisson_scale = 1.0f;
      break;
    case MetricKind::Sessions:
      m.level = m.sessions;
      m.poisson_scale = 0.5f;
      break;  // a gauge: smoother
    case MetricKind::Errors:
      m.level = 0.5 + audience * rng.uniform(0.01, 0.04);
      m.poisson_scale = 1.3f;
      break;
    case MetricKind::Ratio:
      m.level = rng.log_uniform(0.004, 0.04);
      m.poisson_scale = 0;
      break;
    case MetricKind::Count:
      m.level = audience * rng.log_uniform(0.2, 5);
      m.poisson_scale = 1.0f;
      break;
  }
  m.growth = 1 + std::clamp(cell_trend + 0.005 * rng.normal(), -0.05, 0.05);
  m.sens = {rng.uniform(0.8, 1.2), rng.uniform(0.85, 1.15), rng.uniform(0.75, 1.25), rng.uniform(0.9, 1.1)};
  return m;
}

// Noise: a slowly wandering multiplicative error (AR(1), ~2.5 %) plus count noise sqrt(mean)
// (Poisson-like: relatively large at night and on small series), rounded to whole counts.
constexpr float kDriftSigma = 0.025f;
constexpr float kDriftPhi = 0.8f;

void generate_series(const SeriesModel& m, const ProfileTable& table, const float* mult, uint64_t seed,
                     size_t series, int64_t step, size_t T, float* out, size_t out_stride) {
  Rng rng(seed, kNoiseStream, series);
  const float* profile = table.row(m.region_profile, m.stack_class);
  const float innovation = kDriftSigma * std::sqrt(1 - kDriftPhi * kDriftPhi);
  const double growth_per_step = std::pow(m.growth, static_cast<double>(step) / kWeek);
  float z_count, z_drift;
  rng.normal_pair(z_count, z_drift);
  float drift = kDriftSigma * z_drift;
  double trend = 1;
  size_t phase = 0;
  const float level = static_cast<float>(m.level);
  const float sessions = static_cast<float>(m.sessions);
  for (size_t t = 0; t < T; ++t) {
    rng.normal_pair(z_count, z_drift);
    drift = kDriftPhi * drift + innovation * z_drift;
    const float shape = profile[phase] * static_cast<float>(trend);
    float v;
    if (m.kind == MetricKind::Ratio) {
      // Rebuffering rises with evening congestion; its noise is binomial over the sessions.
      const float p = std::min(1.0f, level * (0.8f + 0.4f * profile[phase]) * mult[t]);
      const float n = std::max(1.0f, sessions * shape);
      v = std::clamp(p * (1 + drift) + std::sqrt(p * (1 - p) / n) * z_count, 0.0f, 1.0f);
    } else {
      const float mean = level * shape * mult[t];
      const float x = mean * (1 + drift) + m.poisson_scale * std::sqrt(mean) * z_count;
      v = x > 0 ? static_cast<float>(static_cast<int64_t>(x + 0.5f)) : 0.0f;  // a whole count
    }
    out[t * out_stride] = v;
    trend *= growth_per_step;
    if (++phase == table.period) phase = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Planning the events

using ScopeMap = std::map<std::string, std::vector<std::string>>;

// Magnitudes are drawn to two decimals, so the truth file states them exactly.
double round2(double x) { return std::round(x * 100) / 100; }

struct Planned {
  TruthRecord record;
  Effect effect;
  std::string label;            // incidents: what the name says after the number
  float expected_impact = NAN;  // anticipated one-offs: the schedule's expected_impact
  std::vector<int> regions;     // natural regions it covers; empty = every region
};

// Places the events on the grid, serially from the seed's plan stream.
class Planner {
 public:
  Planner(const Layout& layout, const GenerateOptions& options, int64_t start, size_t T)
      : layout_(layout),
        seed_(options.seed),
        start_(start),
        step_(options.step),
        T_(static_cast<int64_t>(T)),
        rng_(options.seed, kPlanStream, 0) {
    midnight_ = start_ - ((start_ % kDay) + kDay) % kDay;
    span_days_ = static_cast<int>((start_ + T_ * step_ - midnight_ + kDay - 1) / kDay);
    warm_ = std::min<int64_t>(kWeek / step_, T_ / 2);
    warm_day_ = static_cast<int>((start_ + warm_ * step_ - midnight_) / kDay);
  }

  // The default mix scales with the length: a game every Sunday plus one launch, two of each
  // external kind per fortnight (at least two), an incident every two days (at least four).
  std::vector<Planned> plan(const GenerateOptions& options) {
    const int sundays = std::max(1, count_whole_days(6));
    const int anticipated = options.anticipated >= 0 ? options.anticipated : sundays + 1;
    const int per_fortnight = std::max(2, span_days_ / 14);
    plan_games(anticipated >= 2 ? anticipated - 1 : anticipated);
    if (anticipated >= 2) plan_launch();
    const int external_low = options.external_low >= 0 ? options.external_low : per_fortnight;
    for (int i = 0; i < external_low; ++i) plan_weather();
    const int external_high = options.external_high >= 0 ? options.external_high : per_fortnight;
    for (int i = 0; i < external_high; ++i) plan_power_cut();
    plan_incidents(options.incidents >= 0 ? options.incidents : std::max(4, span_days_ / 2));
    for (int k = 0; k < options.subtle; ++k) k % 2 == 0 ? plan_moderate_drop() : plan_slow_leak();

    std::stable_sort(planned_.begin(), planned_.end(),
                     [](const Planned& a, const Planned& b) { return a.record.start < b.record.start; });
    int number = 0;
    for (Planned& p : planned_) {
      if (p.record.kind != "incident") continue;
      char prefix[32];
      std::snprintf(prefix, sizeof prefix, "incident_%02d_", ++number);
      p.record.name = prefix + p.label;
    }
    return std::move(planned_);
  }

 private:
  enum class IncidentScope { Series, Device, StackRegion, Metric };
  struct IncidentShape {
    ScopeMap scope;
    std::string label;
  };

  // ---- time: days count from the UTC midnight at or before the start
  int weekday(int day) const { return static_cast<int>(((midnight_ / kDay + day) % 7 + 7 + 3) % 7); }
  bool whole_day_in_grid(int day) const {
    return midnight_ + day * kDay >= start_ && midnight_ + (day + 1) * kDay <= start_ + T_ * step_;
  }
  int count_whole_days(int wd) const {
    int n = 0;
    for (int d = 0; d < span_days_; ++d) n += weekday(d) == wd && whole_day_in_grid(d);
    return n;
  }
  // The first grid step at or after local `hour` of `day` in a region `offset` hours ahead of UTC.
  int64_t step_at(int day, double hour, double offset) const {
    const double t = static_cast<double>(midnight_ + day * kDay) + (hour - offset) * kHour;
    return static_cast<int64_t>(std::ceil((t - static_cast<double>(start_)) / static_cast<double>(step_)));
  }
  int64_t steps(double seconds) const {
    return std::max<int64_t>(1, std::llround(seconds / static_cast<double>(step_)));
  }
  int64_t time_of(int64_t t) const { return start_ + t * step_; }
  bool in_grid(int64_t t0, int64_t t1) const { return t0 >= 0 && t1 <= T_ && t1 > t0; }
  // A day after the warm-up; weekend days only when `weekend` and there are any.
  int pick_day(bool weekend) {
    std::vector<int> days;
    for (int d = warm_day_; d < span_days_; ++d)
      if (!weekend || weekday(d) >= 5) days.push_back(d);
    if (days.empty())
      for (int d = warm_day_; d < span_days_; ++d) days.push_back(d);
    if (days.empty()) days.push_back(std::max(0, span_days_ - 1));
    return days[rng_.below(static_cast<int>(days.size()))];
  }

  // ---- dimensions
  std::string value(int d, int natural) const {
    return layout_.dims[d].values[layout_.dims[d].position[natural]];
  }
  int size(int d) const { return static_cast<int>(layout_.size(d)); }
  int region_count() const { return layout_.region < 0 ? 1 : size(layout_.region); }
  double offset_of(int region) const { return layout_.region < 0 ? 0 : utc_offset_hours(region); }
  std::string region_name(int region) const {
    return layout_.region < 0 ? "all" : value(layout_.region, region);
  }
  // Natural metric indexes that spike when broken (errors, rebuffering) or drop (counts).
  std::vector<int> metrics(bool spiky) const {
    std::vector<int> out;
    for (int i = 0; layout_.metric >= 0 && i < size(layout_.metric); ++i) {
      const MetricKind k = metric_kind(i);
      if ((k == MetricKind::Errors || k == MetricKind::Ratio) == spiky) out.push_back(i);
    }
    return out;
  }
  // The metrics that move with the audience: every count, errors included.
  std::vector<int> traffic_metrics() const {
    std::vector<int> out = metrics(false);
    for (int i : metrics(true))
      if (metric_kind(i) == MetricKind::Errors) out.push_back(i);
    return out;
  }
  std::vector<std::string> values_of(int d, const std::vector<int>& naturals) const {
    std::vector<std::string> out;
    for (int i : naturals) out.push_back(value(d, i));
    std::sort(out.begin(), out.end());
    return out;
  }
  // `k` distinct natural regions drawn from the first `pool` in the natural order.
  std::vector<int> pick_regions(int k, int pool) {
    std::vector<int> all(std::min(pool, region_count()));
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
    for (size_t i = 0; i < all.size(); ++i)
      std::swap(all[i], all[i + rng_.below(static_cast<int>(all.size() - i))]);
    all.resize(std::min<size_t>(all.size(), k));
    return all;
  }
  ScopeMap regions_scope(const std::vector<int>& regions) const {
    if (layout_.region < 0) return {};
    return {{"region", values_of(layout_.region, regions)}};
  }

  Planned& add(const std::string& kind, const std::string& name, const ScopeMap& scope, EffectType type,
               int64_t t0, int64_t t1, std::vector<int> regions) {
    Planned p;
    p.record.kind = kind;
    p.record.name = name;
    p.record.scope = scope;
    p.record.start = time_of(t0);
    p.record.end = time_of(t1);
    p.effect.type = type;
    p.effect.t0 = t0;
    p.effect.t1 = t1;
    p.effect.allowed.resize(layout_.dims.size());
    for (const auto& [dim, values] : scope) {
      const int d = layout_.dim_index(dim);
      p.effect.allowed[d].assign(layout_.size(d), 0);
      for (const std::string& v : values) p.effect.allowed[d][layout_.position_of(d, v)] = 1;
    }
    p.regions = layout_.region < 0 ? std::vector<int>{} : std::move(regions);
    planned_.push_back(std::move(p));
    return planned_.back();
  }

  // Special events in one region do not overlap each other (an hour apart at least), so each
  // is a clean test case.
  bool region_busy(int region, int64_t t0, int64_t t1) const {
    const int64_t gap = kHour / step_;
    for (const Planned& p : planned_) {
      if (p.record.kind == "incident" || !(t0 < p.effect.t1 + gap && p.effect.t0 < t1 + gap)) continue;
      if (p.regions.empty() || std::find(p.regions.begin(), p.regions.end(), region) != p.regions.end())
        return true;
    }
    return false;
  }

  std::map<std::string, double> traffic_factor(double multiplier) const {
    if (layout_.metric < 0) return {{"*", round2(multiplier)}};
    std::map<std::string, double> f;
    for (int i : traffic_metrics()) f[value(layout_.metric, i)] = round2(multiplier);
    return f;
  }

  // ---- anticipated: a weekly game in a few regions
  void plan_games(int count) {
    if (count <= 0) return;
    const std::vector<int> regions = pick_regions(3, 10);
    // Sunday evening kick-off in the first region's local time, every week; shorter scenarios
    // pack the occurrences closer together.
    int first = 0;
    while (first < 6 && weekday(first) != 6) ++first;
    int interval = 7;
    if (first + 7 * (count - 1) >= span_days_) {
      first = 0;
      interval = std::max(1, (span_days_ - 1) / std::max(1, count - 1));
    }
    for (int i = 0; i < count; ++i) {
      const int64_t t0 = step_at(first + i * interval, 20, offset_of(regions[0]));
      const int64_t t1 = t0 + steps((120 + 15 * rng_.below(5)) * 60.0);  // 2 h, up to 3 with extra time
      const double popularity = rng_.uniform(0.7, 1.3);
      if (!in_grid(t0, t1)) continue;
      add("anticipated", "weekly_derby", regions_scope(regions), EffectType::Game, t0, t1, regions)
          .effect.strength = popularity;
    }
  }

  // ---- anticipated: an announced one-off launch with its expected impact
  void plan_launch() {
    const std::vector<int> regions = pick_regions(4, region_count());
    ScopeMap scope = regions_scope(regions);
    if (layout_.metric >= 0) scope["metric"] = values_of(layout_.metric, traffic_metrics());
    // Released at 08:00 UTC on a weekday after the warm-up; the surge decays over six hours.
    for (int attempt = 0; attempt < 50; ++attempt) {
      const int day = pick_day(false);
      const int64_t t0 = std::max(step_at(day, 8, 0), warm_), t1 = std::min(t0 + steps(6.0 * kHour), T_);
      if ((weekday(day) >= 5 && attempt < 40) || !in_grid(t0, t1)) continue;
      const double peak = round2(rng_.uniform(0.4, 0.7));
      Planned& p = add("anticipated", "series_launch", scope, EffectType::Launch, t0, t1, regions);
      p.effect.strength = peak;
      p.expected_impact = static_cast<float>(round2(peak * 0.7));  // the surge's mean
      return;
    }
  }

  // ---- external_low: fine weather, a gradual region-wide dip for half a day
  void plan_weather() {
    for (int attempt = 0; attempt < 100; ++attempt) {
      const int region = rng_.below(region_count());
      const int64_t t0 = std::max(step_at(pick_day(true), 10, offset_of(region)), warm_);
      const int64_t t1 = std::min(t0 + steps(12.0 * kHour), T_);
      if (!in_grid(t0, t1) || region_busy(region, t0, t1)) continue;
      const double drop = round2(rng_.uniform(0.10, 0.20));
      Planned& p = add("external_low", "fine_weather_" + region_name(region), regions_scope({region}),
                       EffectType::Weather, t0, t1, {region});
      p.effect.strength = drop;
      p.effect.ramp_in = steps(rng_.uniform(2, 3) * kHour);
      p.effect.ramp_out = steps(2.0 * kHour);
      p.record.onset = "gradual";
      p.record.factor = traffic_factor(1 - drop);
      return;
    }
  }

  // ---- external_high: a power cut, a sudden region-wide drop for one to three hours
  void plan_power_cut() {
    for (int attempt = 0; attempt < 100; ++attempt) {
      const int region = rng_.below(region_count());
      const int64_t t0 = std::max(step_at(pick_day(false), rng_.uniform(9, 22), offset_of(region)), warm_);
      const int64_t t1 = std::min(t0 + steps(rng_.uniform(1, 3) * kHour), T_);
      if (!in_grid(t0, t1) || region_busy(region, t0, t1)) continue;
      const double drop = round2(rng_.uniform(0.40, 0.70));
      Planned& p = add("external_high", "power_cut_" + region_name(region), regions_scope({region}),
                       EffectType::PowerCut, t0, t1, {region});
      p.effect.strength = drop;
      p.record.onset = "sudden";
      p.record.factor = traffic_factor(1 - drop);
      return;
    }
  }

  // ---- incidents
  // Incidents whose scopes share a series do not overlap in time (an hour apart at least).
  // `any_kind`: special events too (a subtle malfunction is a test of its own detection, not of
  // what the rules make of it during a power cut).
  bool incident_conflict(const ScopeMap& scope, int64_t t0, int64_t t1, bool any_kind = false) const {
    const int64_t gap = kHour / step_;
    for (const Planned& p : planned_) {
      if ((!any_kind && p.record.kind != "incident") || !(t0 < p.effect.t1 + gap && p.effect.t0 < t1 + gap)) continue;
      bool disjoint = false;
      for (const auto& [dim, values] : scope) {
        const auto other = p.record.scope.find(dim);
        if (other == p.record.scope.end()) continue;
        bool shared = false;
        for (const std::string& v : values)
          shared = shared || std::find(other->second.begin(), other->second.end(), v) != other->second.end();
        disjoint = disjoint || !shared;
      }
      if (!disjoint) return true;
    }
    return false;
  }

  // One series worth watching (natural values per dim), in `region` when >= 0: a cell with a
  // large audience, so that the malfunction stands out of the night-time noise. Mostly a
  // count that drops, sometimes errors or rebuffering that spike.
  std::vector<int> watched_series(int region) {
    std::vector<int> pool = metrics(rng_.chance(0.3));
    if (pool.empty()) pool = metrics(false);
    if (pool.empty()) pool = metrics(true);
    std::vector<int> best;
    double best_audience = -1;
    for (int attempt = 0; attempt < 64 && best_audience < 2000; ++attempt) {
      std::vector<int> natural(layout_.dims.size());
      for (size_t d = 0; d < natural.size(); ++d) natural[d] = rng_.below(size(static_cast<int>(d)));
      if (!pool.empty()) natural[layout_.metric] = pool[rng_.below(static_cast<int>(pool.size()))];
      if (region >= 0 && layout_.region >= 0) natural[layout_.region] = region;
      const double audience =
          Rng(seed_, kCellStream, layout_.cell(layout_.series_at(natural))).log_uniform(5, 50000);
      if (audience > best_audience) best = natural, best_audience = audience;
    }
    return best;
  }

  IncidentShape incident_scope(IncidentScope type, int region) {
    if ((type == IncidentScope::Device && layout_.device < 0) ||
        (type == IncidentScope::StackRegion && layout_.stack < 0) ||
        (type == IncidentScope::Metric && layout_.metric < 0))
      type = IncidentScope::Series;
    IncidentShape s;
    switch (type) {
      case IncidentScope::Series: {
        const std::vector<int> natural = watched_series(region);
        s.label = "series";
        for (size_t d = 0; d < natural.size(); ++d) {
          const std::string v = value(static_cast<int>(d), natural[d]);
          s.scope[layout_.dims[d].name] = {v};
          s.label += "_" + v;
        }
        break;
      }
      case IncidentScope::Device: {
        // A device family's app breaks in every region: one count metric, or all metrics.
        const std::string device = value(layout_.device, rng_.below(size(layout_.device)));
        s.scope["device"] = {device};
        s.label = "device_" + device;
        const std::vector<int> counts = metrics(false);
        if (!counts.empty() && rng_.chance(0.5)) {
          const std::string metric =
              value(layout_.metric, counts[rng_.below(static_cast<int>(counts.size()))]);
          s.scope["metric"] = {metric};
          s.label += "_" + metric;
        }
        break;
      }
      case IncidentScope::StackRegion: {
        const std::string stack = value(layout_.stack, rng_.below(size(layout_.stack)));
        s.scope["stack"] = {stack};
        s.label = "stack_" + stack;
        if (layout_.region >= 0) {
          const std::string r = value(layout_.region, region >= 0 ? region : rng_.below(region_count()));
          s.scope["region"] = {r};
          s.label += "_" + r;
        }
        break;
      }
      case IncidentScope::Metric: {
        // A metric breaks everywhere: errors or rebuffering spike (a bad CDN configuration),
        // or, without such metrics, a count drops (a broken client beacon).
        std::vector<int> pool = metrics(true);
        if (pool.empty()) pool = metrics(false);
        const std::string metric = value(layout_.metric, pool[rng_.below(static_cast<int>(pool.size()))]);
        s.scope["metric"] = {metric};
        s.label = "metric_" + metric;
        break;
      }
    }
    return s;
  }

  // Counts drop; errors and rebuffering spike with them (failing playback throws errors). A
  // scope naming only errors or rebuffering is a pure spike of x3..x10.
  void set_incident_magnitude(Planned& p) {
    Effect& e = p.effect;
    const double drop = round2(rng_.uniform(0.35, 0.90));
    const double spike = round2(rng_.uniform(3, 10));
    const auto metric = p.record.scope.find("metric");
    bool spike_only = metric != p.record.scope.end();
    for (size_t i = 0; spike_only && i < metric->second.size(); ++i) {
      const MetricKind k = metric_kind(layout_.natural_of(layout_.metric, metric->second[i]));
      spike_only = k == MetricKind::Errors || k == MetricKind::Ratio;
    }
    e.count_factor = round2(1 - drop);
    e.error_factor = spike_only ? spike : round2(1 + 6 * drop);
    e.ratio_factor = spike_only ? spike : round2(1 + 4 * drop);
    p.label += spike_only ? "_spike" : "_drop";
    if (layout_.metric < 0) {
      p.record.factor["*"] = e.count_factor;
      return;
    }
    for (int i = 0; i < size(layout_.metric); ++i) {
      const std::string v = value(layout_.metric, i);
      if (metric != p.record.scope.end() &&
          std::find(metric->second.begin(), metric->second.end(), v) == metric->second.end())
        continue;
      const MetricKind k = metric_kind(i);
      p.record.factor[v] = k == MetricKind::Errors  ? e.error_factor
                           : k == MetricKind::Ratio ? e.ratio_factor
                                                    : e.count_factor;
    }
  }

  // Places an incident starting in [lo, hi) (grid steps) and lasting `lo_s`..`hi_s` seconds
  // (log-uniform; cut at the grid's end); false when no free slot was found.
  bool place_incident(const IncidentShape& shape, int64_t lo, int64_t hi, double lo_s, double hi_s) {
    hi = std::min(hi, T_ - 1);
    if (hi <= lo) return false;
    for (int attempt = 0; attempt < 100; ++attempt) {
      const int64_t t0 = lo + static_cast<int64_t>(rng_.uniform() * static_cast<double>(hi - lo));
      const int64_t t1 = std::min(T_, t0 + steps(rng_.log_uniform(lo_s, hi_s)));
      if (!in_grid(t0, t1) || incident_conflict(shape.scope, t0, t1)) continue;
      Planned& p = add("incident", "", shape.scope, EffectType::Incident, t0, t1, {});
      p.label = shape.label;
      const bool gradual = t1 - t0 >= 3 && rng_.chance(0.35);
      p.effect.ramp_in = gradual ? std::max<int64_t>(2, (t1 - t0) / 3) : 1;
      p.record.onset = gradual ? "gradual" : "sudden";
      set_incident_magnitude(p);
      return true;
    }
    return false;
  }

  void plan_incidents(int count) {
    int placed = 0;
    std::set<IncidentScope> used;
    const auto place = [&](IncidentScope type, int region, int64_t lo, int64_t hi, double lo_s, double hi_s) {
      if (!place_incident(incident_scope(type, region), lo, hi, lo_s, hi_s)) return false;
      ++placed;
      used.insert(type);
      return true;
    };
    // One malfunction hides inside a game and one inside fine weather: suppression must not
    // swallow them. (Indexes, not pointers: placing an incident grows planned_.)
    int game = -1, weather = -1;
    for (int i = 0; i < static_cast<int>(planned_.size()); ++i) {
      const Planned& p = planned_[i];
      if (p.record.name == "weekly_derby" && p.effect.t0 >= warm_) game = i;
      if (p.record.kind == "external_low" && weather < 0) weather = i;
    }
    if (placed < count && game >= 0) {
      const Effect g = planned_[game].effect;
      const int region = planned_[game].regions.empty() ? -1 : planned_[game].regions[0];
      place(IncidentScope::StackRegion, region, g.t0 + (g.t1 - g.t0) / 4, g.t1, kHour, 2 * kHour);
    }
    if (placed < count && weather >= 0) {
      const Effect w = planned_[weather].effect;
      const int region = planned_[weather].regions.empty() ? -1 : planned_[weather].regions[0];
      place(IncidentScope::Series, region, w.t0 + w.ramp_in, w.t1 - w.ramp_out, kHour, 3 * kHour);
    }
    // The rest cycle through the scope types, those not placed yet first.
    const IncidentScope cycle[] = {IncidentScope::Device, IncidentScope::Metric, IncidentScope::Series,
                                   IncidentScope::StackRegion};
    for (int i = 0, failures = 0; placed < count && failures < 20; ++i) {
      const IncidentScope type = cycle[i % 4];
      if (used.size() < 4 && used.count(type) && i < 8) continue;
      if (!place(type, -1, warm_, T_, 1800, 6 * kHour)) ++failures;
    }
  }

  // A count metric of the series' cell, drawn at random: its natural index, or -1 without metrics.
  int count_metric() {
    const std::vector<int> counts = metrics(false);
    return counts.empty() ? -1 : counts[rng_.below(static_cast<int>(counts.size()))];
  }

  // A 30-40 % drop held for 2.5-3.5 hours on one series whose audience is small (50-500 plays a
  // step at the peak): a z of about -3 to -4 for hours, never one large point.
  void plan_moderate_drop() {
    std::vector<int> natural(layout_.dims.size());
    for (int attempt = 0; attempt < 256; ++attempt) {
      for (size_t d = 0; d < natural.size(); ++d) natural[d] = rng_.below(size(static_cast<int>(d)));
      if (layout_.metric >= 0) natural[layout_.metric] = std::max(0, count_metric());
      const double audience =
          Rng(seed_, kCellStream, layout_.cell(layout_.series_at(natural))).log_uniform(5, 50000);
      if (audience >= 50 && audience <= 500) break;
    }
    IncidentShape shape;
    shape.label = "moderate_drop";
    for (size_t d = 0; d < natural.size(); ++d) {
      shape.scope[layout_.dims[d].name] = {value(static_cast<int>(d), natural[d])};
      shape.label += "_" + value(static_cast<int>(d), natural[d]);
    }
    const double drop = round2(rng_.uniform(0.30, 0.40));
    place_subtle(shape, warm_, T_, rng_.uniform(2.5, 3.5) * kHour, 1, drop, "sudden");
  }

  // A slide to -60 % over four hours from the evening peak into the night's decline, held two
  // hours more, on one count metric of one device in one region (every stack): the forecast's
  // level follows a slow slide, so only a slow baseline sees it.
  void plan_slow_leak() {
    IncidentShape shape;
    const int region = layout_.region < 0 ? -1 : rng_.below(region_count());
    const int metric = count_metric();
    shape.label = "slow_leak";
    if (metric >= 0) shape.scope["metric"] = {value(layout_.metric, metric)};
    if (layout_.device >= 0) shape.scope["device"] = {value(layout_.device, rng_.below(size(layout_.device)))};
    if (region >= 0) shape.scope["region"] = {value(layout_.region, region)};
    for (const auto& [dim, values] : shape.scope) shape.label += "_" + values[0];
    for (int attempt = 0; attempt < 20; ++attempt) {
      const int64_t t0 = step_at(pick_day(false), 20.5, offset_of(std::max(region, 0)));
      if (place_subtle(shape, t0, t0 + 1, 6 * kHour, steps(4 * kHour), 0.60, "gradual")) return;
    }
  }

  bool place_subtle(const IncidentShape& shape, int64_t lo, int64_t hi, double seconds, int64_t ramp_in, double drop,
                    const char* onset) {
    hi = std::min(hi, T_ - 1);
    for (int attempt = 0; attempt < 100 && hi > lo; ++attempt) {
      const int64_t t0 = lo + static_cast<int64_t>(rng_.uniform() * static_cast<double>(hi - lo));
      const int64_t t1 = std::min(T_, t0 + steps(seconds));
      if (!in_grid(t0, t1) || incident_conflict(shape.scope, t0, t1, true)) continue;
      Planned& p = add("incident", "", shape.scope, EffectType::Incident, t0, t1, {});
      p.label = shape.label;
      p.effect.ramp_in = ramp_in;
      p.record.onset = onset;
      p.effect.count_factor = round2(1 - drop);
      const auto metric = shape.scope.find("metric");
      p.record.factor[metric == shape.scope.end() ? "*" : metric->second[0]] = p.effect.count_factor;
      return true;
    }
    return false;
  }

  const Layout& layout_;
  uint64_t seed_;
  int64_t start_, step_, T_;
  Rng rng_;
  int64_t midnight_ = 0;  // UTC midnight at or before the start
  int span_days_ = 0;     // days from midnight_ that the grid touches
  int64_t warm_ = 0;      // grid steps of history before any malfunction or external event
  int warm_day_ = 0;
  std::vector<Planned> planned_;
};

std::string format_impact(float impact) {
  if (std::isnan(impact)) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", impact);
  return text;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::vector<std::pair<std::string, int>> parse_shape(const std::string& text) {
  std::vector<std::pair<std::string, int>> shape;
  const auto fail = [&](const std::string& problem) -> void {
    throw InputError("--shape '" + text + "': " + problem +
                     " (expected e.g. metric=4,stack=4,device=8,region=50)");
  };
  if (text.empty()) fail("empty");
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string term = text.substr(pos, comma - pos);
    const size_t eq = term.find('=');
    if (eq == std::string::npos) fail("'" + term + "' is not dim=size");
    const std::string name = term.substr(0, eq), size = term.substr(eq + 1);
    if (name.empty()) fail("'" + term + "' has no dimension name");
    for (char c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
        fail("dimension name '" + name + "' is not a word");
    if (name == "timestamp" || name == "value") fail("'" + name + "' is a reserved column name");
    if (size.empty() || size.size() > 9 || size.find_first_not_of("0123456789") != std::string::npos)
      fail("size of '" + name + "' is not a positive integer");
    const int n = std::stoi(size);
    if (n < 1) fail("size of '" + name + "' must be at least 1");
    for (const auto& existing : shape)
      if (existing.first == name) fail("dimension '" + name + "' given twice");
    shape.emplace_back(name, n);
    pos = comma + 1;
  }
  return shape;
}

Scenario generate_scenario(const GenerateOptions& options) {
  if (options.shape.empty()) throw InputError("--shape: no dimensions");
  std::set<std::string> names;
  double series = 1;
  for (const auto& [name, size] : options.shape) {
    if (size < 1) throw InputError("--shape: size of '" + name + "' must be at least 1");
    if (!names.insert(name).second) throw InputError("--shape: dimension '" + name + "' given twice");
    series *= size;
  }
  if (options.days <= 0) throw InputError("--days must be at least 1");
  if (options.step <= 0) throw InputError("--step must be positive");
  if (options.step > static_cast<int64_t>(options.days) * kDay)
    throw InputError("--step " + std::to_string(options.step) + "s is longer than --days");
  if (options.format != "cube" && options.format != "csv")
    throw InputError("--format must be cube or csv, not '" + options.format + "'");
  const size_t T = static_cast<size_t>(static_cast<int64_t>(options.days) * kDay / options.step);
  if (series * static_cast<double>(T) > 4e9)
    throw InputError("--shape x --days: " + std::to_string(static_cast<long long>(series)) + " series x " +
                     std::to_string(T) + " points is more than 4e9 values");

  const Layout layout = make_layout(options.shape);
  Scenario scenario;
  Dataset& data = scenario.data;
  data.keys = make_keys(layout);
  data.start = options.start ? options.start : kDefaultStart;
  data.step = options.step;
  data.T = T;
  data.group_dim = layout.region >= 0 ? "region" : "";
  data.stack_dim = layout.stack >= 0 ? "stack" : "";
  data.source = "generate";

  Planner planner(layout, options, data.start, T);
  const std::vector<Planned> planned = planner.plan(options);

  const ProfileTable table = make_profile_table(layout, options.seed, data.start, data.step, T);
  const RegionDays region_days(layout, options.seed, data.start, data.step, T);
  const size_t N = layout.N;
  data.values.resize(N * T);
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  // Tiles of 16 series (one cache line of floats per time step): each series is generated into
  // the tile, which is then copied row by row into the time-major cube.
  constexpr size_t kTile = 16;
  const size_t tiles = (N + kTile - 1) / kTile;
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> tile(T * kTile), mult(T);
#pragma omp for schedule(dynamic, 4)
    for (size_t i = 0; i < tiles; ++i) {
      const size_t s0 = i * kTile, width = std::min(kTile, N - s0);
      for (size_t j = 0; j < width; ++j) {
        const size_t s = s0 + j;
        const SeriesModel model = series_model(layout, options.seed, s);
        // A ratio does not move with the audience.
        if (model.kind == MetricKind::Ratio)
          std::fill(mult.begin(), mult.end(), 1.0f);
        else
          region_days.fill(model.region_profile, T, mult.data());
        for (const Planned& p : planned)
          if (p.effect.covers(layout, s))
            apply_effect(p.effect, model.kind, model.stack_class, model.sens, mult.data());
        generate_series(model, table, mult.data(), options.seed, s, data.step, T, tile.data() + j, kTile);
      }
      for (size_t t = 0; t < T; ++t)
        std::memcpy(data.values.data() + t * N + s0, tile.data() + t * kTile, width * sizeof(float));
    }
  }

  std::string events = "event,start,end,scope,expected_impact\n";
  for (const Planned& p : planned) {
    scenario.truth.push_back(p.record);
    if (p.record.kind != "anticipated") continue;
    events += p.record.name + "," + format_iso(p.record.start) + "," + format_iso(p.record.end) + "," +
              scope_text(p.record.scope) + "," + format_impact(p.expected_impact) + "\n";
  }
  scenario.events_csv = std::move(events);
  return scenario;
}

// The detection config an SRE of this platform would write: traffic metrics page on drops,
// error and rebuffering metrics on spikes (the generator's malfunctions go those ways).
std::string scenario_config_json(const Dataset& data) {
  const int metric = data.keys.dim_index("metric");
  std::string rules;
  for (size_t c = 0; metric >= 0 && c < data.keys.dictionary[metric].size(); ++c) {
    const std::string& name = data.keys.dictionary[metric][c];
    const bool spiky = name == "stream_errors" || name == "rebuffer_ratio";
    rules += std::string(rules.empty() ? "" : ",\n") + "    \"" + name + "\": {\"direction\": \"" +
             (spiky ? "spike" : "drop") + "\"}";
  }
  return "{\n  \"metric_dim\": \"metric\",\n  \"metrics\": {\n" + rules + "\n  }\n}\n";
}

void write_scenario(const Scenario& scenario, const std::string& dir, const std::string& format) {
  if (format != "cube" && format != "csv")
    throw InputError("--format must be cube or csv, not '" + format + "'");
  AtomicDir out(dir);
  const std::filesystem::path temp(out.temp_path());
  if (format == "cube") {
    write_cube(scenario.data, out.temp_path());
  } else {
    write_csv(scenario.data, (temp / "data.csv").string());
  }
  std::string truth;
  for (const TruthRecord& r : scenario.truth) truth += truth_json(r) + "\n";
  AtomicFile truth_file((temp / "truth.jsonl").string());
  truth_file.write(truth);
  truth_file.commit();
  AtomicFile events_file((temp / "events.csv").string());
  events_file.write(scenario.events_csv);
  events_file.commit();
  AtomicFile config_file((temp / "config.json").string());
  config_file.write(scenario_config_json(scenario.data));
  config_file.commit();
  out.commit();
}

}  // namespace vigil
