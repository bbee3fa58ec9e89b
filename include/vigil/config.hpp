#pragma once
// Settings of a scoring run: defaults, overridden by the --config JSON file, then by flags.
#include <map>
#include <string>

#include "vigil/math/forecast.hpp"

namespace vigil {

enum class Direction { Both, Drop, Spike };
enum class Transform { Auto, Log1p, Count, Identity };

struct MetricRule {
  Direction direction = Direction::Both;
  // auto: count for non-negative integers, log1p for other non-negative values, else identity
  Transform transform = Transform::Auto;
  double threshold = 0;                   // 0 = the global threshold
  // The alarm policy an on-call team writes for the metric: below this volume (the larger of the
  // observed and the expected value, in the input's units) nothing is actionable, so a spike of a
  // low-volume count is normal; and an episode needs at least this many points past the
  // threshold (isolated blips are not worth an alarm). 0: no floor / the global minimum.
  double min_volume = 0;
  int min_points = 0;
};

struct DetectionSettings {
  double threshold = 5.0;         // |z_forecast| that opens an episode point
  // |z| a point needs for the accumulated evidence to open or extend an episode with it; 0: the
  // accumulated evidence opens no episode (the default: on the generated cubes it added false
  // alarms and no incident, see README "Detection quality").
  double support_z = 0;
  // The same for the slow baseline's evidence (0: off).
  double baseline_support_z = 2.0;
  double min_duration_minutes = 15;  // and at least 2 points
  int merge_gap_points = 2;       // sub-threshold points bridged inside an episode
  // Smallest median relative change of an episode on a log1p or count metric: a 12 % wobble of
  // a smooth series at 4 a.m. can pass the z threshold and still page nobody worth paging.
  // Identity metrics (temperatures, values around 0) have no meaningful relative change.
  double min_impact = 0.2;
  double scope_density = 0.2;     // share of a scope's series an alarm must cover to claim it
  double group_window_minutes = 60;  // episodes starting this close may form one alarm
  // An alarm line lists at most this many member series (the strongest first) and counts the
  // rest in `series_truncated`, so a storm over a million series stays a readable line. 0: all.
  size_t max_series_listed = 100;
};

// DESIGN.md --mechanisms: which special-event mechanisms are on.
struct Mechanisms {
  bool events = true;
  bool ensemble = true;
  bool cross_stack = true;
};

// Peer groups and event learning, in user units.
struct PeerSettings {
  double clip_z = 5.0;             // members' z clipped before the cell mean
  double deviating_z = 2.5;        // a cell deviates when its mean passes this
  double correlation_hours = 2.5;  // window of the rolling correlation
  double event_shrink_occurrences = 1.0;  // weight of the (group, stack) prior of an event effect
};

// The evidence stage (include/vigil/math/evidence.hpp), in user units.
struct EvidenceSettings {
  double local_hours = 3;          // memory of the local evidence's mean and spread (at least 10 points)
  double local_threshold = 4;      // |local evidence| worth one threshold in the final score
  double local_gate_z = 0.5;       // |calibrated z| of the same sign the local evidence needs to count
  double calibration_points = 500;  // memory of the |z| quantile trackers, in points
  double prior_points = 50;        // weight of the calibration's wide start, in points
  double prior_width = 2.0;        // that start, in multiples of a Gaussian's q90
  double max_gain = 1.5;           // largest stretch of a smooth series' z
  double accumulate_minutes = 60;  // window of the accumulated evidence (at least 3 points)
  double clip_z = 6;               // |calibrated z| a point adds to it at most
};

// The suppression rules (DESIGN.md "Decision").
struct DecisionSettings {
  int onset_points = 3;                // the evidence is read over an episode's first points
  double external_breadth_share = 0.5; // of the group's other stacks deviating the same way,
  double external_group_z = 2.0;       // or one of them and the others' mean z past this
  double external_correlation = 0.3;   // with the other stacks, at least
  double external_own_ratio = 2.5;     // own |z| at most this many times the group's
  double gradual_derivative = 4.0;     // no onset sharper than this ...
  double gradual_volatility = 2.5;     // ... and no spread above this: a gradual shift
  double ceiling_impact = 0.6;         // a change this large (relative) ...
  double ceiling_hours = 6;            // ... or lasting this long is raised whatever the rules say
};

// Pushing raised alarms to Alertmanager (host/io/alertmanager.cpp; README "Use with Prometheus
// and Alertmanager").
struct AlertmanagerSettings {
  std::string url;                        // empty: no push (unless --alertmanager)
  std::string alertname = "VigilAnomaly";  // the alertname label of every alarm
  // Template of the runbook_url annotation: {alertname}, {severity}, {direction} and {<dimension>}
  // (the scope's value, empty when the scope does not fix it; the three fixed names win over a
  // dimension of the same name) are replaced. Empty: no annotation.
  std::string runbook_url;
  // An alarm open at the end of the data is sent with endsAt = now + this: run vigil more often,
  // or Alertmanager resolves it in between.
  double resend_minutes = 60;
  // An alarm that ended within the data but that Alertmanager does not hold yet is still sent
  // firing (it pages once; the next run resolves it) when it ended at most this long before now.
  double recent_minutes = 60;
  double timeout_seconds = 30;  // per request
};

struct Config {
  ForecastSettings forecast;
  PeerSettings peers;
  EvidenceSettings evidence;
  DecisionSettings decisions;
  Mechanisms mechanisms;
  DetectionSettings detection;
  AlertmanagerSettings alertmanager;
  std::string metric_dim = "metric";
  MetricRule default_rule;
  std::map<std::string, MetricRule> metrics;  // by value of metric_dim

  const MetricRule& rule_for(const std::string& metric) const {
    auto it = metrics.find(metric);
    return it == metrics.end() ? default_rule : it->second;
  }
};

// Reads a JSON config file; unknown keys and bad values are InputErrors naming the file.
// {"threshold": 5, "min_duration_minutes": 10, "merge_gap_points": 2, "scope_density": 0.5,
//  "metric_dim": "metric",
//  "metrics": {"stream_errors": {"direction": "spike", "transform": "log1p", "threshold": 6}},
//  "forecast": {"daily_knots": 96, "weekly": true, "level_days": 0.25, ...},
//  "peers": {"clip_z": 5, "deviating_z": 2.5, "correlation_hours": 2.5, "event_shrink_occurrences": 1}}
// A file whose name ends in .yaml or .yml is read as YAML, anything else as JSON; both go through
// the same checks.
Config read_config(const std::string& path);
// The effective settings as a JSON document that read_config accepts (`vigil score --print-config`).
std::string config_json(const Config& config);

const char* to_string(Direction d);

}  // namespace vigil
