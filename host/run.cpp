#include "vigil/run.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "vigil/timeutil.hpp"

namespace vigil {

RunResult run_scoring(const Dataset& data, const Config& config, Backend& backend, size_t score_from,
                      const EventSchedule* schedule) {
  const auto t0 = std::chrono::steady_clock::now();
  RunResult r;
  r.score_from = score_from;
  r.scores = score_dataset(data, config, backend, schedule);
  const size_t N = data.N(), T = data.T;
  // A series counts as too short when it has data but not a single scored point to alarm on.
  std::vector<uint8_t> any_scored(N, 0);
  constexpr size_t kBlock = 4096;  // series per task; rows of a block stay contiguous
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i0 = 0; i0 < N; i0 += kBlock) {
    const size_t i1 = std::min(N, i0 + kBlock);
    for (size_t t = score_from; t < T; ++t)
      for (size_t i = i0; i < i1; ++i) any_scored[i] |= !std::isnan(r.scores.z[t * N + i]);
  }
  for (size_t i = 0; i < N; ++i) {
    r.empty_series += !r.scores.has_data[i];
    r.short_history += r.scores.has_data[i] && !any_scored[i];
  }
  r.episodes = find_episodes(data, r.scores, config, score_from);
  r.notices = decide(data, r.scores, config, score_from, r.episodes);
  r.alarms = group_alarms(data, r.episodes, config);
  r.seconds_total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
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
  std::fprintf(out, "forecast stage %.3f s (%.3g points/s), whole run %.3f s\n", run.scores.seconds,
               run.scores.seconds > 0 ? points / run.scores.seconds : 0.0, run.seconds_total);
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
