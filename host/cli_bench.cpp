// `vigil bench`: throughput of the scoring pipeline on generated data, against the memory
// roofline measured in the same run.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "cli.hpp"
#include "cxxopts.hpp"
#include "vigil/atomic_file.hpp"
#include "vigil/error.hpp"
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
  auto args = opts.parse(argc, argv);
  if (args.count("help")) {
    std::fputs(opts.help().c_str(), stdout);
    return 0;
  }
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

  Config config;
  t0 = std::chrono::steady_clock::now();
  RunResult run = run_scoring(data, config, *backend, 0);
  const double total_s = seconds_since(t0);
  const double forecast_s = run.scores.seconds;
  // The fewest bytes the forecast stage must move: each value read once, forecast and z written
  // once (the per-series state stays in registers/cache in the ideal).
  const double forecast_bytes = 12.0 * n_points;
  const double bandwidth = forecast_bytes / forecast_s / 1e9;

  nlohmann::ordered_json j;
  j["date"] = today_utc();
  j["backend"] = backend->name();
  j["device"] = backend->device();
  j["series"] = N;
  j["points"] = T;
  j["seconds"] = total_s;
  j["points_per_second"] = n_points / total_s;
  j["bytes_moved"] = forecast_bytes;
  j["bandwidth_gbs"] = bandwidth;
  j["roofline_gbs"] = copy_gbs;
  j["roofline_fraction"] = bandwidth / copy_gbs;
  if (h2d_gbs > 0) j["host_to_device_gbs"] = h2d_gbs;
  j["stages"]["generate"] = {{"seconds", generate_s}, {"points_per_second", n_points / generate_s}};
  j["stages"]["forecast"] = {{"seconds", forecast_s},
                             {"points_per_second", n_points / forecast_s},
                             {"bytes_moved", forecast_bytes},
                             {"bandwidth_gbs", bandwidth},
                             {"roofline_fraction", bandwidth / copy_gbs},
                             {"includes_host_transfers", backend->name() == "cuda"}};
  const double host_s = total_s - forecast_s;
  j["stages"]["episodes_and_alarms"] = {{"seconds", host_s}, {"points_per_second", n_points / host_s}};
  j["alarms"] = run.alarms.size();
  j["command"] = "vigil bench --series " + std::to_string(want_series) + " --points " + std::to_string(points) +
                 " --backend " + args["backend"].as<std::string>();

  std::printf("%-22s %12s %14s\n", "stage", "seconds", "points/s");
  std::printf("%-22s %12.3f %14.3g\n", "generate", generate_s, n_points / generate_s);
  std::printf("%-22s %12.3f %14.3g   %.1f GB/s = %.1f%% of the %.1f GB/s measured copy bandwidth\n",
              "forecast", forecast_s, n_points / forecast_s, bandwidth, 100.0 * bandwidth / copy_gbs, copy_gbs);
  std::printf("%-22s %12.3f %14.3g\n", "episodes + alarms", host_s, n_points / host_s);
  std::printf("%-22s %12.3f %14.3g\n", "end to end (scoring)", total_s, n_points / total_s);
  if (h2d_gbs > 0) std::printf("host-to-device copy (pinned): %.1f GB/s\n", h2d_gbs);
  if (args.count("json")) {
    AtomicFile out(args["json"].as<std::string>());
    out.write(j.dump(2) + "\n");
    out.commit();
  }
  return 0;
}

}  // namespace vigil::cli
