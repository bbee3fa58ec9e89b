#pragma once
// One scoring run as `vigil score` and `vigil sample` do it: scores, episodes, alarms, summary.
#include <cstdio>
#include <string>
#include <vector>

#include "vigil/alarms.hpp"
#include "vigil/backend.hpp"
#include "vigil/config.hpp"
#include "vigil/dataset.hpp"

namespace vigil {

struct RunResult {
  Scores scores;
  std::vector<Episode> episodes;
  std::vector<Alarm> alarms;
  std::vector<Notice> notices;    // external-event notices (suppressed, in the ledger)
  size_t score_from = 0;          // grid index
  size_t short_history = 0;       // series with data but never enough history to be scored
  size_t empty_series = 0;        // series without a single valid point
  double seconds_total = 0;
};

// `schedule` may be null (no --events).
RunResult run_scoring(const Dataset& data, const Config& config, Backend& backend, size_t score_from,
                      const EventSchedule* schedule = nullptr);

// A readable summary: counts, timings, and the alarms (at most `max_alarms` listed).
void print_summary(std::FILE* out, const Dataset& data, const RunResult& run, const Backend& backend,
                   size_t max_alarms);

}  // namespace vigil
