#include "vigil/config.hpp"

#include <yaml-cpp/depthguard.h>  // YAML::DeepRecursion
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string_view>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "core/text_checks.hpp"
#include "vigil/error.hpp"
#include "vigil/limits.hpp"

namespace vigil {
namespace {

using nlohmann::json;

Direction parse_direction(const std::string& text, const std::string& file) {
  if (text == "both") return Direction::Both;
  if (text == "drop" || text == "drops") return Direction::Drop;
  if (text == "spike" || text == "spikes") return Direction::Spike;
  throw InputError(where(file, 0, "direction must be drop, spike or both, not '" + text + "'"));
}

Transform parse_transform(const std::string& text, const std::string& file) {
  if (text == "auto") return Transform::Auto;
  if (text == "log1p") return Transform::Log1p;
  if (text == "count") return Transform::Count;
  if (text == "identity") return Transform::Identity;
  throw InputError(where(file, 0, "transform must be auto, count, log1p or identity, not '" + text + "'"));
}

// Reads an optional number, rejecting other types and values outside [lo, hi].
template <typename T>
void read_number(const json& obj, const char* key, T& out, double lo, double hi, const std::string& file) {
  auto it = obj.find(key);
  if (it == obj.end()) return;
  if (!it->is_number())
    throw InputError(where(file, 0, std::string("'") + key + "' must be a number, not " + it->dump()));
  const double v = it->get<double>();
  if (!(v >= lo && v <= hi))
    throw InputError(where(file, 0, std::string("'") + key + "' = " + it->dump() + " is out of range [" +
                                        std::to_string(lo) + ", " + std::to_string(hi) + "]"));
  if (std::is_integral_v<T> && v != std::floor(v))
    throw InputError(where(file, 0, std::string("'") + key + "' = " + it->dump() + " must be a whole number"));
  out = static_cast<T>(v);
}

void check_keys(const json& obj, std::initializer_list<const char*> allowed, const std::string& file,
                const std::string& section) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok) throw InputError(where(file, 0, "unknown key " + in_quotes(it.key()) + section));
  }
}

// The object `name` of the document, checked against its allowed keys; null when absent.
const json* section(const json& doc, const char* name, std::initializer_list<const char*> allowed,
                    const std::string& file) {
  auto it = doc.find(name);
  if (it == doc.end()) return nullptr;
  if (!it->is_object()) throw InputError(where(file, 0, std::string("'") + name + "' must be an object"));
  check_keys(*it, allowed, file, std::string(" in ") + name);
  return &*it;
}

MetricRule parse_rule(const json& obj, const std::string& file, const std::string& section) {
  if (!obj.is_object()) throw InputError(where(file, 0, section + " must be an object"));
  check_keys(obj, {"direction", "transform", "threshold", "min_volume", "min_points"}, file, " in " + section);
  MetricRule rule;
  if (obj.contains("direction")) {
    if (!obj["direction"].is_string()) throw InputError(where(file, 0, "'direction' must be a string"));
    rule.direction = parse_direction(obj["direction"].get<std::string>(), file);
  }
  if (obj.contains("transform")) {
    if (!obj["transform"].is_string()) throw InputError(where(file, 0, "'transform' must be a string"));
    rule.transform = parse_transform(obj["transform"].get<std::string>(), file);
  }
  read_number(obj, "threshold", rule.threshold, 0.5, 1e6, file);
  read_number(obj, "min_volume", rule.min_volume, 0, 1e30, file);
  read_number(obj, "min_points", rule.min_points, 0, 1000000, file);
  return rule;
}

// YAML becomes the same tree as JSON, so both formats share every check below. Plain scalars
// are typed as YAML 1.2 would (true/false, finite numbers); quoted ones stay strings. The walk is
// bounded: depth, and the number of values with aliases expanded (a "billion laughs" document
// of ten lines names 10^9 values through nested aliases).
class YamlToJson {
 public:
  YamlToJson(const std::string& path, std::string_view text) : path_(path), text_(text) {}

  json convert(const YAML::Node& node, int depth = 0) {
    if (depth > limits::kMaxConfigDepth)
      fail(node, "nested deeper than " + std::to_string(limits::kMaxConfigDepth) + " levels");
    if (++nodes_ > limits::kMaxConfigNodes)
      fail(node, "holds more than " + std::to_string(limits::kMaxConfigNodes) +
                     " values (aliases expanded); is it an alias bomb?");
    switch (node.Type()) {
      case YAML::NodeType::Map: {
        json o = json::object();
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) fail(kv.first, "a key must be a plain name");
          const std::string key = scalar_text(kv.first);
          o[key] = convert(kv.second, depth + 1);
        }
        return o;
      }
      case YAML::NodeType::Sequence: {
        json a = json::array();
        for (const auto& item : node) a.push_back(convert(item, depth + 1));
        return a;
      }
      case YAML::NodeType::Scalar: {
        const std::string text = scalar_text(node);
        if (node.Tag() == "!") return text;  // quoted
        if (text == "true" || text == "false") return text == "true";
        if (!text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-' ||
                              text[0] == '+' || text[0] == '.')) {
          char* end = nullptr;
          const double v = std::strtod(text.c_str(), &end);
          // nan, inf and hex are not YAML numbers here: they stay strings, which every number
          // setting then rejects by name.
          if (end == text.c_str() + text.size() && std::isfinite(v) &&
              text.find_first_of("xXnN") == std::string::npos)
            return v;
        }
        return text;
      }
      default:
        return nullptr;
    }
  }

 private:
  [[noreturn]] void fail(const YAML::Node& node, const std::string& problem) const {
    const YAML::Mark mark = node.Mark();
    throw InputError(where(path_, mark.is_null() ? 0 : mark.line + 1, problem));
  }

  // A scalar's text, checked like every name from a file (text_checks.hpp). A quoted scalar that
  // spans lines is almost always a missing closing quote that swallowed the next keys.
  std::string scalar_text(const YAML::Node& node) const {
    const std::string& text = node.Scalar();
    check_text(path_, node.Mark().is_null() ? 0 : node.Mark().line + 1, "value", text, limits::kMaxValueBytes);
    const YAML::Mark mark = node.Mark();
    if (node.Tag() == "!" && !mark.is_null() && static_cast<size_t>(mark.pos) < text_.size()) {
      const char quote = text_[static_cast<size_t>(mark.pos)];
      if (quote == '"' || quote == '\'') {
        for (size_t p = static_cast<size_t>(mark.pos) + 1; p < text_.size(); ++p) {
          const char c = text_[p];
          if (quote == '"' && c == '\\') {
            ++p;
            continue;
          }
          if (c == quote) {
            if (quote == '\'' && p + 1 < text_.size() && text_[p + 1] == '\'') {
              ++p;
              continue;
            }
            break;
          }
          if (c == '\n')
            fail(node, "a quoted string runs past the end of its line; is its closing " +
                           std::string(1, quote) + " missing?");
        }
      }
    }
    return text;
  }

  const std::string& path_;
  std::string_view text_;
  size_t nodes_ = 0;
};

// The deepest nesting of a JSON document, stopping once past `limit`.
int json_depth(const json& value, int limit, int depth = 0) {
  if (depth > limit || !value.is_structured()) return depth;
  int deepest = depth;
  for (const json& item : value) {
    deepest = std::max(deepest, json_depth(item, limit, depth + 1));
    if (deepest > limit) break;
  }
  return deepest;
}

json parse_document(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(where(path, 0, "cannot open config file"));
  std::string text;
  char buffer[1 << 14];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > limits::kMaxConfigBytes)
      throw InputError(where(path, 0, "larger than " + std::to_string(limits::kMaxConfigBytes) +
                                          " bytes; a config is a few settings"));
  }
  if (in.bad()) throw InputError(where(path, 0, "cannot read config file"));
  const bool yaml = path.size() > 5 && (path.rfind(".yaml") == path.size() - 5 || path.rfind(".yml") == path.size() - 4);
  if (yaml) {
    if (text.find('\0') != std::string::npos) throw InputError(where(path, 0, "holds a NUL byte; not YAML text"));
    try {
      return YamlToJson(path, text).convert(YAML::Load(text));
    } catch (const YAML::DeepRecursion& e) {  // yaml-cpp's own guard (its message says "bad file")
      throw InputError(where(path, e.mark.is_null() ? 0 : e.mark.line + 1,
                             "nested deeper than " + std::to_string(limits::kMaxConfigDepth) + " levels"));
    } catch (const YAML::Exception& e) {
      throw InputError(where(path, e.mark.is_null() ? 0 : e.mark.line + 1, "not valid YAML: " + e.msg));
    }
  }
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
    throw InputError(where(path, 0, std::string("not valid JSON: ") + e.what()));
  }
  if (json_depth(doc, limits::kMaxConfigDepth) > limits::kMaxConfigDepth)
    throw InputError(where(path, 0, "nested deeper than " + std::to_string(limits::kMaxConfigDepth) + " levels"));
  return doc;
}

}  // namespace

const char* to_string(Direction d) {
  switch (d) {
    case Direction::Drop: return "drop";
    case Direction::Spike: return "spike";
    default: return "both";
  }
}

Config read_config(const std::string& path) {
  const json doc = parse_document(path);
  if (!doc.is_object()) throw InputError(where(path, 0, "the config must be a mapping of settings"));
  check_keys(doc, {"threshold", "support_z", "baseline_support_z", "min_duration_minutes", "merge_gap_points",
                   "min_impact", "scope_density",
                   "group_window_minutes", "max_series_listed", "metric_dim", "direction", "transform", "min_volume",
                   "min_points", "metrics", "forecast", "peers",
                   "evidence", "decisions", "alertmanager"},
             path, "");
  Config c;
  auto& d = c.detection;
  read_number(doc, "threshold", d.threshold, 0.5, 1e6, path);
  read_number(doc, "support_z", d.support_z, 0, 1e6, path);
  read_number(doc, "baseline_support_z", d.baseline_support_z, 0, 1e6, path);
  read_number(doc, "min_duration_minutes", d.min_duration_minutes, 0, 1e7, path);
  read_number(doc, "merge_gap_points", d.merge_gap_points, 0, 1e6, path);
  read_number(doc, "min_impact", d.min_impact, 0, 1e6, path);
  read_number(doc, "scope_density", d.scope_density, 0.01, 1, path);
  read_number(doc, "group_window_minutes", d.group_window_minutes, 0, 1e7, path);
  read_number(doc, "max_series_listed", d.max_series_listed, 0, 1e9, path);
  if (doc.contains("metric_dim")) {
    if (!doc["metric_dim"].is_string()) throw InputError(where(path, 0, "'metric_dim' must be a string"));
    c.metric_dim = doc["metric_dim"].get<std::string>();
    check_text(path, 0, "metric_dim", c.metric_dim, limits::kMaxNameBytes);
  }
  json defaults = json::object();
  if (doc.contains("direction")) defaults["direction"] = doc["direction"];
  if (doc.contains("transform")) defaults["transform"] = doc["transform"];
  if (doc.contains("min_volume")) defaults["min_volume"] = doc["min_volume"];
  if (doc.contains("min_points")) defaults["min_points"] = doc["min_points"];
  c.default_rule = parse_rule(defaults, path, "the top level");
  if (doc.contains("metrics")) {
    const json& m = doc["metrics"];
    if (!m.is_object()) throw InputError(where(path, 0, "'metrics' must be an object of metric -> rule"));
    for (auto it = m.begin(); it != m.end(); ++it) {
      // A metric rule inherits the top-level direction/transform it does not set.
      json merged = defaults;
      if (it->is_object())
        for (auto f = it->begin(); f != it->end(); ++f) merged[f.key()] = *f;
      else
        merged = *it;
      check_text(path, 0, "metric name", it.key(), limits::kMaxValueBytes);
      c.metrics[it.key()] = parse_rule(merged, path, "metrics." + it.key());
    }
  }
  if (const json* fs = section(doc, "forecast",
                               {"daily_knots", "weekly", "level_days", "daily_days", "weekly_weeks", "scale_slots",
                                "scale_days", "model_error_days", "scale_prior_visits", "clip_z", "outlier_z",
                                "shift_horizon_hours", "min_history_days", "score_from_days", "young_width",
                                "scale_floor_log", "scale_floor_rel",
                                "derivative_minutes", "volatility_hours", "event_uncertainty"},
                               path)) {
    const json& f = *fs;
    auto& s = c.forecast;
    read_number(f, "daily_knots", s.daily_knots, 1, 1440, path);
    if (f.contains("weekly")) {
      if (!f["weekly"].is_boolean()) throw InputError(where(path, 0, "'weekly' must be true or false"));
      s.weekly = f["weekly"].get<bool>();
    }
    read_number(f, "level_days", s.level_days, 1e-3, 1e4, path);
    read_number(f, "daily_days", s.daily_days, 1e-3, 1e4, path);
    read_number(f, "weekly_weeks", s.weekly_weeks, 1e-3, 1e4, path);
    read_number(f, "scale_slots", s.scale_slots, 1, 1440, path);
    read_number(f, "scale_days", s.scale_days, 1e-3, 1e4, path);
    read_number(f, "model_error_days", s.model_error_days, 1e-3, 1e4, path);
    read_number(f, "scale_prior_visits", s.scale_prior_visits, 0, 1e6, path);
    read_number(f, "clip_z", s.clip_z, 0.1, 1e6, path);
    read_number(f, "outlier_z", s.outlier_z, 0.5, 1e6, path);
    read_number(f, "shift_horizon_hours", s.shift_horizon_hours, 0.01, 1e6, path);
    read_number(f, "min_history_days", s.min_history_days, 0, 1e4, path);
    read_number(f, "score_from_days", s.score_from_days, 0, 1e4, path);
    read_number(f, "young_width", s.young_width, 1, 100, path);
    read_number(f, "scale_floor_log", s.scale_floor_log, 0, 10, path);
    read_number(f, "scale_floor_rel", s.scale_floor_rel, 0, 10, path);
    read_number(f, "derivative_minutes", s.derivative_minutes, 0, 1e6, path);
    read_number(f, "volatility_hours", s.volatility_hours, 1e-3, 1e6, path);
    read_number(f, "event_uncertainty", s.event_uncertainty, 0, 10, path);
  }
  if (const json* es = section(doc, "evidence",
                               {"local_hours", "local_threshold", "local_gate_z", "calibration_points",
                                "prior_points", "prior_width", "max_gain", "accumulate_minutes",
                                "clip_z"},
                               path)) {
    const json& f = *es;
    auto& e = c.evidence;
    read_number(f, "local_hours", e.local_hours, 1e-3, 1e6, path);
    read_number(f, "local_threshold", e.local_threshold, 0.1, 1e6, path);
    read_number(f, "local_gate_z", e.local_gate_z, 0, 1e6, path);
    read_number(f, "calibration_points", e.calibration_points, 1, 1e9, path);
    read_number(f, "prior_points", e.prior_points, 0, 1e9, path);
    read_number(f, "prior_width", e.prior_width, 1, 100, path);
    read_number(f, "max_gain", e.max_gain, 1, 100, path);
    read_number(f, "accumulate_minutes", e.accumulate_minutes, 0, 1e6, path);
    read_number(f, "clip_z", e.clip_z, 0.5, 1e6, path);
  }
  if (const json* ds = section(doc, "decisions",
                               {"onset_points", "external_breadth_share", "external_group_z", "external_correlation",
                                "external_own_ratio", "gradual_derivative", "gradual_volatility", "ceiling_impact",
                                "ceiling_hours"},
                               path)) {
    const json& f = *ds;
    auto& d = c.decisions;
    read_number(f, "onset_points", d.onset_points, 1, 1000, path);
    read_number(f, "external_breadth_share", d.external_breadth_share, 0, 1, path);
    read_number(f, "external_group_z", d.external_group_z, 0, 1e6, path);
    read_number(f, "external_correlation", d.external_correlation, -1, 1, path);
    read_number(f, "external_own_ratio", d.external_own_ratio, 0, 1e6, path);
    read_number(f, "gradual_derivative", d.gradual_derivative, 0, 1e6, path);
    read_number(f, "gradual_volatility", d.gradual_volatility, 0, 1e6, path);
    read_number(f, "ceiling_impact", d.ceiling_impact, 0, 1e6, path);
    read_number(f, "ceiling_hours", d.ceiling_hours, 0, 1e6, path);
  }
  if (const json* ps = section(doc, "peers", {"clip_z", "deviating_z", "correlation_hours", "event_shrink_occurrences"},
                               path)) {
    const json& f = *ps;
    read_number(f, "clip_z", c.peers.clip_z, 0.5, 1e6, path);
    read_number(f, "deviating_z", c.peers.deviating_z, 0.1, 1e6, path);
    read_number(f, "correlation_hours", c.peers.correlation_hours, 1e-3, 1e6, path);
    read_number(f, "event_shrink_occurrences", c.peers.event_shrink_occurrences, 0, 1e6, path);
  }
  if (const json* as = section(doc, "alertmanager",
                               {"url", "alertname", "runbook_url", "resend_minutes", "recent_minutes",
                                "timeout_seconds"},
                               path)) {
    const json& f = *as;
    auto& a = c.alertmanager;
    for (auto [key, out] : {std::pair<const char*, std::string*>{"url", &a.url}, {"alertname", &a.alertname},
                            {"runbook_url", &a.runbook_url}}) {
      if (!f.contains(key)) continue;
      if (!f[key].is_string()) throw InputError(where(path, 0, std::string("'") + key + "' must be a string"));
      *out = f[key].get<std::string>();
    }
    if (a.alertname.empty()) throw InputError(where(path, 0, "'alertname' must not be empty"));
    read_number(f, "resend_minutes", a.resend_minutes, 1, 1e6, path);
    read_number(f, "recent_minutes", a.recent_minutes, 0, 1e6, path);
    read_number(f, "timeout_seconds", a.timeout_seconds, 0.1, 3600, path);
  }
  return c;
}

namespace {

const char* transform_name(Transform t) {
  switch (t) {
    case Transform::Log1p: return "log1p";
    case Transform::Count: return "count";
    case Transform::Identity: return "identity";
    default: return "auto";
  }
}

}  // namespace

std::string config_json(const Config& c) {
  nlohmann::ordered_json o;
  const auto& d = c.detection;
  o["threshold"] = d.threshold;
  o["support_z"] = d.support_z;
  o["baseline_support_z"] = d.baseline_support_z;
  o["min_duration_minutes"] = d.min_duration_minutes;
  o["merge_gap_points"] = d.merge_gap_points;
  o["min_impact"] = d.min_impact;
  o["scope_density"] = d.scope_density;
  o["group_window_minutes"] = d.group_window_minutes;
  o["max_series_listed"] = d.max_series_listed;
  o["metric_dim"] = c.metric_dim;
  o["direction"] = to_string(c.default_rule.direction);
  o["transform"] = transform_name(c.default_rule.transform);
  o["min_volume"] = c.default_rule.min_volume;
  o["min_points"] = c.default_rule.min_points;
  o["metrics"] = nlohmann::ordered_json::object();
  for (const auto& [name, rule] : c.metrics) {
    nlohmann::ordered_json r{{"direction", to_string(rule.direction)}, {"transform", transform_name(rule.transform)}};
    if (rule.threshold > 0) r["threshold"] = rule.threshold;
    if (rule.min_volume > 0) r["min_volume"] = rule.min_volume;
    if (rule.min_points > 0) r["min_points"] = rule.min_points;
    o["metrics"][name] = r;
  }
  const auto& f = c.forecast;
  o["forecast"] = {{"daily_knots", f.daily_knots},
                   {"weekly", f.weekly},
                   {"level_days", f.level_days},
                   {"daily_days", f.daily_days},
                   {"weekly_weeks", f.weekly_weeks},
                   {"scale_slots", f.scale_slots},
                   {"scale_days", f.scale_days},
                   {"model_error_days", f.model_error_days},
                   {"scale_prior_visits", f.scale_prior_visits},
                   {"clip_z", f.clip_z},
                   {"outlier_z", f.outlier_z},
                   {"shift_horizon_hours", f.shift_horizon_hours},
                   {"min_history_days", f.min_history_days},
                   {"score_from_days", f.score_from_days},
                   {"young_width", f.young_width},
                   {"scale_floor_log", f.scale_floor_log},
                   {"scale_floor_rel", f.scale_floor_rel},
                   {"derivative_minutes", f.derivative_minutes},
                   {"volatility_hours", f.volatility_hours},
                   {"event_uncertainty", f.event_uncertainty}};
  const auto& p = c.peers;
  o["peers"] = {{"clip_z", p.clip_z},
                {"deviating_z", p.deviating_z},
                {"correlation_hours", p.correlation_hours},
                {"event_shrink_occurrences", p.event_shrink_occurrences}};
  const auto& e = c.evidence;
  o["evidence"] = {{"local_hours", e.local_hours},
                   {"local_threshold", e.local_threshold},
                   {"local_gate_z", e.local_gate_z},
                   {"calibration_points", e.calibration_points},
                   {"prior_points", e.prior_points},
                   {"prior_width", e.prior_width},
                   {"max_gain", e.max_gain},
                   {"accumulate_minutes", e.accumulate_minutes},
                   {"clip_z", e.clip_z}};
  const auto& r = c.decisions;
  o["decisions"] = {{"onset_points", r.onset_points},
                    {"external_breadth_share", r.external_breadth_share},
                    {"external_group_z", r.external_group_z},
                    {"external_correlation", r.external_correlation},
                    {"external_own_ratio", r.external_own_ratio},
                    {"gradual_derivative", r.gradual_derivative},
                    {"gradual_volatility", r.gradual_volatility},
                    {"ceiling_impact", r.ceiling_impact},
                    {"ceiling_hours", r.ceiling_hours}};
  const auto& a = c.alertmanager;
  o["alertmanager"] = {{"url", a.url},
                       {"alertname", a.alertname},
                       {"runbook_url", a.runbook_url},
                       {"resend_minutes", a.resend_minutes},
                       {"recent_minutes", a.recent_minutes},
                       {"timeout_seconds", a.timeout_seconds}};
  return o.dump(2) + "\n";
}

}  // namespace vigil
