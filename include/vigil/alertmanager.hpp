#pragma once
// Pushing raised alarms to Alertmanager's /api/v2/alerts (README "Use with Prometheus and
// Alertmanager" has the policy in a user's words).
//
// Labels (what Alertmanager deduplicates, groups and inhibits on) are stable across runs:
// alertname (config), severity (critical/warning/info from vigil's critical/major/minor),
// direction (drop/spike), and the alarm scope's dimensions, names sanitised to
// [a-zA-Z_][a-zA-Z0-9_]* (a dimension that would collide with alertname, severity or direction,
// or with another dimension, gets "dim_" in front). No time or run id is a label, so a re-run
// updates the same alerts instead of paging again. Annotations (strings): summary, description,
// runbook_url (config template), vigil_severity, vigil_alarm (its id in alarms.jsonl), evidence
// (JSON text).
//
// Which alarms are sent, and how:
// - open at the end of the data (its last point within merge_gap_points of the end): firing,
//   endsAt = now + resend_minutes;
// - ended within the data, and Alertmanager holds it firing (an earlier run sent it): sent
//   with endsAt = its real end, so Alertmanager resolves it and notifies the resolution;
// - ended, not held by Alertmanager, ended at most recent_minutes before now: sent firing
//   once (endsAt = now + resend_minutes), so a short incident between two runs still pages; the
//   next run resolves it;
// - ended earlier, and not held firing by Alertmanager: not pushed (a past incident pages
//   nobody); counted in the report, and in alarms.jsonl as always;
// - two alarms with the same labels (the same scope, direction and severity at two times): the
//   later one is sent, the earlier counted as superseded.
// An alert Alertmanager holds firing whose labels differ from one sent only by severity (the
// alarm's severity changed) is resolved now, so one incident never pages at two severities.
// Critical alerts go first, each severity in its own request, so an inhibition rule's source is
// in Alertmanager before its targets arrive.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vigil/alarms.hpp"
#include "vigil/config.hpp"
#include "vigil/dataset.hpp"

namespace vigil {

struct AlertmanagerAlert {
  std::map<std::string, std::string> labels, annotations;
  int64_t starts_at = 0;  // unix seconds: the alarm's first point
  int64_t ended_at = 0;   // the alarm's real end (exclusive end of its last point)
  bool open = false;      // still going at the end of the data
  int severity_rank = 0;  // 0 critical, 1 warning, 2 info: the send order
};

// The alert of each alarm, in the order of `alarms` (nothing sent).
std::vector<AlertmanagerAlert> alertmanager_alerts(const Dataset& data, const std::vector<Alarm>& alarms,
                                                   const Config& config);

struct PushOptions {
  std::string url;             // Alertmanager's base URL
  int retries = 3;             // after a 5xx or a failed connection, doubling delays from 1 s
  double first_retry_delay_seconds = 1;
  int64_t now = 0;             // unix seconds; 0: the clock
  std::string generator_url;   // optional link back to the data (a Prometheus graph URL)
};

struct PushReport {
  size_t firing = 0;       // sent firing
  size_t resolved = 0;     // sent with their real end (Alertmanager held them firing)
  size_t severity_changed = 0;  // held alerts resolved because the alarm now has another severity
  size_t past = 0;         // ended before now - recent_minutes, not held firing: not pushed
  size_t superseded = 0;   // same labels as a later alarm
  size_t requests = 0;     // POSTs made
};
// One line for the run summary.
std::string describe(const PushReport& report, const std::string& url);

// Sends the alarms as described above. A failure (no connection or 5xx after the retries, or a
// 4xx) is a ServiceError with ServiceError::kPushFailed; the caller has written its outputs first.
PushReport push_alarms(const Dataset& data, const std::vector<Alarm>& alarms, const Config& config,
                       const PushOptions& options);

}  // namespace vigil
