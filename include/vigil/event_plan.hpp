#pragma once
// The events mechanism (DESIGN.md "anticipated" events): which scheduled occurrences apply to
// which series, and the effect each is expected to have, learned per (series, event name) from
// earlier occurrences and shrunk toward the (group, stack) effect when those are few.
#include <cstdint>
#include <string>
#include <vector>

#include "vigil/dataset.hpp"
#include "vigil/events.hpp"
#include "vigil/math/forecast.hpp"

namespace vigil {

struct EventPlan {
  std::vector<uint32_t> offsets;    // [N+1]: series i's entries are [offsets[i], offsets[i+1])
  std::vector<EventEffect> entries; // per (series, occurrence), sorted by start within a series
  std::vector<uint32_t> occurrence; // per entry: index into the schedule's events
  std::vector<std::string> names;   // per schedule event: its name
  size_t outside = 0;               // schedule rows entirely outside the data's time range
  bool empty() const { return entries.empty(); }
};

// Occurrence windows (grid steps, clamped to the data) and the series each applies to; effects 0.
EventPlan plan_events(const EventSchedule& schedule, const Dataset& data);

struct EventLearning {
  float shrink_occurrences = 1.0f;  // weight of the (group, stack) prior, in occurrences
};

// Fills every entry's effects from a first pass over the series (`base_forecast`, transformed
// space, computed with event points frozen): an occurrence's observed effect per segment is its
// mean residual; the expected effect uses only earlier occurrences of the same event name:
//   the series' own mean effect, shrunk toward the mean effect of its (group, stack) cell's
//   series of the same metric (`metric_dim`, empty = none) and transform;
//   with no history at all, the schedule's expected_impact (log(1 + impact) for log series,
//   impact x |forecast| for identity series); otherwise NaN: unknown, and the forecast stage
//   then neither adjusts nor learns those points.
// `columns[i]` maps series i to its column in base_forecast ([T][columns.size()]), or -1.
void learn_event_effects(EventPlan& plan, const EventSchedule& schedule, const Dataset& data,
                         const std::vector<uint8_t>& transform, const std::vector<float>& base_forecast,
                         const std::vector<int64_t>& columns, size_t n_columns, const std::string& metric_dim,
                         const EventLearning& learning);

// Names of the events active on series i at step t, joined by ';' ("" when none).
std::string active_events(const EventPlan& plan, size_t series, size_t t);

}  // namespace vigil
