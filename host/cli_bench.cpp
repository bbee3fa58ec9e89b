// `vigil bench`: throughput of the scoring pipeline on generated data, against the memory
// roofline measured in the same run.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "cli.hpp"
#include "cli_common.hpp"
#include "cxxopts.hpp"
#include "vigil/atomic_file.hpp"
#include "vigil/error.hpp"
#include "vigil/events.hpp"
#include "vigil/run.hpp"
#include "vigil/scenario.hpp"

namespace vigil::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string today_utc() {
  std::time_t now = std::time(nullptr);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", std::gmtime(&now));
  return buf;
}

}  // namespace

int bench(int argc, char** argv) {
  cxxopts::Options opts("vigil bench", "Throughput of the scoring pipeline against the memory roofline");
  opts.add_options()
    ("series", "number of series (rounded to a whole metric x stack x device x region cube)",
     cxxopts::value<size_t>()->default_value("100000"))
    ("points", "points per series (5-minute steps)", cxxopts::value<size_t>()->default_value("2016"))
    ("backend", "auto, cpu or cuda", cxxopts::value<std::string>()->default_value("auto"))
    ("json", "write the results here", cxxopts::value<std::string>())
    ("seed", "generator seed", cxxopts::value<uint64_t>()->default_value("1"))
    ("h,help", "this help");
  const auto parsed = parse_options(opts, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const size_t want_series = args["series"].as<size_t>(), points = args["points"].as<size_t>();
  if (want_series == 0 || points < 2) throw InputError("--series must be >= 1 and --points >= 2");
  auto backend = make_backend(args["backend"].as<std::string>());

  GenerateOptions g;
  g.shape = {{"metric", 4}, {"stack", 4}, {"device", 8},
             {"region", static_cast<int>(std::max<size_t>(1, (want_series + 127) / 128))}};
  if (want_series < 128) g.shape = {{"metric", 1}, {"stack", 1}, {"device", 1}, {"region", static_cast<int>(want_series)}};
  g.step = 300;
  g.days = static_cast<int>((points * 300 + 86399) / 86400);
  g.seed = args["seed"].as<uint64_t>();
  auto t0 = std::chrono::steady_clock::now();
  Scenario scenario = generate_scenario(g);
  const double generate_s = seconds_since(t0);
  Dataset& data = scenario.data;
  if (data.T > points) {  // keep the first `points` steps
    data.T = points;
    data.values.resize(points * data.N());
  }
  const size_t N = data.N(), T = data.T;
  const double n_points = static_cast<double>(N) * static_cast<double>(T);

  std::fprintf(stderr, "bench: %zu series x %zu points on %s [%s]\n", N, T, backend->name().c_str(),
               backend->device().c_str());
  const double copy_gbs = backend->copy_bandwidth_gbs();
  const double h2d_gbs = backend->host_to_device_gbs();

  // The scenario's own schedule drives the events mechanism, as `vigil score --events` would.
  const EventSchedule schedule = parse_events(scenario.events_csv, "generated events.csv");
  Config config;
  t0 = std::chrono::steady_clock::now();
  RunResult run = run_scoring(data, config, *backend, 0, &schedule);
  const double total_s = seconds_since(t0);
  const double forecast_s = run.forecast_seconds, peers_s = run.peer_seconds;
  const double events_s = run.event_seconds;
  const double host_s = total_s - forecast_s - peers_s - events_s;  // allocation, episodes, alarms
  // The fewest bytes each stage must move: inputs read once, outputs written once (per-series
  // state in registers or cache). Forecast: the value in; forecast, z, z_derivative and
  // z_volatility out. Peers: z in; breadth and correlation out.
  const double forecast_bytes = 20.0 * n_points, peer_bytes = 12.0 * n_points;
  const double total_bytes = forecast_bytes + peer_bytes;
  const double bandwidth = total_bytes / (forecast_s + peers_s) / 1e9;

  nlohmann::ordered_json j;
  j["date"] = today_utc();
  j["backend"] = backend->name();
  j["device"] = backend->device();
  j["series"] = N;
  j["points"] = T;
  j["seconds"] = total_s;
  j["points_per_second"] = n_points / total_s;
  j["bytes_moved"] = total_bytes;
  j["bandwidth_gbs"] = bandwidth;
  j["roofline_gbs"] = copy_gbs;
  j["roofline_fraction"] = bandwidth / copy_gbs;
  if (h2d_gbs > 0) j["host_to_device_gbs"] = h2d_gbs;
  auto stage = [&](double seconds, double bytes) {
    nlohmann::ordered_json o{{"seconds", seconds}, {"points_per_second", n_points / seconds}};
    if (bytes > 0) {
      o["bytes_moved"] = bytes;
      o["bandwidth_gbs"] = bytes / seconds / 1e9;
      o["roofline_fraction"] = bytes / seconds / 1e9 / copy_gbs;
    }
    return o;
  };
  j["stages"]["generate"] = stage(generate_s, 0);
  j["stages"]["forecast"] = stage(forecast_s, forecast_bytes);
  j["stages"]["events_first_pass"] = stage(events_s, 0);
  j["stages"]["events_first_pass"]["series_occurrences"] = run.event_occurrences;
  j["stages"]["peers"] = stage(peers_s, peer_bytes);
  j["stages"]["host_allocation_episodes_alarms"] = stage(host_s, 0);
  j["stages_include_host_transfers"] = backend->name() == "cuda";
  j["alarms"] = run.alarms.size();
  j["command"] = "vigil bench --series " + std::to_string(want_series) + " --points " + std::to_string(points) +
                 " --backend " + args["backend"].as<std::string>();

  std::printf("%-22s %10s %12s %10s %10s\n", "stage", "seconds", "points/s", "GB/s", "roofline");
  auto row = [&](const char* name, double seconds, double bytes) {
    if (bytes > 0)
      std::printf("%-22s %10.3f %12.3g %10.2f %9.1f%%\n", name, seconds, n_points / seconds, bytes / seconds / 1e9,
                  100.0 * bytes / seconds / 1e9 / copy_gbs);
    else
      std::printf("%-22s %10.3f %12.3g\n", name, seconds, n_points / seconds);
  };
  row("generate", generate_s, 0);
  row("events (first pass)", events_s, 0);
  row("forecast", forecast_s, forecast_bytes);
  row("peer groups", peers_s, peer_bytes);
  row("alloc+episodes+alarms", host_s, 0);
  row("end to end (scoring)", total_s, 0);
  std::printf("roofline: %.1f GB/s measured copy bandwidth (read + write)", copy_gbs);
  if (h2d_gbs > 0) std::printf("; host-to-device copy (pinned) %.1f GB/s", h2d_gbs);
  std::printf("\n");
  if (args.count("json")) write_file_atomically(args["json"].as<std::string>(), j.dump(2) + "\n");
  return 0;
}

}  // namespace vigil::cli
