#pragma once
// Candidate episodes, decisions, and grouping along the dimension lattice (DESIGN.md
// "Suppression and alarm distillation"), and the JSON Lines / CSV outputs.
#include <cstdint>
#include <map>
#include <memory>
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
  long notice = -1;              // index of the external-event notice it was folded into
  // Evidence at the onset (the first points of the episode), NaN where a stage is off:
  float onset_z = NAN;           // median |z_forecast| of the onset points
  float breadth = NAN;           // other stacks of the group deviating the same way (max)
  float correlation = NAN;       // with the other stacks (max)
  float group_z = NAN;           // mean z of the other stacks of the group (same sign as peak)
  float derivative = NAN;        // largest |z_derivative| in the episode's direction
  float volatility = NAN;        // largest z_volatility
  float base_peak_z = NAN;       // peak of z without the event effects (events active only)
  std::string events;            // scheduled events active during the episode
};

// `score_from`: first grid index where episodes may start (earlier points only train). `z`:
// the z to scan ([T][N]; by default scores.z).
std::vector<Episode> find_episodes(const Dataset& data, const Scores& scores, const Config& config,
                                   size_t score_from, const std::vector<float>* z = nullptr);

// A suppressed group of episodes that share an external cause: one per (group, time window).
struct Notice {
  std::vector<uint32_t> episodes;
  uint32_t group_dim = 0, group_code = 0;
  uint32_t first = 0, last = 0;
  Direction direction = Direction::Drop;
  float peak_z = 0;
  std::vector<uint32_t> series;
};

// DESIGN.md decisions, first rule that applies: anticipated_event, external_event,
// gradual_shift, malfunction; with the hard ceiling. Fills each episode's evidence, decision and
// reason; adds the raw-forecast episodes that the schedule explained (anticipated_event) and
// returns the external-event notices.
std::vector<Notice> decide(const Dataset& data, const Scores& scores, const Config& config, size_t score_from,
                           std::vector<Episode>& episodes);
// decide() in its two halves, for batches: the per-episode decisions need the batch's scores
// (episodes sorted by (first, series) after); the notices need only the keys, so they are
// collected once over the episodes of every batch.
void decide_episodes(const Dataset& data, const Scores& scores, const Config& config, size_t score_from,
                     std::vector<Episode>& episodes);
std::vector<Notice> collect_notices(const Dataset& data, const Config& config, std::vector<Episode>& episodes);

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
// (see host/decide/alarms.cpp for the rule).
std::vector<Alarm> group_alarms(const Dataset& data, std::vector<Episode>& episodes, const Config& config);

// JSON Lines writers (atomic). The ledger holds every candidate episode with its decision.
// An alarm lists at most `max_series_listed` member series (0: all), the strongest first, and
// counts the others in `series_truncated`; `n_series` always counts them all.
void write_alarms(const std::string& path, const Dataset& data, const std::vector<Alarm>& alarms,
                  const std::vector<Episode>& episodes, size_t max_series_listed);
void write_ledger(const std::string& path, const Dataset& data, const std::vector<Alarm>& alarms,
                  const std::vector<Episode>& episodes, const std::vector<Notice>& notices);
// The same, written in full under the temporary name but not yet renamed into place: commit()
// them once every output of the run is complete, so a failure leaves none behind.
class AtomicFile;
std::unique_ptr<AtomicFile> stage_alarms(const std::string& path, const Dataset& data,
                                         const std::vector<Alarm>& alarms, const std::vector<Episode>& episodes,
                                         size_t max_series_listed);
std::unique_ptr<AtomicFile> stage_ledger(const std::string& path, const Dataset& data,
                                         const std::vector<Alarm>& alarms, const std::vector<Episode>& episodes,
                                         const std::vector<Notice>& notices);
// One CSV row per input point (atomic); `final_score` ([T][N], final_score.hpp) fills the
// `score` column.
void write_scores(const std::string& path, const Dataset& data, const Scores& scores,
                  const std::vector<float>& final_score);

// The scores CSV written a batch at a time (series in the order the batches come), committed
// once every batch is in.
class ScoresWriter {
 public:
  ScoresWriter(const std::string& path, const std::vector<std::string>& dims);
  ~ScoresWriter();
  void append(const Dataset& batch, const Scores& scores, const std::vector<float>& final_score);
  void commit();
  AtomicFile& file();  // to commit it with the run's other outputs (commit_all)

 private:
  std::unique_ptr<AtomicFile> out_;
  std::vector<std::string> stamps_;  // ISO-8601 of each grid point
};

}  // namespace vigil
