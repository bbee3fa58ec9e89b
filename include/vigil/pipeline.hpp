#pragma once
// From a dataset to per-point scores, candidate episodes and alarms.
#include <cstdint>
#include <string>
#include <vector>

#include "vigil/backend.hpp"
#include "vigil/config.hpp"
#include "vigil/dataset.hpp"
#include "vigil/event_plan.hpp"
#include "vigil/events.hpp"
#include "vigil/math/evidence.hpp"

namespace vigil {

struct Scores {
  ForecastParams params;
  std::vector<uint8_t> transform;      // [N], TransformCode
  std::vector<uint8_t> has_data;       // [N], 1 when the series has a valid value
  // [N], the step of the series' first valid value (T when none): its model's age, as the
  // forecast counts it, is t - first_value[i], so its model is young while that is short of
  // params.min_history_steps.
  std::vector<uint32_t> first_value;
  std::vector<uint8_t> direction;      // [N], Direction of the series' metric
  std::vector<float> threshold;        // [N]
  std::vector<float> min_volume;       // [N], the metric's policy (0: none)
  std::vector<uint32_t> min_points;    // [N], points past the threshold an episode needs (0: 2)
  std::vector<float> forecast;         // [T][N], transformed space, event effects included
  std::vector<float> z;                // [T][N] z_forecast
  std::vector<float> z_base;           // [T][N] z without the event effects (empty: no events)
  std::vector<float> z_derivative;     // [T][N]
  std::vector<float> z_volatility;     // [T][N]
  // [T][N] what z divides the residual by (transformed space; the scores file's band), filled only
  // when `want_scale` is set by the caller (empty otherwise).
  std::vector<float> scale;
  bool want_scale = false;
  std::vector<float> z_local;          // [T][N] the value against its recent mean and spread
  std::vector<float> z_calibrated;     // [T][N] z judged against the series' own history (evidence.hpp)
  std::vector<float> z_accumulated;    // [T][N] the accumulated evidence of z
  std::vector<float> z_baseline;       // [T][N] the forecast's drift from earlier days (slow baseline)
  EventPlan events;                    // the occurrences applied (empty without the mechanism)
  // Peer groups (cross-stack mechanism; empty when it is off):
  PeerLayout peers;                    // series by (group, stack)
  std::vector<float> cell_z;           // [T][C] robust mean z of each (group, stack) cell
  std::vector<float> breadth;          // [T][N] other stacks of the group deviating the same way
  std::vector<float> correlation;      // [T][N] rolling correlation with the other stacks
  double seconds = 0;                  // backend time of the forecast stage
  double evidence_seconds = 0;         // backend time of the evidence stage
  double event_seconds = 0;            // the events mechanism's plan, first pass and learning
  double peer_seconds = 0;             // backend time of the peer-group stage
};

// What the forecast needs to know of each series before it starts, from one look at its values:
// bit kHasNegative, kHasFraction, kHasValue (ORed over the points).
enum SeriesTrait : uint8_t { kHasNegative = 1, kHasFraction = 2, kHasValue = 4 };
// ORs the traits of the values [T][n] (time-major, row pitch `pitch`) into traits[0..n).
void accumulate_traits(const float* values, size_t T, size_t n, size_t pitch, uint8_t* traits);

// The per-series rules: transform, direction and threshold from the series' metric. The "auto"
// transform decides per metric over every series of it (count for non-negative integers, log1p
// for other non-negative values, else identity), so it needs the traits of the whole input, not
// of one batch.
struct SeriesRules {
  std::vector<uint8_t> transform;  // [N], TransformCode
  std::vector<uint8_t> has_data;   // [N]
  std::vector<uint8_t> direction;  // [N], Direction
  std::vector<float> threshold;    // [N]
  std::vector<float> min_volume;   // [N]
  std::vector<uint32_t> min_points;  // [N]
};
// The evidence stage's parameters, in steps of the forecast's grid; the young-model widening
// comes from the forecast's learning phase.
EvidenceParams make_evidence_params(const EvidenceSettings& settings, const ForecastParams& forecast);
// The young-model widening alone (young_until, young_slope; the rest default), for what must widen
// as the evidence stage does: the scores file's band.
EvidenceParams young_widening_params(const ForecastParams& forecast);

SeriesRules derive_series_rules(const Keys& keys, const std::vector<uint8_t>& traits, const Config& config);

// Runs the forecast stage on `backend`. With a schedule and the events mechanism on, it runs
// twice: a first pass with event points frozen measures each occurrence's effect, the second
// forecasts with the effects learned from earlier occurrences (event_plan.hpp). With the
// cross-stack mechanism on, the peer-group stage follows (peers.hpp).
// `rules` (may be null: derived from `data`): the series' rules, e.g. from the whole input when
// `data` is one batch of it.
Scores score_dataset(const Dataset& data, const Config& config, Backend& backend,
                     const EventSchedule* schedule = nullptr, const SeriesRules* rules = nullptr);
// The same into `scores`, reusing its arrays' memory: batch after batch, no fresh pages to fault
// in and zero. Without `every_output`, the evidence stage computes only what opens episodes (the
// slow baseline; the accumulated evidence when detection.support_z is on) and leaves z_local and
// z_calibrated empty: a run that writes no scores needs nothing else of it.
void score_dataset_into(const Dataset& data, const Config& config, Backend& backend, const EventSchedule* schedule,
                        const SeriesRules* rules, Scores& scores, bool every_output = true);

}  // namespace vigil
