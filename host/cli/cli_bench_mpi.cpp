// `vigil bench` under mpirun: the run shared between the ranks as `vigil score` shares it, with
// each rank's time, the imbalance between ranks and the cost of gathering the episodes to rank 0.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cli/cli_bench_mpi.hpp"
#include "dist/dist.hpp"
#include "vigil/atomic_file.hpp"

namespace vigil::cli {

int bench_distributed(const Dataset& header, const ValueSource& values, const EventSchedule* schedule,
                      Backend& backend, size_t batch_series, const std::string& json_path, const std::string& command) {
  using SteadyClock = std::chrono::steady_clock;
  const Config config;
  BatchOptions batching;
  batching.max_series = batch_series;
  dist::RankTimes times;
  dist::checkpoint();  // every rank has its data: start together
  const auto t0 = SteadyClock::now();
  dist::distribute_run(header, config, schedule, batching, &times);
  const RunResult run = run_scoring(header, values, config, backend, 0, schedule, batching);
  const double total_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  dist::checkpoint();
  if (!dist::is_root()) return 0;

  const size_t K = times.score_seconds.size(), T = header.T;
  const double job_points = static_cast<double>(header.N()) * static_cast<double>(T);
  const double mean_s = std::accumulate(times.score_seconds.begin(), times.score_seconds.end(), 0.0) / K;
  const double slowest_s = *std::max_element(times.score_seconds.begin(), times.score_seconds.end());
  size_t gathered = 0;
  for (size_t b : times.sent_bytes) gathered += b;

  nlohmann::ordered_json j;
  char date[16];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%d", std::gmtime(&now));
  j["date"] = date;
  j["backend"] = backend.name();
  j["device"] = backend.device();
  j["ranks"] = K;
  j["series"] = header.N();
  j["points"] = T;
  std::printf("distributed bench: %zu ranks, %zu series x %zu points, %s [%s] on each\n", K, header.N(), T,
              backend.name().c_str(), backend.device().c_str());
  std::printf("  %4s %10s %9s %12s\n", "rank", "series", "seconds", "points/s");
  for (size_t r = 0; r < K; ++r) {
    const double points = static_cast<double>(times.series[r]) * static_cast<double>(T);
    const double rate = times.score_seconds[r] > 0 ? points / times.score_seconds[r] : 0.0;
    std::printf("  %4zu %10zu %9.3f %12.3g\n", r, times.series[r], times.score_seconds[r], rate);
    j["per_rank"].push_back({{"rank", r},
                             {"series", times.series[r]},
                             {"seconds", times.score_seconds[r]},
                             {"points_per_second", rate},
                             {"sent_bytes", times.sent_bytes[r]}});
  }
  const double imbalance = mean_s > 0 ? slowest_s / mean_s : 1.0;
  std::printf("  imbalance: slowest rank %.3f s / mean %.3f s = %.2f\n", slowest_s, mean_s, imbalance);
  std::printf("  gather to rank 0: %.4f s for %zu episodes in %zu bytes (rank 0 waited %.3f s for the slowest)\n",
              times.gather_seconds, run.episodes.size(), gathered, times.wait_seconds);
  // What rank 0 does alone once every episode is in: sort, notices, lattice grouping (Amdahl's
  // serial part of the job).
  const double tail_s =
      std::max(0.0, total_s - times.score_seconds[0] - times.wait_seconds - times.gather_seconds);
  std::printf("  rank 0 after the gather (sort, notices, alarms, freeing its buffers): %.4f s\n", tail_s);
  std::printf("  end to end (rank 0, with notices and alarms): %.3f s, %.3g points/s for the job; %zu alarms\n",
              total_s, job_points / total_s, run.alarms.size());
  j["imbalance"] = imbalance;
  j["slowest_rank_seconds"] = slowest_s;
  j["mean_rank_seconds"] = mean_s;
  j["gather"] = {{"seconds", times.gather_seconds},
                 {"bytes", gathered},
                 {"episodes", run.episodes.size()},
                 {"rank0_wait_seconds", times.wait_seconds}};
  j["rank0_after_gather_seconds"] = tail_s;
  j["seconds"] = total_s;
  j["points_per_second"] = job_points / total_s;
  j["alarms"] = run.alarms.size();
  j["command"] = "mpirun -np " + std::to_string(K) + " " + command;
  if (!json_path.empty()) write_file_atomically(json_path, j.dump(2) + "\n");
  return 0;
}

}  // namespace vigil::cli
