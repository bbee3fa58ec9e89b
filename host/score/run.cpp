#include "vigil/run.hpp"

#include <omp.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <numeric>
#include <stdexcept>

#include "core/host_buffer.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {

namespace {

using SteadyClock = std::chrono::steady_clock;
double seconds_since(SteadyClock::time_point t0) { return std::chrono::duration<double>(SteadyClock::now() - t0).count(); }

// A batch as a Dataset of its own: the header's keys (same dictionaries, so codes carry over), grid
// and roles, set once per run; fill_batch() then puts one batch's series into it.
Dataset batch_template(const Dataset& header) {
  Dataset b;
  b.keys.dims = header.keys.dims;
  b.keys.dictionary = header.keys.dictionary;
  b.keys.index = header.keys.index;
  b.start = header.start;
  b.step = header.step;
  b.T = header.T;
  b.group_dim = header.group_dim;
  b.stack_dim = header.stack_dim;
  b.source = header.source;
  return b;
}

// The codes of `columns` into `b` (a batch_template; its arrays' memory is reused from the last
// batch).
void fill_codes(const Dataset& header, const std::vector<uint32_t>& columns, Dataset& b) {
  const size_t n = columns.size(), D = header.keys.num_dims();
  b.keys.series_without_dims = D == 0 ? n : 0;
  b.keys.codes.resize(n * D);
  for (size_t k = 0; k < n; ++k)
    for (size_t d = 0; d < D; ++d) b.keys.codes[k * D + d] = header.keys.code(columns[k], d);
}

template <typename V>
std::vector<V> pick(const std::vector<V>& all, const std::vector<uint32_t>& columns) {
  std::vector<V> out(columns.size());
  for (size_t k = 0; k < columns.size(); ++k) out[k] = all[columns[k]];
  return out;
}

SeriesRules rules_of(const SeriesRules& all, const std::vector<uint32_t>& columns) {
  return SeriesRules{pick(all.transform, columns), pick(all.has_data, columns), pick(all.direction, columns),
                     pick(all.threshold, columns),  pick(all.min_volume, columns), pick(all.min_points, columns)};
}

// The process' resident memory now (0 where /proc is not there).
size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long long pages = 0, resident = 0;
  const int got = std::fscanf(f, "%llu %llu", &pages, &resident);
  std::fclose(f);
  return got == 2 ? static_cast<size_t>(resident) * static_cast<size_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

// Consecutive batches of the plan read together: [first, end) whose series hold at most
// `max_series` (at least one batch each).
std::vector<std::pair<size_t, size_t>> plan_read_sets(const std::vector<std::vector<uint32_t>>& plan,
                                                      size_t max_series) {
  std::vector<std::pair<size_t, size_t>> sets;
  size_t filled = 0;
  for (size_t b = 0; b < plan.size(); ++b) {
    if (sets.empty() || (filled > 0 && filled + plan[b].size() > max_series)) {
      sets.emplace_back(b, b);
      filled = 0;
    }
    sets.back().second = b + 1;
    filled += plan[b].size();
  }
  return sets;
}

// One worker's memory, kept from batch to batch: no fresh pages to fault in and zero.
struct BatchWork {
  Dataset data;
  Scores scores;
};

}  // namespace

std::vector<uint8_t> input_traits(const Dataset& header, const ValueSource& values, size_t slice,
                                  const std::vector<uint32_t>* only) {
  const size_t N = header.N(), T = header.T;
  std::vector<uint8_t> traits(N, 0);
  if (const Dataset* all = values.in_memory(); all && !only) {
    accumulate_traits(all->values.data(), T, N, N, traits.data());
    return traits;
  }
  const size_t count = only ? only->size() : N;
  std::vector<uint32_t> columns;
  HostBuffer<float> buffer;  // overwritten by each read: no zero-fill, huge pages
  std::vector<uint8_t> slice_traits;
  for (size_t k0 = 0; k0 < count; k0 += slice) {
    const size_t n = std::min(slice, count - k0);
    columns.resize(n);
    if (only) std::copy_n(only->begin() + k0, n, columns.begin());
    else std::iota(columns.begin(), columns.end(), static_cast<uint32_t>(k0));
    buffer.resize(T * n);
    values.gather(columns.data(), n, buffer.data());
    slice_traits.assign(n, 0);
    accumulate_traits(buffer.data(), T, n, n, slice_traits.data());
    for (size_t k = 0; k < n; ++k) traits[columns[k]] = slice_traits[k];
  }
  return traits;
}

size_t batch_bytes_per_series(size_t T, const Config& config, bool with_scores_output, bool with_schedule) {
  // values; forecast, z, z_derivative, z_volatility; the evidence stage's four; z_base and the first
  // pass of the events (a copy, forecast, z) with events; breadth and correlation with peers; the
  // observed flags and final scores of a scores output.
  size_t per_point = 4 + 16 + 16;
  if (config.mechanisms.events && with_schedule) per_point += 4 + 12;
  if (config.mechanisms.cross_stack) per_point += 8;
  if (with_scores_output) per_point += 5 + 4;  // observed flags and final score; the band's scale
  return per_point * std::max<size_t>(T, 1) + 256;  // + keys, rules, forecast state
}

bool needs_whole_groups(const Config& config, const EventSchedule* schedule) {
  return config.mechanisms.cross_stack || (schedule && config.mechanisms.events);
}

std::vector<std::vector<uint32_t>> plan_batches(const Dataset& header, bool whole_groups, size_t max_series,
                                                const std::vector<uint32_t>* only) {
  if (only) {  // the same plan over the subset, mapped back to input indices
    std::vector<std::vector<uint32_t>> batches;
    if (only->empty()) return batches;
    Dataset subset;
    subset.keys.dims = header.keys.dims;
    subset.keys.dictionary = header.keys.dictionary;
    const size_t D = header.keys.num_dims();
    subset.keys.series_without_dims = D == 0 ? only->size() : 0;
    subset.keys.codes.resize(only->size() * D);
    for (size_t k = 0; k < only->size(); ++k)
      for (size_t d = 0; d < D; ++d) subset.keys.codes[k * D + d] = header.keys.code((*only)[k], d);
    subset.group_dim = header.group_dim;
    batches = plan_batches(subset, whole_groups, max_series);
    for (auto& batch : batches)
      for (uint32_t& i : batch) i = (*only)[i];
    return batches;
  }
  const size_t N = header.N();
  max_series = std::max<size_t>(1, max_series);
  std::vector<std::vector<uint32_t>> batches;
  const int group_dim = header.group_dim.empty() ? -1 : header.keys.dim_index(header.group_dim);
  if (N <= max_series || !whole_groups) {
    for (size_t i0 = 0; i0 < N; i0 += max_series) {
      batches.emplace_back(std::min(max_series, N - i0));
      std::iota(batches.back().begin(), batches.back().end(), static_cast<uint32_t>(i0));
    }
    return batches;
  }
  if (group_dim < 0) {  // one group: everything is compared with everything
    batches.emplace_back(N);
    std::iota(batches.back().begin(), batches.back().end(), 0u);
    return batches;
  }
  // Groups in code order, packed greedily; a group larger than max_series is a batch alone.
  const size_t G = header.keys.dictionary[group_dim].size();
  std::vector<size_t> group_size(G, 0);
  for (size_t i = 0; i < N; ++i) ++group_size[header.keys.code(i, group_dim)];
  std::vector<size_t> batch_of_group(G, 0);
  size_t batch = 0, filled = 0;
  for (size_t g = 0; g < G; ++g) {
    if (group_size[g] == 0) continue;
    if (filled > 0 && filled + group_size[g] > max_series) {
      ++batch;
      filled = 0;
    }
    batch_of_group[g] = batch;
    filled += group_size[g];
  }
  batches.resize(batch + 1);
  for (size_t i = 0; i < N; ++i) batches[batch_of_group[header.keys.code(i, group_dim)]].push_back(static_cast<uint32_t>(i));
  return batches;
}

RunResult run_scoring(const Dataset& header, const ValueSource& values, const Config& config, Backend& backend,
                      size_t score_from, const EventSchedule* schedule, const BatchOptions& batching) {
  const auto t0 = SteadyClock::now();
  RunResult r;
  r.score_from = score_from;
  const size_t N = header.N(), T = header.T;
  const BatchShape shape = backend.batch_shape();
  const size_t workers = std::max(1, shape.concurrent);
  const size_t per_series = batch_bytes_per_series(T, config, bool(batching.on_batch), schedule != nullptr);
  size_t max_series = batching.max_series;
  if (max_series == 0) {
    // Cache-sized where the backend asks for it, and never more than the budget's share.
    const size_t share = batching.memory_budget / (2 * workers);
    max_series = std::max<size_t>(1, (shape.bytes ? std::min(shape.bytes, share) : batching.memory_budget) / per_series);
  }
  // Mechanisms that compare series within a group need the group whole in one batch.
  const bool whole_groups = needs_whole_groups(config, schedule);
  const std::vector<uint32_t>* only = batching.only_series ? &*batching.only_series : nullptr;
  const auto plan = plan_batches(header, whole_groups, max_series, only);
  const size_t total = only ? only->size() : N;
  if (batching.keep_scores && plan.size() > 1)
    throw std::invalid_argument("run_scoring: keep_scores needs one batch");
  r.batches = plan.size();
  for (const auto& columns : plan) r.largest_batch = std::max(r.largest_batch, columns.size());
  const size_t active = std::min(workers, plan.size());
  r.workers = active;
  r.memory_budget = batching.memory_budget;

  // A source on disk is read a set of batches at a time, into what the budget leaves beside the
  // workers' batches and what the process already holds (the program, the keys: its resident
  // memory now), the series' rules and traits (16 bytes a series) and the episodes to come.
  // Reading the keys of millions of series leaves freed heap behind: hand it back first, so that
  // the resident memory counted is what the run holds. When that alone exceeds the budget (the
  // keys of 10 million series), the reads still get half of it: a read per batch would cost more
  // in passes over the file and thread start-ups than the memory it saves.
#ifdef __GLIBC__
  ::malloc_trim(0);
#endif
  const Dataset* in_memory = values.in_memory();
  const size_t scratch = active * r.largest_batch * per_series + resident_bytes() + N * 16 + (size_t{16} << 20);
  const size_t read_budget = std::max(batching.memory_budget > scratch ? batching.memory_budget - scratch : 0,
                                      batching.memory_budget / 2);
  const size_t set_series = std::max(r.largest_batch, read_budget / (sizeof(float) * std::max<size_t>(T, 1)));
  const auto sets = in_memory ? std::vector<std::pair<size_t, size_t>>{{0, plan.size()}} : plan_read_sets(plan, set_series);
  HostBuffer<float> set_values;     // [T][n_set]: the set's batches side by side, in plan order
  std::vector<uint32_t> set_columns;
  std::vector<size_t> set_offset;   // each batch's first column in set_values
  auto read_set = [&](const std::pair<size_t, size_t>& set) {
    set_columns.clear();
    set_offset.clear();
    for (size_t b = set.first; b < set.second; ++b) {
      set_offset.push_back(set_columns.size());
      set_columns.insert(set_columns.end(), plan[b].begin(), plan[b].end());
    }
    set_values.resize(T * set_columns.size());
    values.gather(set_columns.data(), set_columns.size(), set_values.data());
    ++r.read_sets;
  };

  auto tr = SteadyClock::now();
  std::vector<uint8_t> traits;
  if (!in_memory && sets.size() == 1 && !plan.empty()) {
    // One read serves the traits and the scoring (those of this process' series: see only_series).
    read_set(sets[0]);
    std::vector<uint8_t> set_traits(set_columns.size(), 0);
    accumulate_traits(set_values.data(), T, set_columns.size(), set_columns.size(), set_traits.data());
    traits.assign(N, 0);
    for (size_t k = 0; k < set_columns.size(); ++k) traits[set_columns[k]] |= set_traits[k];
  } else {
    traits = input_traits(header, values, std::max<size_t>(1, set_series), only);
  }
  if (batching.merge_traits) batching.merge_traits(traits);
  const SeriesRules rules = derive_series_rules(header.keys, traits, config);
  r.read_seconds += seconds_since(tr);

  // Scores that leave the run need every output of the evidence stage; alarms alone do not.
  const bool every_output = bool(batching.on_batch) || batching.keep_scores;
  std::vector<BatchWork> work(active);
  for (BatchWork& w : work) {
    w.data = batch_template(header);
    w.scores.want_scale = batching.band;
  }
  size_t done = 0;
  // Stage times, summed over the batches (each worker's own).
  double forecast_s = 0, event_s = 0, peer_s = 0, evidence_s = 0, decide_s = 0, gather_s = 0;
  std::exception_ptr failure;
  std::atomic<bool> failed{false};
  for (size_t si = 0; si < sets.size() && !failed; ++si) {
    const auto& set = sets[si];
    if (!in_memory && !(si == 0 && r.read_sets == 1)) {
      tr = SteadyClock::now();
      read_set(set);
      r.read_seconds += seconds_since(tr);
    }
    const size_t set_n = set_columns.size();
    // Each worker takes the next batch; the batches' results are merged in plan order.
#pragma omp parallel for num_threads(static_cast<int>(active)) schedule(dynamic, 1) ordered
    for (size_t b = set.first; b < set.second; ++b) {
      BatchWork& w = work[static_cast<size_t>(omp_get_thread_num())];
      const std::vector<uint32_t>& columns = plan[b];
      const size_t n = columns.size();
      // One batch of an in-memory input is scored in place, without a copy.
      const bool whole = in_memory && n == N;
      std::exception_ptr error;
      std::vector<Episode> episodes;
      size_t young = 0, empty = 0, short_history = 0;
      double gather = 0, decide = 0;
      if (!failed) try {
        const auto tg = SteadyClock::now();
        SeriesRules batch_rules;
        if (!whole) {
          fill_codes(header, columns, w.data);
          w.data.values.resize(T * n);
          if (in_memory) {
            values.gather(columns.data(), n, w.data.values.data());
            w.data.observed.resize(in_memory->observed.empty() ? 0 : T * n);
            if (!w.data.observed.empty()) values.gather_observed(columns.data(), n, w.data.observed.data());
          } else {
            const float* from = set_values.data() + set_offset[b - set.first];
            for (size_t t = 0; t < T; ++t) std::memcpy(w.data.values.data() + t * n, from + t * set_n, n * sizeof(float));
            w.data.observed.clear();
          }
          batch_rules = rules_of(rules, columns);
        }
        const Dataset& data = whole ? *in_memory : w.data;
        gather = seconds_since(tg);
        Scores& scores = w.scores;
        score_dataset_into(data, config, backend, schedule, whole ? &rules : &batch_rules, scores, every_output);

        const auto td = SteadyClock::now();
        // A series counts as too short when it has data but not a single scored point to alarm on.
        // A point is scored by a young model while its series is still learning (Scores::first_value).
        std::vector<uint8_t> any_scored(n, 0);
        const size_t learning = static_cast<size_t>(scores.params.min_history_steps);
        for (size_t t = score_from; t < T; ++t) {
          const float* z = scores.z.data() + t * n;
          for (size_t i = 0; i < n; ++i) {
            const bool scored = !std::isnan(z[i]);
            any_scored[i] |= scored;
            young += scored && t < scores.first_value[i] + learning;
          }
        }
        for (size_t i = 0; i < n; ++i) {
          empty += !scores.has_data[i];
          short_history += scores.has_data[i] && !any_scored[i];
        }
        episodes = find_episodes(data, scores, config, score_from);
        decide_episodes(data, scores, config, score_from, episodes);
        decide = seconds_since(td);
      } catch (...) {
        error = std::current_exception();
      }
#pragma omp ordered
      {
        if (!failed && error) {
          failure = error;
          failed = true;
        }
        if (!failed) try {
          const Scores& scores = w.scores;
          const Dataset& data = whole ? *in_memory : w.data;
          if (batching.on_batch) batching.on_batch(data, scores, episodes);
          forecast_s += scores.seconds;
          event_s += scores.event_seconds;
          peer_s += scores.peer_seconds;
          evidence_s += scores.evidence_seconds;
          decide_s += decide;
          gather_s += gather;
          r.event_occurrences += scores.events.entries.size();
          r.young_points += young;
          r.empty_series += empty;
          r.short_history += short_history;
          for (Episode& e : episodes) {
            e.series = columns[e.series];
            r.episodes.push_back(std::move(e));
          }
          if (batching.keep_scores) r.scores = std::move(w.scores);
          done += n;
          if (batching.on_progress) batching.on_progress(done, total);
        } catch (...) {
          failure = std::current_exception();
          failed = true;
        }
      }
    }
  }
  // What every batch needed is freed before the run's last step (all episodes at once).
  set_values.release();
  work.clear();
  work.shrink_to_fit();
  if (failure) std::rethrow_exception(failure);
  const double share = 1.0 / static_cast<double>(std::max<size_t>(active, 1));
  r.read_seconds += gather_s * share;
  r.forecast_seconds = forecast_s * share;
  r.event_seconds = event_s * share;
  r.peer_seconds = peer_s * share;
  r.evidence_seconds = evidence_s * share;
  r.decide_seconds = decide_s * share;
  if (batching.merge_result) batching.merge_result(r);

  const auto td = SteadyClock::now();
  std::stable_sort(r.episodes.begin(), r.episodes.end(), [](const Episode& a, const Episode& b) {
    return a.first != b.first ? a.first < b.first : a.series < b.series;
  });
  r.notices = collect_notices(header, config, r.episodes);
  r.alarms = group_alarms(header, r.episodes, config);
  r.decide_seconds += seconds_since(td);
  r.seconds_total = seconds_since(t0);
  return r;
}

RunResult run_scoring(const Dataset& data, const Config& config, Backend& backend, size_t score_from,
                      const EventSchedule* schedule) {
  BatchOptions one;
  one.max_series = std::max<size_t>(1, data.N());
  one.keep_scores = true;
  one.band = true;  // the scores are kept to be written
  return run_scoring(data, *memory_source(data), config, backend, score_from, schedule, one);
}

namespace {

std::string scope_text(const Dataset& data, const Alarm& a) {
  if (a.scope.empty()) return data.keys.num_dims() ? "{every series}" : "{the series}";
  std::string s = "{";
  for (size_t k = 0; k < a.scope.size(); ++k) {
    if (k) s += ", ";
    s += data.keys.dims[a.scope[k].first] + "=" + data.keys.dictionary[a.scope[k].first][a.scope[k].second];
  }
  return s + "}";
}

}  // namespace

void print_summary(std::FILE* out, const Dataset& data, const RunResult& run, const Backend& backend,
                   size_t max_alarms) {
  const size_t N = data.N(), T = data.T;
  const double points = static_cast<double>(N) * static_cast<double>(T);
  std::fprintf(out, "scored %zu series x %zu points (step %llds, %s .. %s) on %s [%s]\n", N, T,
               static_cast<long long>(data.step), format_iso(data.start).c_str(),
               format_iso(data.time_at(T ? T - 1 : 0)).c_str(), backend.name().c_str(), backend.device().c_str());
  std::fprintf(out, "forecast stage %.3f s (%.3g points/s), whole run %.3f s", run.forecast_seconds,
               run.forecast_seconds > 0 ? points / run.forecast_seconds : 0.0, run.seconds_total);
  if (run.batches > 1) std::fprintf(out, " in %zu batches of up to %zu series", run.batches, run.largest_batch);
  if (run.workers > 1) std::fprintf(out, ", %zu at a time", run.workers);
  std::fprintf(out, "\n");
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  std::fprintf(out, "peak RSS %.0f MB (memory budget %.0f MiB", static_cast<double>(usage.ru_maxrss) / 1024.0,
               static_cast<double>(run.memory_budget) / (1 << 20));
  if (run.read_sets > 1) std::fprintf(out, ", the input read in %zu sets of batches", run.read_sets);
  std::fprintf(out, ")\n");
  if (run.young_points)
    std::fprintf(out, "%zu points scored by a young model (still learning, with a wider band)\n", run.young_points);
  if (run.short_history || run.empty_series)
    std::fprintf(out, "not alarmed: %zu series with too little history, %zu series without data\n",
                 run.short_history, run.empty_series);
  std::fprintf(out, "%zu candidate episodes -> %zu alarms\n", run.episodes.size(), run.alarms.size());
  for (size_t a = 0; a < run.alarms.size() && a < max_alarms; ++a) {
    const Alarm& al = run.alarms[a];
    std::fprintf(out, "  alarm-%zu  %-8s %-5s %s .. %s  %zu series %s  impact %+.0f%%  peak z %.1f\n", a + 1,
                 al.severity.c_str(), to_string(al.direction), format_iso(data.time_at(al.first)).c_str(),
                 format_iso(data.time_at(al.last) + data.step).c_str(), al.series.size(),
                 scope_text(data, al).c_str(), 100.0 * al.impact, al.peak_z);
  }
  if (run.alarms.size() > max_alarms) std::fprintf(out, "  ... %zu more\n", run.alarms.size() - max_alarms);
}

}  // namespace vigil
