// `vigil report` (include/vigil/report.hpp): reads the run's output files back and draws the page.
// Only the series a drawn section needs are kept from the scores file, so a run of millions of
// series and thousands of alarms still gives a bounded page: the `max_drawn` most severe alarms
// are drawn, the rest listed in the summary's table.
#include "vigil/report.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "ingest/csv_text.hpp"
#include "vigil/atomic_file.hpp"
#include "vigil/error.hpp"
#include "vigil/events.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

using nlohmann::json;
using Dims = std::map<std::string, std::string>;

// ---- The run's records ----------------------------------------------------------------------

// A line of the alarms or the ledger file: an alarm, a candidate episode or a notice.
struct Record {
  std::string id, status, reason, direction, severity, rule, events, alarm, notice;
  int64_t start = 0, end = 0, peak_time = 0, step = 0;
  double peak_z = NAN, impact = NAN, density = NAN, onset_z = NAN, derivative = NAN, volatility = NAN,
         breadth = NAN, correlation = NAN, group_z = NAN, z_without_events = NAN;
  Dims scope;
  std::vector<Dims> series;  // listed members (an episode: its one series)
  size_t n_series = 0, truncated = 0;
  std::vector<std::string> episode_ids;
  long long line = 0;
};

double number_of(const json& o, const char* key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_number() ? it->get<double>() : NAN;
}
std::string text_of(const json& o, const char* key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}
Dims dims_of(const json& o, const std::string& where) {
  if (!o.is_object()) throw InputError(where + ": a series or scope must be an object");
  Dims d;
  for (auto it = o.begin(); it != o.end(); ++it)
    d[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
  return d;
}

std::vector<Record> read_records(const std::string& path) {
  const csv::FileBytes bytes(path);
  csv::Lines lines(bytes.view());
  std::string_view line;
  long long number = 0;
  std::vector<Record> out;
  while (lines.next(line, number)) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string where = path + ":" + std::to_string(number);
    json o;
    try {
      o = json::parse(line);
    } catch (const json::exception&) {
      throw InputError(where + ": not a JSON object");
    }
    if (!o.is_object()) throw InputError(where + ": not a JSON object");
    Record r;
    r.line = number;
    r.id = text_of(o, "id");
    if (r.id.empty()) throw InputError(where + ": no \"id\"");
    r.status = text_of(o, "status");
    r.reason = text_of(o, "reason");
    r.direction = text_of(o, "direction");
    r.severity = text_of(o, "severity");
    for (const char* key : {"start", "end"}) {
      const auto t = parse_timestamp(text_of(o, key));
      if (!t) throw InputError(where + ": \"" + key + "\" is not an ISO-8601 time");
      (key[0] == 's' ? r.start : r.end) = *t;
    }
    if (r.end <= r.start) throw InputError(where + ": \"end\" is not after \"start\"");
    r.peak_z = number_of(o, "peak_z");
    if (o.contains("scope")) r.scope = dims_of(o["scope"], where);
    if (o.contains("series") && o["series"].is_array())
      for (const json& s : o["series"]) r.series.push_back(dims_of(s, where));
    r.n_series = o.contains("n_series") && o["n_series"].is_number_unsigned() ? o["n_series"].get<size_t>()
                                                                              : r.series.size();
    r.truncated = o.contains("series_truncated") && o["series_truncated"].is_number_unsigned()
                      ? o["series_truncated"].get<size_t>()
                      : 0;
    const json ev = o.contains("evidence") && o["evidence"].is_object() ? o["evidence"] : json::object();
    const double step = number_of(ev, "step_seconds");
    r.step = std::isfinite(step) ? static_cast<int64_t>(step) : 0;
    r.rule = text_of(ev, "rule");
    r.impact = number_of(ev, "impact");
    r.density = number_of(ev, "density");
    r.onset_z = number_of(ev, "onset_z");
    r.derivative = number_of(ev, "z_derivative");
    r.volatility = number_of(ev, "z_volatility");
    r.breadth = number_of(ev, "breadth");
    r.correlation = number_of(ev, "correlation");
    r.group_z = number_of(ev, "group_z");
    r.z_without_events = number_of(ev, "z_without_events");
    r.events = text_of(ev, "events");
    r.alarm = text_of(ev, "alarm");
    r.notice = text_of(ev, "notice");
    if (const auto peak = parse_timestamp(text_of(ev, "peak_time"))) r.peak_time = *peak;
    if (ev.contains("episode_ids") && ev["episode_ids"].is_array())
      for (const json& id : ev["episode_ids"])
        if (id.is_string()) r.episode_ids.push_back(id.get<std::string>());
    out.push_back(std::move(r));
  }
  return out;
}

// ---- The scores of the series drawn ----------------------------------------------------------

struct Points {
  std::vector<int64_t> t;
  std::vector<float> value, forecast, lower, upper, z, accumulated;
  size_t at_or_after(int64_t time) const {
    return static_cast<size_t>(std::lower_bound(t.begin(), t.end(), time) - t.begin());
  }
};

struct ScoresFile {
  std::vector<std::string> dims;  // in the file's column order
  std::unordered_map<std::string, Points> series;  // by key, the wanted series only
  size_t rows = 0, n_series = 0;
  std::string first_time, last_time;
};

// A series' key: its dimension values in the scores file's order ("metric=x,stack=y").
std::string key_of(const Dims& d, const std::vector<std::string>& dims, const std::string& where) {
  std::string key;
  for (const std::string& dim : dims) {
    const auto it = d.find(dim);
    if (it == d.end()) throw InputError(where + ": a series without the scores file's dimension \"" + dim + "\"");
    if (!key.empty()) key += ',';
    key += dim + "=" + it->second;
  }
  return key;
}

std::vector<std::string> header_dims(const std::string& path) {
  const csv::FileBytes bytes(path);
  csv::Lines lines(csv::strip_bom(bytes.view()));
  std::string_view line;
  long long number = 0;
  if (!lines.next(line, number)) throw InputError(path + ": empty, not a scores file");
  std::vector<std::string_view> fields;
  std::string scratch;
  csv::split(line, fields, scratch);
  std::vector<std::string> dims;
  if (fields.empty() || fields[0] != "timestamp") throw InputError(path + ":1: not a scores file (no timestamp column)");
  for (size_t k = 1; k < fields.size() && fields[k] != "value"; ++k) dims.emplace_back(fields[k]);
  return dims;
}

float parse_float(std::string_view s) {
  if (s.empty()) return NAN;
  float v = NAN;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() ? v : NAN;
}

ScoresFile read_scores(const std::string& path, const std::set<std::string>& wanted) {
  ScoresFile f;
  const csv::FileBytes bytes(path);
  csv::Lines lines(csv::strip_bom(bytes.view()));
  std::string_view line;
  long long number = 0;
  std::vector<std::string_view> fields;
  std::string scratch;
  if (!lines.next(line, number)) throw InputError(path + ": empty, not a scores file");
  csv::split(line, fields, scratch);
  std::map<std::string, size_t> column;
  for (size_t k = 0; k < fields.size(); ++k) column[std::string(fields[k])] = k;
  for (const char* need : {"timestamp", "value", "forecast", "z_forecast", "z_accumulated", "lower", "upper"})
    if (!column.count(need))
      throw InputError(path + ":1: no \"" + need + "\" column" +
                       (std::string(need) == "lower" || std::string(need) == "upper"
                            ? " (written by a vigil without the band: score again)"
                            : ""));
  for (size_t k = 1; k < column["value"]; ++k) f.dims.emplace_back(fields[k]);
  const size_t c_value = column["value"], c_forecast = column["forecast"], c_z = column["z_forecast"],
               c_acc = column["z_accumulated"], c_lower = column["lower"], c_upper = column["upper"];
  const size_t width = fields.size();
  std::string key, previous;
  while (lines.next(line, number)) {
    if (line.empty()) continue;
    if (const char* problem = csv::split(line, fields, scratch))
      throw InputError(path + ":" + std::to_string(number) + ": " + problem);
    if (fields.size() != width)
      throw InputError(path + ":" + std::to_string(number) + ": " + std::to_string(fields.size()) +
                       " fields, the header has " + std::to_string(width));
    ++f.rows;
    key.clear();
    for (size_t d = 0; d < f.dims.size(); ++d) {
      if (d) key += ',';
      key += f.dims[d];
      key += '=';
      key += fields[1 + d];
    }
    if (key != previous) {  // rows come series by series
      ++f.n_series;
      previous = key;
    }
    const std::string_view stamp = fields[0];
    if (f.first_time.empty() || stamp < f.first_time) f.first_time = stamp;
    if (stamp > f.last_time) f.last_time = stamp;
    if (!wanted.count(key)) continue;
    const auto t = parse_timestamp(stamp);
    if (!t) throw InputError(path + ":" + std::to_string(number) + ": bad timestamp '" + std::string(stamp) + "'");
    Points& p = f.series[key];
    p.t.push_back(*t);
    p.value.push_back(parse_float(fields[c_value]));
    p.forecast.push_back(parse_float(fields[c_forecast]));
    p.z.push_back(parse_float(fields[c_z]));
    p.accumulated.push_back(parse_float(fields[c_acc]));
    p.lower.push_back(parse_float(fields[c_lower]));
    p.upper.push_back(parse_float(fields[c_upper]));
  }
  // Batches write series in batch order; within a series, rows are in time order. Sort to be sure.
  for (auto& entry : f.series) {
    Points& p = entry.second;  // a plain reference: lambdas cannot capture a structured binding in C++17
    if (std::is_sorted(p.t.begin(), p.t.end())) continue;
    std::vector<size_t> order(p.t.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p.t[a] < p.t[b]; });
    Points s;
    for (size_t i : order) {
      s.t.push_back(p.t[i]);
      s.value.push_back(p.value[i]);
      s.forecast.push_back(p.forecast[i]);
      s.lower.push_back(p.lower[i]);
      s.upper.push_back(p.upper[i]);
      s.z.push_back(p.z[i]);
      s.accumulated.push_back(p.accumulated[i]);
    }
    p = std::move(s);
  }
  return f;
}

// ---- Text -----------------------------------------------------------------------------------

std::string esc(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string fmt(double v, int decimals = 2) {
  if (!std::isfinite(v)) return "&#8211;";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}
std::string fmt_signed(double v, int decimals = 1) {
  if (!std::isfinite(v)) return "&#8211;";
  char b[64];
  std::snprintf(b, sizeof b, "%+.*f", decimals, v);
  return b;
}
std::string percent(double v) {
  if (!std::isfinite(v)) return "&#8211;";
  char b[64];
  std::snprintf(b, sizeof b, "%+.0f %%", 100 * v);
  return b;
}
// Axis numbers: 3 significant digits with k / M / G.
std::string compact(double v) {
  const double a = std::fabs(v);
  char b[64];
  if (a >= 1e9) std::snprintf(b, sizeof b, "%.3gG", v / 1e9);
  else if (a >= 1e6) std::snprintf(b, sizeof b, "%.3gM", v / 1e6);
  else if (a >= 1e4) std::snprintf(b, sizeof b, "%.3gk", v / 1e3);
  else std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}
std::string utc(int64_t t) {
  std::string s = format_iso(t);  // 2026-03-02T00:15:00Z
  return s.substr(0, 10) + " " + s.substr(11, 5);
}
std::string duration_text(int64_t seconds) {
  const int64_t h = seconds / 3600, m = (seconds % 3600) / 60;
  if (h >= 48) return std::to_string(h / 24) + " d " + std::to_string(h % 24) + " h";
  if (h == 0) return std::to_string(m) + " min";
  return std::to_string(h) + " h" + (m ? " " + std::to_string(m) + " min" : "");
}
std::string dims_text(const Dims& d) {
  if (d.empty()) return "{every series}";
  std::string s = "{";
  for (const auto& [k, v] : d) s += (s.size() > 1 ? ", " : "") + k + "=" + v;
  return s + "}";
}
// A member series named by what its alarm's scope does not already say.
std::string member_text(const Dims& d, const Dims& scope) {
  std::string s;
  for (const auto& [k, v] : d)
    if (!scope.count(k)) s += (s.empty() ? "" : ", ") + k + "=" + v;
  return s.empty() ? dims_text(d) : s;
}
// The same, values only ("android · play_starts"), for small plots and tables.
std::string member_short(const Dims& d, const Dims& scope) {
  std::string s;
  for (const auto& [k, v] : d)
    if (!scope.count(k)) s += (s.empty() ? "" : " \u00b7 ") + v;
  return s.empty() ? dims_text(d) : s;
}
int severity_rank(const std::string& s) { return s == "critical" ? 0 : s == "major" ? 1 : s == "minor" ? 2 : 3; }

// ---- Plots ----------------------------------------------------------------------------------

struct Span {
  int64_t start, end;
  std::string label, cls;  // cls: "alarm" (the span alarmed) or "event"
};

struct Plot {
  const Points* points = nullptr;
  std::string id, title, series;  // series: the key (data-series), "" for an aggregate
  int64_t t0 = 0, t1 = 0;         // the window
  int width = 960, height = 260;
  std::vector<Span> spans;
  bool small = false;
};

double nice_step(double range, int ticks) {
  const double raw = range / std::max(ticks, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

// One time-series plot: the band (normal range), forecast, values, the alarmed span and events
// shaded, points outside the band marked. The <svg> carries its axes' domain and pixel box
// (data-*), so a test can read every drawn point back in the data's units.
std::string svg_plot(const Plot& p) {
  const Points& pts = *p.points;
  const double left = p.small ? 46 : 58, right = p.width - 10.0, top = p.small ? 18 : 24,
               bottom = p.height - (p.small ? 18.0 : 24.0);
  const size_t a = pts.at_or_after(p.t0), b = pts.at_or_after(p.t1);
  // The value axis covers the values and the forecast; the band may leave it (a young model's is
  // wide) and is clipped, so the series stays readable.
  double lo = INFINITY, hi = -INFINITY;
  for (size_t k = a; k < b; ++k)
    for (float v : {pts.value[k], pts.forecast[k]})
      if (std::isfinite(v)) lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  const double span = hi > lo ? hi - lo : std::max(1.0, std::fabs(hi));
  for (size_t k = a; k < b; ++k) {  // let the band in up to a third of the data's range
    if (std::isfinite(pts.lower[k])) lo = std::min(lo, std::max(double(pts.lower[k]), lo - span / 3));
    if (std::isfinite(pts.upper[k])) hi = std::max(hi, std::min(double(pts.upper[k]), hi + span / 3));
  }
  const double pad = (hi - lo > 0 ? hi - lo : span) * 0.06;
  const double v0 = lo - pad, v1 = hi + pad;
  const double t0 = static_cast<double>(p.t0), t1 = static_cast<double>(std::max(p.t1, p.t0 + 1));
  auto X = [&](double t) { return left + (t - t0) / (t1 - t0) * (right - left); };
  auto Y = [&](double v) { return bottom - (v - v0) / (v1 - v0) * (bottom - top); };
  auto YC = [&](double v) { return std::min(std::max(Y(v), top), bottom); };  // clamped to the box

  std::string s;
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"" + std::to_string(p.width) +
       "\" height=\"" + std::to_string(p.height) + "\" viewBox=\"0 0 " + std::to_string(p.width) + " " +
       std::to_string(p.height) + "\" data-series=\"" + esc(p.series) + "\" data-t0=\"" + std::to_string(p.t0) +
       "\" data-t1=\"" + std::to_string(static_cast<int64_t>(t1)) + "\" data-v0=\"" + std::to_string(v0) +
       "\" data-v1=\"" + std::to_string(v1) + "\" data-x0=\"" + num(left) + "\" data-x1=\"" + num(right) +
       "\" data-y0=\"" + num(bottom) + "\" data-y1=\"" + num(top) + "\">";
  s += "<title>" + esc(p.title) + "</title>";
  s += "<defs><clipPath id=\"c-" + p.id + "\"><rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" +
       num(right - left) + "\" height=\"" + num(bottom - top) + "\"/></clipPath></defs>";
  s += "<rect class=\"frame\" x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(right - left) +
       "\" height=\"" + num(bottom - top) + "\"/>";

  // Grid and axes: time ticks on whole UTC hours/days, value ticks on round numbers.
  const double vstep = nice_step(v1 - v0, p.small ? 3 : 5);
  std::string grid, labels;
  for (double v = std::ceil(v0 / vstep) * vstep; v <= v1; v += vstep) {
    if (std::fabs(v) < vstep * 1e-6) v = 0;
    const double y = Y(v);
    grid += "M" + num(left) + " " + num(y) + "H" + num(right);
    labels += "<text class=\"ytick\" x=\"" + num(left - 4) + "\" y=\"" + num(y + 3) + "\">" + esc(compact(v)) +
              "</text>";
  }
  static const int64_t kTimeSteps[] = {900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800};
  const int max_ticks = p.small ? 3 : 8;
  int64_t tstep = kTimeSteps[9];
  for (int64_t st : kTimeSteps)
    if ((t1 - t0) / static_cast<double>(st) <= max_ticks) {
      tstep = st;
      break;
    }
  for (int64_t t = (p.t0 + tstep - 1) / tstep * tstep; t <= static_cast<int64_t>(t1); t += tstep) {
    const double x = X(static_cast<double>(t));
    grid += "M" + num(x) + " " + num(top) + "V" + num(bottom);
    if (x > right - 16 || x < left + 16) continue;  // a label there would be cut at the edge
    const std::string iso = format_iso(t);
    const std::string label = (t % 86400 == 0 || tstep >= 86400) ? iso.substr(5, 5) + (p.small ? "" : " 00:00")
                                                                  : iso.substr(11, 5);
    labels += "<text class=\"xtick\" x=\"" + num(x) + "\" y=\"" + num(bottom + 14) + "\">" + label + "</text>";
  }
  s += "<path class=\"grid\" d=\"" + grid + "\"/>";

  // Spans: the alarm's, then events with their names.
  for (const Span& sp : p.spans) {
    const double xa = X(static_cast<double>(std::max(sp.start, p.t0)));
    const double xb = X(static_cast<double>(std::min<int64_t>(sp.end, static_cast<int64_t>(t1))));
    if (xb <= xa) continue;
    s += "<rect class=\"" + sp.cls + "\" x=\"" + num(xa) + "\" y=\"" + num(top) + "\" width=\"" + num(xb - xa) +
         "\" height=\"" + num(bottom - top) + "\"><title>" + esc(sp.label) + "</title></rect>";
    if (sp.cls == "event" && !p.small)
      s += "<text class=\"event-label\" x=\"" + num(xa + 3) + "\" y=\"" + num(top + 12) + "\">" + esc(sp.label) +
           "</text>";
  }

  // The band: between its edges where both exist. A metric that alarms one way only (drops) has
  // one edge: the band then runs from that edge to the forecast, and the edge is drawn as a line.
  std::string band, edges;
  auto edge_or_forecast = [&](float edge, float forecast, double fallback) {
    return std::isfinite(edge) ? YC(edge) : std::isfinite(forecast) ? YC(forecast) : fallback;
  };
  for (size_t k = a; k < b;) {
    while (k < b && !(std::isfinite(pts.lower[k]) || std::isfinite(pts.upper[k]))) ++k;
    size_t e = k;
    while (e < b && (std::isfinite(pts.lower[e]) || std::isfinite(pts.upper[e]))) ++e;
    if (e > k) {
      std::string up, down;
      for (size_t j = k; j < e; ++j) {
        const double x = X(static_cast<double>(pts.t[j]));
        up += (j == k ? "M" : "L") + num(x) + " " + num(edge_or_forecast(pts.upper[j], pts.forecast[j], top));
        if (std::isfinite(pts.lower[j]) != std::isfinite(pts.upper[j]))
          edges += (j == k ? "M" : "L") + num(x) + " " +
                   num(std::isfinite(pts.lower[j]) ? YC(pts.lower[j]) : YC(pts.upper[j]));
      }
      for (size_t j = e; j-- > k;) {
        const double x = X(static_cast<double>(pts.t[j]));
        down += "L" + num(x) + " " + num(edge_or_forecast(pts.lower[j], pts.forecast[j], bottom));
      }
      band += up + down + "Z";
    }
    k = e;
  }
  if (!band.empty()) s += "<path class=\"band\" d=\"" + band + "\"/>";
  if (!edges.empty()) s += "<path class=\"edge\" d=\"" + edges + "\"/>";

  auto line = [&](const std::vector<float>& v) {
    std::string d;
    bool pen = false;
    for (size_t k = a; k < b; ++k) {
      if (!std::isfinite(v[k])) {
        pen = false;
        continue;
      }
      d += (pen ? "L" : "M") + num(X(static_cast<double>(pts.t[k]))) + " " + num(Y(v[k]));
      pen = true;
    }
    return d;
  };
  s += "<g clip-path=\"url(#c-" + p.id + ")\">";
  s += "<path class=\"forecast\" d=\"" + line(pts.forecast) + "\"/>";
  s += "<path class=\"values\" d=\"" + line(pts.value) + "\"/>";
  // Points outside the band: what the detector saw as anomalous.
  std::string outside;
  for (size_t k = a; k < b; ++k) {
    const float v = pts.value[k];
    if (!std::isfinite(v)) continue;
    if ((std::isfinite(pts.lower[k]) && v < pts.lower[k]) || (std::isfinite(pts.upper[k]) && v > pts.upper[k]))
      outside += "M" + num(X(static_cast<double>(pts.t[k]))) + " " + num(Y(v)) + "h0";
  }
  if (!outside.empty()) s += "<path class=\"outside\" d=\"" + outside + "\"/>";
  s += "</g>";
  s += labels;
  s += "<text class=\"plot-title\" x=\"" + num(p.small ? 4 : left) + "\" y=\"" + num(p.small ? 12 : 13) + "\">" + esc(p.title) +
       "</text>";
  s += "</svg>";
  return s;
}

// ---- The page -------------------------------------------------------------------------------

const char* kStyle = R"CSS(
body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:#1d2430;margin:0;background:#f4f6f9}
main{max-width:1000px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:0 0 6px}h3{font-size:14px;margin:14px 0 4px;color:#3b4657}
section{background:#fff;border:1px solid #d8dee7;border-radius:6px;padding:14px 16px;margin:14px 0;overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:12.5px;margin:6px 0}
th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #e6eaf0;vertical-align:top}
th{background:#f0f3f7;font-weight:600;white-space:nowrap}td{white-space:nowrap}td.wrap{white-space:normal;overflow-wrap:anywhere}
table.evidence{font-size:11.5px}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.sev{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;font-weight:600;color:#fff}
.sev.critical{background:#c0392b}.sev.major{background:#d9822b}.sev.minor{background:#7f8c8d}.sev.notice{background:#5b6b8c}
.facts{color:#3b4657;margin:2px 0 8px}.muted{color:#6b7585}.grid2{display:flex;flex-wrap:wrap;gap:6px}
.counts{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}.counts div{background:#f0f3f7;border-radius:4px;padding:4px 10px}
.counts b{font-size:16px;display:block}
.legend span{margin-right:14px;font-size:12px;white-space:nowrap}.legend i{display:inline-block;width:18px;height:10px;margin-right:4px;vertical-align:middle}
svg.plot{display:block;background:#fff}
svg .frame{fill:#fff;stroke:#c9d1dc}svg .grid{stroke:#edf0f4;fill:none}
svg .band{fill:#cfe0f3;stroke:none}svg .edge{fill:none;stroke:#8fb3dc;stroke-width:1}svg .forecast{fill:none;stroke:#6d7a8c;stroke-width:1.3;stroke-dasharray:5 3}
svg .values{fill:none;stroke:#14365d;stroke-width:1.6;stroke-linejoin:round}
svg .outside{stroke:#d62728;stroke-width:4;stroke-linecap:round;fill:none}
svg .alarm{fill:#e74c3c;fill-opacity:.13}svg .event{fill:#8e44ad;fill-opacity:.12}
svg text{font-size:10.5px;fill:#4a5566;font-family:inherit}svg .ytick{text-anchor:end}svg .xtick{text-anchor:middle}
svg .event-label{fill:#6c3483;font-weight:600}svg .plot-title{font-size:12px;fill:#1d2430;font-weight:600}
svg .bar-label{text-anchor:end}
a{color:#1f5fa8;text-decoration:none}
)CSS";

std::string legend() {
  return "<p class=\"legend\"><span><i style=\"background:#14365d;height:3px\"></i>value</span>"
         "<span><i style=\"border-top:2px dashed #6d7a8c;height:0\"></i>forecast</span>"
         "<span><i style=\"background:#cfe0f3\"></i>normal band (|z| under the threshold)</span>"
         "<span><i style=\"background:rgba(231,76,60,.25)\"></i>alarm span</span>"
         "<span><i style=\"background:rgba(142,68,173,.22)\"></i>scheduled event</span>"
         "<span><i style=\"background:#d62728;border-radius:5px;width:8px;height:8px\"></i>outside the band</span>"
         "</p>";
}

bool scope_matches(const Scope& scope, const Dims& series) {
  for (const Scope::Term& term : scope.terms) {
    const auto it = series.find(term.dim);
    if (it == series.end() || std::find(term.values.begin(), term.values.end(), it->second) == term.values.end())
      return false;
  }
  return true;
}

// The window drawn around a span: a day (at least twice the span) before, half a day after,
// at most about 800 points.
std::pair<int64_t, int64_t> window_of(int64_t start, int64_t end, int64_t step) {
  const int64_t len = end - start;
  int64_t before = std::max<int64_t>(86400, 2 * len), after = std::max<int64_t>(43200, len / 2);
  if (step > 0) {
    const int64_t budget = std::max<int64_t>(800 * step - len, 96 * step);
    before = std::min(before, budget * 2 / 3);
    after = std::min(after, budget / 3);
  }
  return {start - before, end + after};
}

class Page {
 public:
  explicit Page(const ReportOptions& o) : o_(o) {}
  std::string render();

 private:
  const ReportOptions& o_;
  std::vector<Record> alarms_, episodes_, notices_;
  std::unordered_map<std::string, const Record*> episode_by_id_;
  EventSchedule events_;
  ScoresFile scores_;
  int plot_counter_ = 0;

  const Points* points(const Dims& d, const Record& owner, const std::string& file);
  std::vector<Span> spans_for(const Record& r, const std::vector<Dims>& members, int64_t t0, int64_t t1,
                              bool alarm_span);
  std::string plot(const Points& p, const std::string& title, const std::string& key, int64_t t0, int64_t t1,
                   std::vector<Span> spans, bool small);
  std::string alarm_section(const Record& a);
  std::string notice_section(const Record& n);
  std::string near_misses(const std::vector<const Record*>& shown);
  std::string truth_section();
  std::string evidence_table(const std::vector<const Record*>& eps, const Dims& scope);
};

const Points* Page::points(const Dims& d, const Record& owner, const std::string& file) {
  const std::string where = file + ":" + std::to_string(owner.line);
  const std::string key = key_of(d, scores_.dims, where);
  const auto it = scores_.series.find(key);
  if (it == scores_.series.end() || it->second.t.empty())
    throw InputError(o_.scores + ": no rows for series " + key + " of " + owner.id + " (" + where +
                     "): the scores file is not this run's");
  return &it->second;
}

std::vector<Span> Page::spans_for(const Record& r, const std::vector<Dims>& members, int64_t t0, int64_t t1,
                                  bool alarm_span) {
  std::vector<Span> spans;
  if (alarm_span) spans.push_back({r.start, r.end, r.id + ": " + utc(r.start) + " .. " + utc(r.end) + " UTC", "alarm"});
  for (const Event& e : events_.events) {
    if (e.end <= t0 || e.start >= t1) continue;
    bool in_scope = false;
    for (const Dims& m : members) in_scope = in_scope || scope_matches(e.scope, m);
    if (in_scope) spans.push_back({e.start, e.end, e.name, "event"});
  }
  return spans;
}

std::string Page::plot(const Points& p, const std::string& title, const std::string& key, int64_t t0, int64_t t1,
                       std::vector<Span> spans, bool small) {
  Plot pl;
  pl.points = &p;
  pl.id = "p" + std::to_string(++plot_counter_);
  pl.title = title;
  pl.series = key;
  pl.t0 = t0;
  pl.t1 = t1;
  pl.small = small;
  pl.width = small ? 318 : 960;
  pl.height = small ? 130 : 260;
  pl.spans = std::move(spans);
  return svg_plot(pl);
}

// The largest |v| of one series inside [start, end), signed (NaN if none).
double peak_in(const Points& p, int64_t start, int64_t end, const std::vector<float>& v) {
  double best = NAN;
  for (size_t k = p.at_or_after(start); k < p.t.size() && p.t[k] < end; ++k)
    if (std::isfinite(v[k]) && !(std::fabs(v[k]) <= std::fabs(best))) best = v[k];
  return best;
}

std::string Page::evidence_table(const std::vector<const Record*>& eps, const Dims& scope) {
  // Columns with a value in some row (a stage that is off leaves its column out).
  struct Column {
    std::string header;
    bool numeric;
    std::vector<std::string> cells;
  };
  std::vector<Column> cols = {{"episode", false, {}},      {"series", false, {}},    {"start (UTC)", false, {}},
                              {"duration", false, {}},     {"peak z", true, {}},     {"onset z", true, {}},
                              {"derivative", true, {}},    {"accumulated", true, {}}, {"breadth", true, {}},
                              {"correlation", true, {}},   {"group z", true, {}},    {"z without events", true, {}},
                              {"events", false, {}},       {"decision", false, {}}};
  std::string dims_named;
  for (const Record* e : eps) {
    double acc = NAN;
    if (!e->series.empty()) {
      const auto it = scores_.series.find(key_of(e->series[0], scores_.dims, o_.ledger + ":" + std::to_string(e->line)));
      if (it != scores_.series.end()) acc = peak_in(it->second, e->start, e->end, it->second.accumulated);
      if (dims_named.empty())
        for (const auto& [k, v] : e->series[0])
          if (!scope.count(k)) dims_named += (dims_named.empty() ? "" : " &#183; ") + esc(k);
    }
    const std::string cells[] = {esc(e->id),
                                 esc(e->series.empty() ? dims_text(e->scope) : member_short(e->series[0], scope)),
                                 utc(e->start),
                                 duration_text(e->end - e->start),
                                 fmt_signed(e->peak_z),
                                 fmt(e->onset_z, 1),
                                 fmt(e->derivative, 1),
                                 fmt_signed(acc),
                                 fmt(e->breadth, 0),
                                 fmt(e->correlation, 2),
                                 fmt_signed(e->group_z),
                                 fmt_signed(e->z_without_events),
                                 esc(e->events),
                                 esc(e->reason)};
    for (size_t c = 0; c < cols.size(); ++c) cols[c].cells.push_back(cells[c]);
  }
  if (!dims_named.empty()) cols[1].header = "series (" + dims_named + ")";
  std::vector<const Column*> shown;
  for (const Column& c : cols)
    if (std::any_of(c.cells.begin(), c.cells.end(), [](const std::string& x) { return !x.empty() && x != "&#8211;"; }))
      shown.push_back(&c);
  std::string s = "<table class=\"evidence\"><tr>";
  for (const Column* c : shown) s += std::string(c->numeric ? "<th class=\"n\">" : "<th>") + c->header + "</th>";
  s += "</tr>";
  for (size_t r = 0; r < eps.size(); ++r) {
    s += "<tr>";
    for (const Column* c : shown)
      s += std::string(c->numeric ? "<td class=\"n\">" : c == &cols[1] ? "<td class=\"wrap\">" : "<td>") + c->cells[r] +
           "</td>";
    s += "</tr>";
  }
  return s + "</table>";
}

// Aggregate of members sharing the strongest series' metric: the sums of values and forecasts at
// the times every one of them has a value.
Points aggregate(const std::vector<const Points*>& members) {
  Points sum;
  if (members.empty()) return sum;
  std::map<int64_t, std::pair<double, double>> acc;
  std::map<int64_t, size_t> count;
  for (const Points* p : members)
    for (size_t k = 0; k < p->t.size(); ++k) {
      if (!std::isfinite(p->value[k]) || !std::isfinite(p->forecast[k])) continue;
      auto& a = acc[p->t[k]];
      a.first += p->value[k];
      a.second += p->forecast[k];
      ++count[p->t[k]];
    }
  for (const auto& [t, vf] : acc) {
    sum.t.push_back(t);
    const bool all = count[t] == members.size();
    sum.value.push_back(all ? static_cast<float>(vf.first) : NAN);
    sum.forecast.push_back(all ? static_cast<float>(vf.second) : NAN);
    sum.lower.push_back(NAN);
    sum.upper.push_back(NAN);
    sum.z.push_back(NAN);
    sum.accumulated.push_back(NAN);
  }
  return sum;
}

std::string Page::alarm_section(const Record& a) {
  std::string s = "<section id=\"" + esc(a.id) + "\" class=\"alarm-section\">";
  s += "<h2><span class=\"sev " + esc(a.severity) + "\">" + esc(a.severity) + "</span> " + esc(a.id) + " &#183; " +
       esc(a.direction) + " &#183; " + esc(dims_text(a.scope)) + "</h2>";
  s += "<p class=\"facts\">" + utc(a.start) + " .. " + utc(a.end) + " UTC (" + duration_text(a.end - a.start) +
       ") &#183; " + std::to_string(a.n_series) + " series &#183; impact <b>" + percent(a.impact) +
       "</b> against the forecast &#183; peak z " + fmt_signed(a.peak_z) +
       (a.peak_time ? " at " + utc(a.peak_time) : std::string()) + " &#183; density " + fmt(a.density, 2) +
       " of the scope's series</p>";
  const auto [t0, t1] = window_of(a.start, a.end, a.step);
  // Every listed member is loaded (the aggregate needs them); the strongest few are drawn.
  std::vector<const Points*> members;
  for (const Dims& d : a.series) members.push_back(points(d, a, o_.alarms));
  // The alarmed span must be in the scores of its strongest series.
  if (!members.empty()) {
    const Points& p = *members[0];
    if (p.t.front() > a.start || p.t.back() < a.end - std::max<int64_t>(a.step, 1))
      throw InputError(o_.scores + ": series " + key_of(a.series[0], scores_.dims, o_.alarms) + " has no rows at " +
                       format_iso(a.start) + " .. " + format_iso(a.end) + " of " + a.id + " (" + o_.alarms + ":" +
                       std::to_string(a.line) + "): the scores file is not this run's");
  }
  if (!members.empty()) {
    s += plot(*members[0], "strongest member: " + member_text(a.series[0], a.scope),
              key_of(a.series[0], scores_.dims, o_.alarms), t0, t1, spans_for(a, {a.series[0]}, t0, t1, true), false);
    constexpr size_t kSmall = 6;
    if (members.size() > 1) {
      s += "<h3>Other members</h3><div class=\"grid2\">";
      for (size_t k = 1; k < members.size() && k <= kSmall; ++k)
        s += plot(*members[k], member_short(a.series[k], a.scope), key_of(a.series[k], scores_.dims, o_.alarms), t0,
                  t1, spans_for(a, {a.series[k]}, t0, t1, true), true);
      s += "</div>";
      if (members.size() > kSmall + 1 || a.truncated) {
        std::string named;
        for (const auto& [k, v] : a.series[0])
          if (!a.scope.count(k)) named += (named.empty() ? "" : " \u00b7 ") + k;
        s += "<p class=\"muted\">Also members (" + esc(named) + "): ";
        constexpr size_t kNamed = 16;
        for (size_t k = kSmall + 1; k < a.series.size() && k <= kSmall + kNamed; ++k)
          s += (k > kSmall + 1 ? "; " : "") + esc(member_short(a.series[k], a.scope));
        if (a.series.size() > kSmall + 1 + kNamed)
          s += " and " + std::to_string(a.series.size() - kSmall - 1 - kNamed) + " more listed (in the aggregate)";
        if (a.truncated) s += "; " + std::to_string(a.truncated) + " more not listed in the alarm line";
        s += ".</p>";
      }
    }
    // The aggregate: members of the strongest series' metric (sums of unlike metrics mean nothing).
    const auto metric = a.series[0].find("metric");
    std::vector<const Points*> same;
    for (size_t k = 0; k < members.size(); ++k)
      if (metric == a.series[0].end() || (a.series[k].count("metric") && a.series[k].at("metric") == metric->second))
        same.push_back(members[k]);
    if (same.size() > 1) {
      const Points sum = aggregate(same);
      s += "<h3>Aggregate</h3>";
      s += plot(sum,
                "sum of " + std::to_string(same.size()) + " members" +
                    (metric != a.series[0].end() ? " (metric=" + metric->second + ")" : std::string()) +
                    " against the sum of their forecasts",
                "", t0, t1, spans_for(a, a.series, t0, t1, true), false);
    }
  }
  // Events in the alarm's scope: those whose scope holds one of its members.
  std::vector<std::string> rows;
  for (const Event& e : events_.events) {
    if (e.end <= t0 || e.start >= t1) continue;
    bool in_scope = false;
    for (const Dims& m : a.series) in_scope = in_scope || scope_matches(e.scope, m);
    if (in_scope)
      rows.push_back("<tr><td>" + esc(e.name) + "</td><td>" + utc(e.start) + "</td><td>" + utc(e.end) + "</td><td class=\"wrap\">" +
                     esc(e.scope.text()) + "</td><td class=\"n\">" + percent(e.expected_impact) + "</td></tr>");
  }
  s += "<h3>Scheduled events in scope</h3>";
  if (o_.events.empty()) s += "<p class=\"muted\">No event schedule given (--events).</p>";
  else if (rows.empty()) s += "<p class=\"muted\">None in this alarm's scope around its time.</p>";
  else {
    s += "<table class=\"events\"><tr><th>event</th><th>start (UTC)</th><th>end (UTC)</th><th>scope</th>"
         "<th class=\"n\">expected impact</th></tr>";
    for (const auto& r : rows) s += r;
    s += "</table>";
  }
  // Evidence: the member episodes, strongest first.
  std::vector<const Record*> eps;
  for (const std::string& id : a.episode_ids) {
    const auto it = episode_by_id_.find(id);
    if (it != episode_by_id_.end()) eps.push_back(it->second);
  }
  std::stable_sort(eps.begin(), eps.end(),
                   [](const Record* x, const Record* y) { return std::fabs(x->peak_z) > std::fabs(y->peak_z); });
  const size_t listed = eps.size();
  if (eps.size() > 12) eps.resize(12);
  s += "<h3>Evidence (" + std::to_string(eps.size()) + " of " + std::to_string(listed) + " episodes, strongest first)</h3>";
  s += evidence_table(eps, a.scope);
  return s + "</section>";
}

std::string Page::notice_section(const Record& n) {
  std::string s = "<section id=\"" + esc(n.id) + "\" class=\"notice-section\">";
  std::set<std::string> stacks;
  for (const Dims& d : n.series)
    if (d.count("stack")) stacks.insert(d.at("stack"));
  s += "<h2><span class=\"sev notice\">not raised</span> " + esc(n.id) + " &#183; external event &#183; " +
       esc(dims_text(n.scope)) + "</h2>";
  s += "<p class=\"facts\">" + utc(n.start) + " .. " + utc(n.end) + " UTC (" + duration_text(n.end - n.start) +
       ") &#183; " + std::to_string(n.n_series) + " series" +
       (stacks.empty() ? std::string() : " across " + std::to_string(stacks.size()) + " stacks") +
       " moved together (" + esc(n.direction) + ", peak z " + fmt_signed(n.peak_z) +
       "). Every stack of the region moving at once points to a cause outside the service (power, network, "
       "weather), so these episodes were folded into this notice instead of being raised.</p>";
  const auto [t0, t1] = window_of(n.start, n.end, n.step);
  // One plot per stack: its strongest listed member (series are listed strongest first).
  std::set<std::string> drawn;
  s += "<div class=\"grid2\">";
  size_t plots = 0;
  for (const Dims& d : n.series) {
    const std::string stack = d.count("stack") ? d.at("stack") : std::to_string(plots);
    if (drawn.count(stack) || plots >= 6) continue;
    drawn.insert(stack);
    ++plots;
    s += plot(*points(d, n, o_.ledger), member_short(d, n.scope), key_of(d, scores_.dims, o_.ledger), t0, t1,
              spans_for(n, {d}, t0, t1, true), true);
  }
  s += "</div>";
  std::vector<const Record*> eps;
  for (const std::string& id : n.episode_ids) {
    const auto it = episode_by_id_.find(id);
    if (it != episode_by_id_.end()) eps.push_back(it->second);
  }
  std::stable_sort(eps.begin(), eps.end(),
                   [](const Record* x, const Record* y) { return std::fabs(x->peak_z) > std::fabs(y->peak_z); });
  const size_t listed = eps.size();
  if (eps.size() > 8) eps.resize(8);
  s += "<h3>Evidence (" + std::to_string(eps.size()) + " of " + std::to_string(listed) +
       " episodes): breadth = other stacks deviating the same way, correlation with them</h3>";
  s += evidence_table(eps, n.scope);
  return s + "</section>";
}

// Why a suppressed candidate was not raised, in words, from its rule and evidence.
std::string why_not(const Record& e) {
  const std::string& r = e.reason;
  if (r == "anticipated_event")
    return "a scheduled event (" + esc(e.events) + ") explains it: with the event's expected effect in the forecast it "
           "is not past the threshold (z without the events " + fmt_signed(e.z_without_events) + ")";
  if (r == "external_event")
    return "the other stacks of its region moved with it (breadth " + fmt(e.breadth, 0) + ", correlation " +
           fmt(e.correlation, 2) + ", group z " + fmt_signed(e.group_z) + "): an external event" +
           (e.notice.empty() ? std::string() : ", see <a href=\"#" + esc(e.notice) + "\">" + esc(e.notice) + "</a>");
  if (r == "gradual_shift")
    return "a gradual shift, not a break: derivative " + fmt(e.derivative, 1) + ", volatility " + fmt(e.volatility, 1);
  return esc(r) + (e.rule.empty() || e.rule == r ? std::string() : " (" + esc(e.rule) + ")");
}

std::string Page::near_misses(const std::vector<const Record*>& shown) {
  std::string s = "<section id=\"near-misses\"><h2>Why was this not raised? The strongest suppressed candidates</h2>";
  if (shown.empty()) return s + "<p class=\"muted\">No candidate episode was suppressed.</p></section>";
  s += "<p class=\"facts\">Suppressed candidate episodes: the strongest held back by each rule, then the strongest "
       "of the rest (one per external-event notice), with the rule and the evidence that held each back.</p>";
  s += "<table><tr><th>episode</th><th>series</th><th>start (UTC)</th><th>duration</th><th class=\"n\">peak z</th>"
       "<th class=\"n\">impact</th><th>rule</th><th>why not raised</th></tr>";
  for (const Record* e : shown)
    s += "<tr><td>" + esc(e->id) + "</td><td class=\"wrap\">" + esc(e->series.empty() ? dims_text(e->scope) : dims_text(e->series[0])) +
         "</td><td>" + utc(e->start) + "</td><td>" + duration_text(e->end - e->start) + "</td><td class=\"n\">" +
         fmt_signed(e->peak_z) + "</td><td class=\"n\">" + percent(e->impact) + "</td><td>" + esc(e->reason) +
         "</td><td class=\"wrap\">" + why_not(*e) + "</td></tr>";
  s += "</table><div class=\"grid2\">";
  for (size_t k = 0; k < shown.size() && k < 4; ++k) {
    const Record& e = *shown[k];
    if (e.series.empty()) continue;
    const auto [t0, t1] = window_of(e.start, e.end, e.step);
    s += plot(*points(e.series[0], e, o_.ledger), e.id + " (" + e.reason + ")", key_of(e.series[0], scores_.dims, o_.ledger),
              t0, t1, spans_for(e, {e.series[0]}, t0, t1, true), true);
  }
  return s + "</div></section>";
}

// Horizontal stacked bars: per truth kind, the candidate episodes by the decision taken.
std::string Page::truth_section() {
  const TruthCounts& t = *o_.truth;
  std::string s = "<section id=\"truth\"><h2>Against the truth (" + esc(o_.truth_source) + ")</h2>";
  s += "<p class=\"facts\">" + std::to_string(t.detected) + " of " + std::to_string(t.incidents) +
       " incidents detected &#183; " + std::to_string(t.alarms) + " alarms raised, " + std::to_string(t.false_alarms) +
       " false (";
  bool first = true;
  for (const auto& [kind, n] : t.false_alarms_by_kind) {
    s += (first ? "" : ", ") + esc(kind) + " " + std::to_string(n);
    first = false;
  }
  s += ")</p><h3>How each decision changed the count: candidate episodes on each kind of truth record</h3>";
  std::vector<std::string> reasons;
  int widest = 1;
  for (const auto& [kind, by_reason] : t.decisions) {
    int total = 0;
    for (const auto& [reason, n] : by_reason) {
      total += n;
      if (std::find(reasons.begin(), reasons.end(), reason) == reasons.end()) reasons.push_back(reason);
    }
    widest = std::max(widest, total);
  }
  std::sort(reasons.begin(), reasons.end(), [](const std::string& a, const std::string& b) {
    return (a == "malfunction") != (b == "malfunction") ? a == "malfunction" : a < b;
  });
  static const char* kColors[] = {"#c0392b", "#2e86c1", "#27ae60", "#8e44ad", "#d68910", "#5d6d7e", "#16a085"};
  const int W = 960, label_w = 130, row_h = 26, top = 8;
  const int H = top + row_h * static_cast<int>(t.decisions.size()) + 30;
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot truth\" width=\"" + std::to_string(W) + "\" height=\"" +
       std::to_string(H) + "\" viewBox=\"0 0 " + std::to_string(W) + " " + std::to_string(H) + "\">";
  int row = 0;
  for (const auto& [kind, by_reason] : t.decisions) {
    const int y = top + row * row_h;
    s += "<text class=\"bar-label\" x=\"" + std::to_string(label_w - 8) + "\" y=\"" + std::to_string(y + 16) + "\">" +
         esc(kind) + "</text>";
    double x = label_w;
    for (size_t r = 0; r < reasons.size(); ++r) {
      const auto it = by_reason.find(reasons[r]);
      if (it == by_reason.end() || it->second == 0) continue;
      const double w = static_cast<double>(it->second) / widest * (W - label_w - 20);
      s += "<rect x=\"" + num(x) + "\" y=\"" + std::to_string(y + 4) + "\" width=\"" + num(w) +
           "\" height=\"17\" fill=\"" + kColors[r % 7] + "\"><title>" + esc(kind) + ": " + esc(reasons[r]) + " " +
           std::to_string(it->second) + "</title></rect>";
      if (w > 22)
        s += "<text x=\"" + num(x + 4) + "\" y=\"" + std::to_string(y + 16) + "\" style=\"fill:#fff\">" +
             std::to_string(it->second) + "</text>";
      x += w;
    }
    ++row;
  }
  double lx = label_w;
  const int ly = top + row * row_h + 12;
  for (size_t r = 0; r < reasons.size(); ++r) {
    s += "<rect x=\"" + num(lx) + "\" y=\"" + std::to_string(ly) + "\" width=\"12\" height=\"10\" fill=\"" +
         kColors[r % 7] + "\"/><text x=\"" + num(lx + 16) + "\" y=\"" + std::to_string(ly + 9) + "\">" +
         esc(reasons[r] == "malfunction" ? "raised (malfunction)" : "suppressed: " + reasons[r]) + "</text>";
    lx += 40 + 7.0 * (reasons[r].size() + 12);
  }
  s += "</svg><p class=\"muted\">Raised episodes on an incident are detections; on a special event they are false "
       "alarms. Suppressed episodes on a special event are what each mechanism removed; on an incident, what it cost.</p>";
  return s + "</section>";
}

std::string Page::render() {
  for (Record& r : read_records(o_.alarms)) alarms_.push_back(std::move(r));
  for (Record& r : read_records(o_.ledger)) (r.id.rfind("notice-", 0) == 0 ? notices_ : episodes_).push_back(std::move(r));
  for (const Record& e : episodes_) episode_by_id_[e.id] = &e;
  if (!o_.events.empty()) events_ = read_events(o_.events);

  // The alarms by severity, then breadth and size of the change.
  std::vector<const Record*> order;
  for (const Record& a : alarms_) order.push_back(&a);
  std::stable_sort(order.begin(), order.end(), [](const Record* x, const Record* y) {
    if (severity_rank(x->severity) != severity_rank(y->severity))
      return severity_rank(x->severity) < severity_rank(y->severity);
    if (x->n_series != y->n_series) return x->n_series > y->n_series;
    return std::fabs(x->peak_z) > std::fabs(y->peak_z);
  });
  const size_t drawn = std::min(order.size(), o_.max_drawn);
  std::vector<const Record*> notices;
  for (const Record& n : notices_) notices.push_back(&n);
  std::stable_sort(notices.begin(), notices.end(),
                   [](const Record* x, const Record* y) { return x->n_series > y->n_series; });
  if (notices.size() > o_.max_notices) notices.resize(o_.max_notices);
  // Suppressed candidates, strongest first, one per notice.
  std::vector<const Record*> suppressed;
  std::set<std::string> notice_seen;
  for (const Record& e : episodes_)
    if (e.status != "raised") suppressed.push_back(&e);
  std::stable_sort(suppressed.begin(), suppressed.end(),
                   [](const Record* x, const Record* y) { return std::fabs(x->peak_z) > std::fabs(y->peak_z); });
  // The strongest of each rule first (every rule that held something back is shown), then the
  // strongest of the rest.
  std::vector<const Record*> near, rest;
  std::set<std::string> rule_seen;
  for (const Record* e : suppressed) {
    if (!e->notice.empty() && !notice_seen.insert(e->notice).second) continue;
    (rule_seen.insert(e->reason).second && near.size() < o_.near_misses ? near : rest).push_back(e);
  }
  for (const Record* e : rest)
    if (near.size() < o_.near_misses) near.push_back(e);
  std::stable_sort(near.begin(), near.end(),
                   [](const Record* x, const Record* y) { return std::fabs(x->peak_z) > std::fabs(y->peak_z); });

  // The scores of every series a drawn section needs.
  scores_.dims = header_dims(o_.scores);
  std::set<std::string> wanted;
  for (size_t k = 0; k < drawn; ++k)
    for (const Dims& d : order[k]->series) wanted.insert(key_of(d, scores_.dims, o_.alarms + ":" + std::to_string(order[k]->line)));
  for (const Record* n : notices)
    for (const Dims& d : n->series) wanted.insert(key_of(d, scores_.dims, o_.ledger + ":" + std::to_string(n->line)));
  for (const Record* e : near)
    for (const Dims& d : e->series) wanted.insert(key_of(d, scores_.dims, o_.ledger + ":" + std::to_string(e->line)));
  scores_ = read_scores(o_.scores, wanted);

  size_t raised = 0;
  std::map<std::string, size_t> by_reason;
  for (const Record& e : episodes_) {
    raised += e.status == "raised";
    if (e.status != "raised") ++by_reason[e.reason];
  }

  std::string body;
  body += "<section id=\"summary\"><h1>vigil report</h1>";
  const auto first = parse_timestamp(scores_.first_time), last = parse_timestamp(scores_.last_time);
  body += "<p class=\"facts\">" +
          (first && last ? utc(*first) + " .. " + utc(*last) + " UTC" : std::string("no scores")) +
          " &#183; inputs: alarms <code>" + esc(o_.alarms) + "</code>, ledger <code>" + esc(o_.ledger) +
          "</code>, scores <code>" + esc(o_.scores) + "</code>" +
          (o_.events.empty() ? std::string() : ", events <code>" + esc(o_.events) + "</code>") +
          (o_.truth ? ", truth <code>" + esc(o_.truth_source) + "</code>" : std::string()) + "</p>";
  body += "<div class=\"counts\">";
  auto count = [&](const std::string& label, size_t n) {
    body += "<div><b>" + std::to_string(n) + "</b>" + esc(label) + "</div>";
  };
  count("series", scores_.n_series);
  count("points", scores_.rows);
  count("candidate episodes", episodes_.size());
  count("raised episodes", raised);
  count("suppressed episodes", episodes_.size() - raised);
  count("alarms", alarms_.size());
  count("external-event notices", notices_.size());
  body += "</div>";
  if (!by_reason.empty()) {
    body += "<p class=\"muted\">Suppressed by rule: ";
    bool first = true;
    for (const auto& [reason, n] : by_reason) {
      body += (first ? "" : ", ") + esc(reason) + " " + std::to_string(n);
      first = false;
    }
    body += ".</p>";
  }
  body += "<h3>Alarms, most severe first</h3>";
  if (order.size() > drawn)
    body += "<p class=\"muted\">The first " + std::to_string(drawn) + " of " + std::to_string(order.size()) +
            " alarms are drawn below; the others are listed here only (vigil report --max-drawn N).</p>";
  body += "<table class=\"alarms\"><tr><th>alarm</th><th>severity</th><th>direction</th><th>start (UTC)</th>"
          "<th>duration</th><th>scope</th><th class=\"n\">series</th><th class=\"n\">impact</th><th class=\"n\">peak z</th></tr>";
  // The table is bounded too: past kListed rows, the alarms file has the rest.
  constexpr size_t kListed = 1000;
  for (size_t k = 0; k < order.size() && k < kListed; ++k) {
    const Record& a = *order[k];
    const std::string id = k < drawn ? "<a href=\"#" + esc(a.id) + "\">" + esc(a.id) + "</a>" : esc(a.id);
    body += "<tr><td>" + id + "</td><td><span class=\"sev " + esc(a.severity) + "\">" + esc(a.severity) +
            "</span></td><td>" + esc(a.direction) + "</td><td>" + utc(a.start) + "</td><td>" +
            duration_text(a.end - a.start) + "</td><td class=\"wrap\">" + esc(dims_text(a.scope)) + "</td><td class=\"n\">" +
            std::to_string(a.n_series) + "</td><td class=\"n\">" + percent(a.impact) + "</td><td class=\"n\">" +
            fmt_signed(a.peak_z) + "</td></tr>";
  }
  if (order.empty()) body += "<tr><td colspan=\"9\" class=\"muted\">No alarm was raised.</td></tr>";
  if (order.size() > kListed)
    body += "<tr><td colspan=\"9\" class=\"muted\">... and " + std::to_string(order.size() - kListed) +
            " less severe alarms, in " + esc(o_.alarms) + "</td></tr>";
  body += "</table>";
  if (!notices_.empty()) {
    body += "<p>External-event notices (not raised): ";
    constexpr size_t kNoticesListed = 50;
    for (size_t k = 0; k < notices_.size() && k < kNoticesListed; ++k) {
      const Record& n = notices_[k];
      const bool is_drawn = std::find(notices.begin(), notices.end(), &n) != notices.end();
      body += (k ? ", " : "") + (is_drawn ? "<a href=\"#" + esc(n.id) + "\">" + esc(n.id) + "</a>" : esc(n.id)) + " " +
              esc(dims_text(n.scope)) + " " + utc(n.start);
    }
    if (notices_.size() > kNoticesListed)
      body += " and " + std::to_string(notices_.size() - kNoticesListed) + " more in " + esc(o_.ledger);
    body += "</p>";
  }
  body += legend() + "</section>";

  for (size_t k = 0; k < drawn; ++k) body += alarm_section(*order[k]);
  for (const Record* n : notices) body += notice_section(*n);
  body += near_misses(near);
  if (o_.truth) body += truth_section();

  std::string page =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html>\n"
      "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"UTF-8\"/>"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/><title>vigil report: " +
      std::to_string(alarms_.size()) + " alarms</title><style>" + std::string(kStyle) + "</style></head><body><main>" +
      body + "<p class=\"muted\">Times are UTC. The band is the forecast +- the threshold's worth of its scale, in the "
             "directions the metric alarms on (a metric that alarms on drops only has no upper edge: its band is drawn "
             "from the lower edge to the forecast); a point outside it has |z| past the threshold. Drawn by vigil from "
             "the run's output files; no script, no network.</p></main></body></html>\n";
  return page;
}

}  // namespace

std::string render_report(const ReportOptions& options) { return Page(options).render(); }

void write_report(const std::string& path, const ReportOptions& options) {
  const std::string page = render_report(options);  // every input is read and checked first
  write_file_atomically(path, page);
}

}  // namespace vigil
