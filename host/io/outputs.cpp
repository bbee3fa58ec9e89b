// Output files of `vigil score` (DESIGN.md "Outputs"), each written atomically.
#include <omp.h>

#include <charconv>
#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <nlohmann/json.hpp>

#include "ingest/csv_text.hpp"
#include "vigil/alarms.hpp"
#include "vigil/atomic_file.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

using nlohmann::ordered_json;

ordered_json series_object(const Keys& keys, uint32_t series) {
  ordered_json o = ordered_json::object();
  for (size_t d = 0; d < keys.num_dims(); ++d) o[keys.dims[d]] = keys.value(series, d);
  return o;
}

// Finite numbers only: JSON has no NaN.
ordered_json number(double v, double scale = 1e4) {
  if (!std::isfinite(v)) return nullptr;
  return std::round(v * scale) / scale;
}

ordered_json record(const Dataset& data, const std::string& id, const std::string& status,
                    const std::string& reason, uint32_t first, uint32_t last, Direction direction,
                    const std::string& severity, float peak_z, ordered_json scope, ordered_json series,
                    size_t n_series, ordered_json evidence) {
  ordered_json o;
  o["id"] = id;
  o["status"] = status;
  o["reason"] = reason;
  o["start"] = format_iso(data.time_at(first));
  o["end"] = format_iso(data.time_at(last) + data.step);  // exclusive: the step after the last point
  o["direction"] = to_string(direction);
  o["severity"] = severity;
  o["peak_z"] = number(peak_z, 100);
  o["scope"] = std::move(scope);
  o["series"] = std::move(series);
  o["n_series"] = n_series;
  o["evidence"] = std::move(evidence);
  return o;
}

std::string alarm_id(size_t a) { return "alarm-" + std::to_string(a + 1); }
std::string episode_id(size_t e) { return "episode-" + std::to_string(e + 1); }

std::unique_ptr<AtomicFile> stage_lines(const std::string& path, const std::vector<ordered_json>& lines) {
  auto out = std::make_unique<AtomicFile>(path);
  // Ingest admits only UTF-8 text (core/text_checks.hpp); replacing rather than throwing is the
  // last guard, so a writer never turns into an internal error.
  for (const auto& line : lines) out->write(line.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n");
  return out;
}

// The member series an alarm line lists: all of them up to `max_listed` (0: no cap), else the
// `max_listed` whose episodes peaked furthest, strongest first.
std::vector<uint32_t> listed_series(const Alarm& al, const std::vector<Episode>& episodes, size_t max_listed) {
  if (max_listed == 0 || al.series.size() <= max_listed) return al.series;
  std::unordered_map<uint32_t, float> peak;  // series -> its largest |peak z| in the alarm
  for (uint32_t e : al.episodes) {
    float& p = peak[episodes[e].series];
    p = std::max(p, std::fabs(episodes[e].peak_z));
  }
  std::vector<uint32_t> listed = al.series;
  std::partial_sort(listed.begin(), listed.begin() + static_cast<long>(max_listed), listed.end(),
                    [&](uint32_t a, uint32_t b) { return peak[a] != peak[b] ? peak[a] > peak[b] : a < b; });
  listed.resize(max_listed);
  return listed;
}

}  // namespace

std::unique_ptr<AtomicFile> stage_alarms(const std::string& path, const Dataset& data,
                                         const std::vector<Alarm>& alarms, const std::vector<Episode>& episodes,
                                         size_t max_series_listed) {
  std::vector<ordered_json> lines;
  for (size_t a = 0; a < alarms.size(); ++a) {
    const Alarm& al = alarms[a];
    ordered_json scope = ordered_json::object();
    for (auto& [d, c] : al.scope) scope[data.keys.dims[d]] = data.keys.dictionary[d][c];
    const std::vector<uint32_t> listed = listed_series(al, episodes, max_series_listed);
    ordered_json series = ordered_json::array();
    for (uint32_t s : listed) series.push_back(series_object(data.keys, s));
    ordered_json ev;
    ev["step_seconds"] = data.step;
    ev["impact"] = number(al.impact);
    ev["density"] = number(al.density);
    ev["episodes"] = al.episodes.size();
    ev["drop_episodes"] = al.drops;
    ev["spike_episodes"] = al.spikes;
    ev["peak_time"] = format_iso(data.time_at(al.first));
    for (uint32_t e : al.episodes)
      if (episodes[e].peak_z == al.peak_z) ev["peak_time"] = format_iso(data.time_at(episodes[e].peak_t));
    ordered_json ids = ordered_json::array();
    for (uint32_t e : al.episodes) ids.push_back(episode_id(e));
    ev["episode_ids"] = std::move(ids);
    ordered_json line = record(data, alarm_id(a), "raised", "malfunction", al.first, al.last, al.direction,
                               al.severity, al.peak_z, std::move(scope), std::move(series), al.series.size(),
                               std::move(ev));
    line["series_truncated"] = al.series.size() - listed.size();
    lines.push_back(std::move(line));
  }
  return stage_lines(path, lines);
}

std::unique_ptr<AtomicFile> stage_ledger(const std::string& path, const Dataset& data,
                                         const std::vector<Alarm>& alarms, const std::vector<Episode>& episodes,
                                         const std::vector<Notice>& notices) {
  std::vector<ordered_json> lines;
  for (size_t e = 0; e < episodes.size(); ++e) {
    const Episode& ep = episodes[e];
    ordered_json ev;
    ev["step_seconds"] = data.step;
    ev["rule"] = ep.reason;
    ev["impact"] = number(ep.impact);
    ev["points_past_threshold"] = ep.points;
    ev["peak_time"] = format_iso(data.time_at(ep.peak_t));
    ev["onset_z"] = number(ep.onset_z, 100);
    ev["z_derivative"] = number(ep.derivative, 100);
    ev["z_volatility"] = number(ep.volatility, 100);
    ev["breadth"] = number(ep.breadth, 100);
    ev["correlation"] = number(ep.correlation, 1000);
    ev["group_z"] = number(ep.group_z, 100);
    ev["z_without_events"] = number(ep.base_peak_z, 100);
    ev["events"] = ep.events;
    ev["alarm"] = ep.alarm >= 0 ? ordered_json(alarm_id(static_cast<size_t>(ep.alarm))) : ordered_json(nullptr);
    ev["notice"] = ep.notice >= 0 ? ordered_json("notice-" + std::to_string(ep.notice + 1)) : ordered_json(nullptr);
    const std::string severity =
        ep.alarm >= 0 ? alarms[static_cast<size_t>(ep.alarm)].severity : std::string("minor");
    ordered_json series = ordered_json::array();
    series.push_back(series_object(data.keys, ep.series));
    lines.push_back(record(data, episode_id(e), ep.decision == "raised" ? "raised" : "suppressed", ep.reason,
                           ep.first, ep.last, ep.direction, severity, ep.peak_z,
                           series_object(data.keys, ep.series), std::move(series), 1, std::move(ev)));
  }
  for (size_t n = 0; n < notices.size(); ++n) {
    const Notice& no = notices[n];
    ordered_json scope = ordered_json::object();
    if (!data.group_dim.empty()) scope[data.keys.dims[no.group_dim]] = data.keys.dictionary[no.group_dim][no.group_code];
    ordered_json series = ordered_json::array();
    for (uint32_t s : no.series) series.push_back(series_object(data.keys, s));
    ordered_json ev;
    ev["step_seconds"] = data.step;
    ev["rule"] = "external_event";
    ordered_json ids = ordered_json::array();
    for (uint32_t e : no.episodes) ids.push_back(episode_id(e));
    ev["episode_ids"] = std::move(ids);
    lines.push_back(record(data, "notice-" + std::to_string(n + 1), "suppressed", "external_event", no.first, no.last,
                           no.direction, no.series.size() >= 10 ? "critical" : "major", no.peak_z, std::move(scope),
                           std::move(series), no.series.size(), std::move(ev)));
  }
  return stage_lines(path, lines);
}

namespace {

void append_float(std::string& out, float v, int precision) {
  if (!std::isfinite(v)) return;  // empty field
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general, precision);
  out.append(buf, r.ptr);
}

void append_value(std::string& out, float v) {
  if (!std::isfinite(v)) return;
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip
  out.append(buf, r.ptr);
}

// The band of the scores file at point (t, i): the values whose |z| stays below the series'
// threshold in each allowed direction, forecast +- threshold x scale, widened like a young
// model's z (evidence.hpp), in the input's units. NaN where the point has no z, or on the side
// the series' direction never alarms. Exact where z is the log residual over the scale; a count's
// z blends in its Poisson tail past |z| 2, which moves its band's edges a little.
struct Band {
  float lower = NAN, upper = NAN;
};
Band band_at(const Scores& s, const EvidenceParams& young, size_t N, size_t t, size_t i) {
  const size_t p = t * N + i;
  Band b;
  if (s.scale.empty() || std::isnan(s.z[p]) || std::isnan(s.scale[p])) return b;
  const float widen = young_width_at(young, static_cast<float>(t) - static_cast<float>(s.first_value[i]));
  const float half = s.threshold[i] * s.scale[p] * widen;
  const uint8_t transform = s.transform[i];
  const auto direction = static_cast<Direction>(s.direction[i]);
  // Values of a log1p or count series are never negative: a lower edge below 0 is 0.
  if (direction != Direction::Spike)
    b.lower = transform == kIdentity ? s.forecast[p] - half
                                     : std::max(inverse_transform(s.forecast[p] - half, transform), 0.0f);
  if (direction != Direction::Drop) b.upper = inverse_transform(s.forecast[p] + half, transform);
  return b;
}

}  // namespace

void write_alarms(const std::string& path, const Dataset& data, const std::vector<Alarm>& alarms,
                  const std::vector<Episode>& episodes, size_t max_series_listed) {
  stage_alarms(path, data, alarms, episodes, max_series_listed)->commit();
}

void write_ledger(const std::string& path, const Dataset& data, const std::vector<Alarm>& alarms,
                  const std::vector<Episode>& episodes, const std::vector<Notice>& notices) {
  stage_ledger(path, data, alarms, episodes, notices)->commit();
}

ScoresWriter::ScoresWriter(const std::string& path, const std::vector<std::string>& dims)
    : out_(std::make_unique<AtomicFile>(path)) {
  std::string header = "timestamp";
  for (const auto& d : dims) {
    header += ',';
    csv::append_field(header, d);  // a dimension named "reg,ion" stays one field
  }
  header += ",value,forecast,z_forecast,z_derivative,z_volatility,breadth,correlation,events,score,"
            "z_local,z_calibrated,z_accumulated,z_baseline,lower,upper\n";
  out_->write(header);
}

ScoresWriter::~ScoresWriter() = default;

void ScoresWriter::append(const Dataset& data, const Scores& scores, const std::vector<float>& final_score) {
  const size_t N = data.N(), T = data.T;
  if (stamps_.size() != T) {
    stamps_.resize(T);
    for (size_t t = 0; t < T; ++t) stamps_[t] = format_iso(data.time_at(t));
  }
  const std::vector<std::string>& stamps = stamps_;
  const EvidenceParams young = young_widening_params(scores.params);  // the band widens as z does
  // The optional [T][N] columns, in header order (empty arrays write empty fields).
  struct ScoreColumn {
    const std::vector<float>* values;
    int decimals;
  };
  const ScoreColumn before_events[] = {
      {&scores.z_derivative, 5}, {&scores.z_volatility, 5}, {&scores.breadth, 3}, {&scores.correlation, 4}};
  const ScoreColumn evidence[] = {
      {&scores.z_local, 5}, {&scores.z_calibrated, 5}, {&scores.z_accumulated, 5}, {&scores.z_baseline, 5}};
  // Series are formatted in parallel in chunks and written in series order.
  constexpr size_t kChunk = 512;
  for (size_t c0 = 0; c0 < N; c0 += kChunk * static_cast<size_t>(omp_get_max_threads())) {
    const size_t chunks = std::min<size_t>(omp_get_max_threads(), (N - c0 + kChunk - 1) / kChunk);
    std::vector<std::string> text(chunks);
#pragma omp parallel for schedule(static, 1)
    for (size_t k = 0; k < chunks; ++k) {
      std::string& buf = text[k];
      const size_t i_end = std::min(N, c0 + (k + 1) * kChunk);
      for (size_t i = c0 + k * kChunk; i < i_end; ++i) {
        std::string dims;
        for (size_t d = 0; d < data.keys.num_dims(); ++d) {
          dims += ',';
          csv::append_field(dims, data.keys.value(i, d));
        }
        const uint8_t transform = scores.transform[i];
        for (size_t t = 0; t < T; ++t) {
          if (!data.was_observed(t, i)) continue;
          const size_t p = t * N + i;
          buf += stamps[t];
          buf += dims;
          buf += ',';
          append_value(buf, data.values[p]);
          buf += ',';
          append_float(buf, inverse_transform(scores.forecast[p], transform), 7);
          buf += ',';
          append_float(buf, scores.z[p], 5);
          for (const ScoreColumn& c : before_events) {
            buf += ',';
            append_float(buf, c.values->empty() ? NAN : (*c.values)[p], c.decimals);
          }
          buf += ',';
          csv::append_field(buf, active_events(scores.events, i, t));
          buf += ',';
          append_float(buf, final_score[p], 4);
          for (const ScoreColumn& c : evidence) {
            buf += ',';
            append_float(buf, c.values->empty() ? NAN : (*c.values)[p], c.decimals);
          }
          const Band band = band_at(scores, young, N, t, i);
          buf += ',';
          append_float(buf, band.lower, 7);
          buf += ',';
          append_float(buf, band.upper, 7);
          buf += '\n';
        }
      }
    }
    for (auto& t : text) out_->write(t);
  }
}

void ScoresWriter::commit() { out_->commit(); }

AtomicFile& ScoresWriter::file() { return *out_; }

void write_scores(const std::string& path, const Dataset& data, const Scores& scores,
                  const std::vector<float>& final_score) {
  ScoresWriter out(path, data.keys.dims);
  out.append(data, scores, final_score);
  out.commit();
}

}  // namespace vigil
