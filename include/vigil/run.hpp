#pragma once
// One scoring run as `vigil score` and `vigil sample` do it: scores, episodes, alarms, summary.
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vigil/alarms.hpp"
#include "vigil/backend.hpp"
#include "vigil/config.hpp"
#include "vigil/dataset.hpp"
#include "vigil/value_source.hpp"

namespace vigil {

struct RunResult;

// How a run splits its series into batches. A batch holds whole groups whenever a mechanism
// compares series within a group (cross-stack peers, event priors), so batching never changes a
// score: the alarms are those of one batch holding everything.
//
// The backend says how large a batch should be and how many it scores at once (BatchShape): on the
// CPU, each thread takes cache-sized batches through every stage. A cube on disk is read a set of
// batches at a time, each time row once per set, into a buffer of what the memory budget leaves.
struct BatchOptions {
  size_t max_series = 0;       // series per batch; 0: from the backend's BatchShape and memory_budget
  size_t memory_budget = size_t{512} << 20;  // host bytes for the values read and the batches' scores
  bool keep_scores = false;    // keep RunResult::scores (one batch only)
  bool band = false;           // fill Scores::scale, the scores file's band (4 bytes a point)
  // After each batch is decided, in batch order, on one thread at a time: the batch as a Dataset of
  // its own (series renumbered in ascending order of the input's), its scores and its episodes
  // (batch series indices).
  std::function<void(const Dataset& batch, const Scores&, const std::vector<Episode>&)> on_batch;
  // After each batch: series scored so far, of `total`.
  std::function<void(size_t done, size_t total)> on_progress;
  // A run shared by several processes (host/dist: `mpirun vigil score`). only_series: the series
  // this process reads and scores (ascending, whole groups when batches need them; unset: all).
  // merge_traits: completes the traits of its series (bits of input_traits) with the other
  // processes'. merge_result: after its last batch, merges its result (episodes with input series
  // indices, counters) with theirs; the episodes it leaves are then sorted, and notices and alarms
  // found, as in one process.
  std::optional<std::vector<uint32_t>> only_series;
  std::function<void(std::vector<uint8_t>& traits)> merge_traits;
  std::function<void(RunResult& partial)> merge_result;
};

// Whether a run's batches must hold whole groups: a mechanism compares series within a group
// (cross-stack peers, event priors).
bool needs_whole_groups(const Config& config, const EventSchedule* schedule);
// The batches: ascending series indices each, whole groups when `whole_groups`; of the series
// `only` (ascending, whole groups) when given, else of every series.
std::vector<std::vector<uint32_t>> plan_batches(const Dataset& header, bool whole_groups, size_t max_series,
                                                const std::vector<uint32_t>* only = nullptr);
// The traits of every series (accumulate_traits: the "auto" transform decides per metric over the
// whole input), read in slices of `slice` series; of the series `only` when given (the others
// stay 0).
std::vector<uint8_t> input_traits(const Dataset& header, const ValueSource& values, size_t slice,
                                  const std::vector<uint32_t>* only = nullptr);
// Host bytes one series of T points costs in a batch (values, scores, the run's temporaries); the
// events mechanism's arrays only with a schedule.
size_t batch_bytes_per_series(size_t T, const Config& config, bool with_scores_output, bool with_schedule = true);

struct RunResult {
  Scores scores;                  // kept with BatchOptions::keep_scores only
  std::vector<Episode> episodes;
  std::vector<Alarm> alarms;
  std::vector<Notice> notices;    // external-event notices (suppressed, in the ledger)
  size_t score_from = 0;          // grid index
  size_t short_history = 0;       // series with data but never enough history to be scored
  size_t empty_series = 0;        // series without a single valid point
  size_t young_points = 0;        // points scored while their series' model was still learning
  size_t batches = 0, largest_batch = 0;  // series in the largest batch
  size_t event_occurrences = 0;   // series-occurrences of scheduled events applied
  size_t read_sets = 0;           // reads of the input's values (a cube: once per set of batches)
  size_t workers = 1;             // batches scored at once
  size_t memory_budget = 0;       // BatchOptions::memory_budget
  // Time per stage: summed over batches, divided by the batches scored at once (so on the CPU
  // each is its share of the wall time, as when one batch used every thread).
  double read_seconds = 0;        // gathering a batch's values (disk or memory)
  double forecast_seconds = 0, event_seconds = 0, peer_seconds = 0, evidence_seconds = 0;
  double decide_seconds = 0;      // episodes, evidence, decisions (host)
  double seconds_total = 0;
};

// `schedule` may be null (no --events). `header`: the keys, grid and roles (its values are not
// read); `values`: where the batches' values come from.
RunResult run_scoring(const Dataset& header, const ValueSource& values, const Config& config, Backend& backend,
                      size_t score_from, const EventSchedule* schedule, const BatchOptions& batching);
// Everything in one batch from a Dataset in memory, scores kept.
RunResult run_scoring(const Dataset& data, const Config& config, Backend& backend, size_t score_from,
                      const EventSchedule* schedule = nullptr);

// A readable summary: counts, timings, and the alarms (at most `max_alarms` listed).
void print_summary(std::FILE* out, const Dataset& data, const RunResult& run, const Backend& backend,
                   size_t max_alarms);

}  // namespace vigil
