#pragma once
// Synthetic streaming-platform cubes with labelled truth (`vigil generate`) and the evaluator
// that scores alarms against that truth (`vigil eval`). DESIGN.md "Truth files".
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
  int threads = 0;
};

struct Scenario {
  Dataset data;
  std::vector<TruthRecord> truth;
  std::string events_csv;  // the anticipated events, in the schedule format (with header)
};

Scenario generate_scenario(const GenerateOptions& options);
// Writes data (cube dir files or data.csv), truth.jsonl and events.csv into `dir`, atomically.
void write_scenario(const Scenario& scenario, const std::string& dir, const std::string& format);

std::vector<TruthRecord> read_truth(const std::string& path);

struct EvalResult {
  int incidents = 0, detected = 0;
  double recall = 0;
  int alarms = 0, false_alarms = 0;
  std::map<std::string, int> false_alarms_by_kind;  // kind of the record it fell on, or "none"
  double alarms_per_incident_median = 0;
  double delay_steps_median = 0;
};

}  // namespace vigil
