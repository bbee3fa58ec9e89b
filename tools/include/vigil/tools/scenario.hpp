#pragma once
// Synthetic streaming-platform cubes with labelled truth (`vigil generate`) and the evaluator
// that scores alarms against that truth (`vigil eval`). DESIGN.md "Truth files".
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "vigil/dataset.hpp"

namespace vigil {

struct TruthRecord {
  std::string kind;  // incident | anticipated | external_low | external_high
  std::string name;
  std::map<std::string, std::vector<std::string>> scope;  // AND across dims, OR within; {} = all
  int64_t start = 0, end = 0;                              // unix seconds
  // Optional detail written by `vigil generate` (ignored by the evaluator):
  std::string onset;                     // sudden | gradual
  std::map<std::string, double> factor;  // metric -> multiplier at full strength (0.4 = -60 %)
};

struct GenerateOptions {
  std::vector<std::pair<std::string, int>> shape = {
      {"metric", 4}, {"stack", 4}, {"device", 8}, {"region", 50}};
  int days = 28;
  int64_t step = 300;
  uint64_t seed = 1;
  std::string format = "cube";  // cube | csv
  int64_t start = 0;            // unix seconds; 0 = a fixed Monday 00:00 UTC
  // Event mix (counts per scenario); defaults scale with days and shape.
  int incidents = -1;           // -1 = default
  int anticipated = -1;
  int external_low = -1;
  int external_high = -1;
  // Subtle malfunctions on top (default none, so the default cubes stay as they were): a moderate
  // sustained drop (30-40 % for 2.5-3.5 h) on a small series, and a slow leak to -60 % over 4 h
  // during the evening decline on one count metric of one device in one region, alternating.
  int subtle = 0;
  int threads = 0;
};

struct Scenario {
  Dataset data;
  std::vector<TruthRecord> truth;
  std::string events_csv;  // the anticipated events, in the schedule format (with header)
};

// "metric=4,stack=4,device=8,region=50" -> dimensions in column order; throws InputError on bad
// syntax, a size below 1 or a repeated dimension.
std::vector<std::pair<std::string, int>> parse_shape(const std::string& text);

// Deterministic per seed, whatever the thread count. Throws InputError on bad options.
Scenario generate_scenario(const GenerateOptions& options);
// The config a platform's SRE would write for this data (`vigil score --config`): traffic
// metrics alarm on drops, error and rebuffering metrics on spikes.
std::string scenario_config_json(const Dataset& data);
// Writes data (cube dir files or data.csv), truth.jsonl, events.csv and config.json into `dir`,
// atomically.
void write_scenario(const Scenario& scenario, const std::string& dir, const std::string& format);

// One truth record a line; throws InputError("file:line: ...") on a malformed line.
std::vector<TruthRecord> read_truth(const std::string& path);
// One truth record as its JSON line (no newline), the inverse of read_truth.
std::string truth_json(const TruthRecord& record);

// A line of an alarms or ledger file (DESIGN.md "Outputs"), reduced to what eval needs.
struct AlarmRecord {
  std::string id, status, reason;
  int64_t start = 0, end = 0;  // unix seconds
  std::map<std::string, std::string> scope;                 // shared dimension values
  std::vector<std::map<std::string, std::string>> series;  // member series, every dim named
  size_t series_truncated = 0;  // member series the alarm line did not list
  int64_t step_seconds = 0;  // evidence.step_seconds; 0 when absent
  long long line = 0;        // line in its file, for messages
  bool raised() const { return status == "raised"; }
};

// Reads alarms (every line needs start, end, series, status) or a ledger (`series` may be
// missing, e.g. on a group notice: then `scope` stands for the series). Throws InputError
// ("file:line: ...") on invalid JSON or a missing or malformed field.
std::vector<AlarmRecord> read_alarms(const std::string& path, bool require_series = true);

// What happened around one truth record.
struct RecordOutcome {
  TruthRecord record;
  std::vector<std::string> alarm_ids;  // raised alarms matching it, in file order
  std::vector<std::string> false_alarm_ids;  // special events: those of them matching no incident
  double delay_steps = NAN;            // incidents: earliest matching alarm start, in steps
  std::map<std::string, int> ledger_reasons;  // ledger decisions on episodes overlapping it
};

struct EvalResult {
  int incidents = 0, detected = 0;
  double recall = 0;  // NaN without incidents
  int alarms = 0, false_alarms = 0;
  // Each false alarm by the kind of the first non-incident record it fell on, or "none";
  // every kind is present, zero when none.
  std::map<std::string, int> false_alarms_by_kind;
  double alarms_per_incident_median = NAN;  // over detected incidents; NaN when none
  double delay_steps_median = NAN;          // over detected incidents; NaN when no step known
  bool has_ledger = false;
  std::vector<RecordOutcome> records;  // one per truth record, in file order
};

// A raised alarm matches a record when [start, end] intervals overlap with `step` seconds of
// slack on each side and one of its series lies in the record's scope. `step` 0 takes each
// alarm's evidence.step_seconds. `ledger` may be null.
EvalResult evaluate(const std::vector<TruthRecord>& truth, const std::vector<AlarmRecord>& alarms,
                    int64_t step = 0, const std::vector<AlarmRecord>* ledger = nullptr);
// The readable report of `vigil eval` and its --json form (one object, one line).
std::string eval_table(const EvalResult& result);
std::string eval_json(const EvalResult& result);

// Scope of a truth record as text in the event-schedule grammar (`*` when it is {}).
std::string scope_text(const std::map<std::string, std::vector<std::string>>& scope);

}  // namespace vigil
