#pragma once
// Candidate episodes, decisions, and grouping along the dimension lattice (DESIGN.md
// "Suppression and alarm distillation"), and the JSON Lines / CSV outputs.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vigil/config.hpp"
#include "vigil/dataset.hpp"
#include "vigil/pipeline.hpp"

namespace vigil {

// A run of points of one series whose |z_forecast| passes its threshold in an allowed
// direction (short gaps merged, minimum duration met).
struct Episode {
  uint32_t series = 0;
  uint32_t first = 0, last = 0;  // grid indices, inclusive
  Direction direction = Direction::Drop;
  float peak_z = 0;              // signed, largest |z|
  uint32_t peak_t = 0;
  float impact = 0;              // median relative change (value - forecast) / forecast
  uint32_t points = 0;           // points over the threshold
  std::string decision = "raised";
  std::string reason = "malfunction";
  long alarm = -1;               // index of the alarm it belongs to
};

// `score_from`: first grid index where episodes may start (earlier points only train).
std::vector<Episode> find_episodes(const Dataset& data, const Scores& scores, const Config& config,
                                   size_t score_from);

struct Alarm {
  std::vector<uint32_t> episodes;  // indices into the episode list
  std::vector<std::pair<size_t, uint32_t>> scope;  // (dim, code): the shared dimension values
  std::vector<uint32_t> series;    // member series, ascending
  uint32_t first = 0, last = 0;
  Direction direction = Direction::Drop;  // the majority direction of its episodes
  size_t drops = 0, spikes = 0;           // episodes going each way
  float peak_z = 0;
  float impact = 0;                       // median change of the majority-direction episodes
  double density = 1;  // share of the scope's series that are members
  std::string severity;
};

// Groups raised episodes that happen together, in either direction, into one alarm per scope
// (see host/alarms.cpp for the rule).
std::vector<Alarm> group_alarms(const Dataset& data, std::vector<Episode>& episodes, const Config& config);

// JSON Lines writers (atomic). The ledger holds every candidate episode with its decision.
void write_alarms(const std::string& path, const Dataset& data, const std::vector<Alarm>& alarms,
                  const std::vector<Episode>& episodes);
void write_ledger(const std::string& path, const Dataset& data, const std::vector<Alarm>& alarms,
                  const std::vector<Episode>& episodes);
// One CSV row per input point (atomic).
void write_scores(const std::string& path, const Dataset& data, const Scores& scores);

}  // namespace vigil
