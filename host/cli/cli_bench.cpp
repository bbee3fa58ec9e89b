// `vigil bench`: throughput of the scoring pipeline, stage by stage, against the memory roofline
// measured in the same run; the backends side by side on the same data; and the forecast stage
// against its NumPy peer (bench/numpy_peer.py) on a subset.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <numeric>
#include <string>

#include "cli/cli.hpp"
#include "cli/cli_bench_mpi.hpp"
#include "cli/cli_common.hpp"
#include "cxxopts.hpp"
#include "dist/dist.hpp"
#include "vigil/tools/numpy_peer.hpp"
#include "vigil/tools/process_usage.hpp"
#include "io/progress.hpp"
#include "vigil/atomic_file.hpp"
#include "vigil/error.hpp"
#include "vigil/events.hpp"
#include "vigil/run.hpp"
#include "vigil/tools/scenario.hpp"
#include "vigil/value_source.hpp"

namespace vigil::cli {
namespace {

using nlohmann::ordered_json;

std::string today_utc() {
  std::time_t now = std::time(nullptr);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", std::gmtime(&now));
  return buf;
}

// Peak resident memory since the last reset_peak_rss() (VmHWM), in MB; the process's peak where
// the kernel cannot reset it.
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// So the peak belongs to the scoring run, not to the bandwidth probe's buffers before it.
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

// The fewest bytes each stage must move per point: inputs read once, outputs written once
// (per-series state in registers or cache).
struct StageBytes {
  double read;      // values read (4) for the transform's traits; a gathered batch copies them (+8)
  double forecast;  // the value in; forecast, z, z_derivative and z_volatility out
  double peers;     // z in; breadth and correlation out
  double evidence;  // value, z, forecast (and 3 earlier days' forecasts, cached) in; z, local, calibrated,
                    // accumulated and baseline out
  double decide;    // z scanned for episodes and for series never scored
};
StageBytes stage_bytes(bool gathered) { return {gathered ? 12.0 : 4.0, 20.0, 12.0, 32.0, 8.0}; }

// What only a device backend has (nothing for the CPU, so its bench is unchanged): the copies of
// its device-resident batches (bytes and time, from CUDA events), the roofline of the run as the
// time its bytes take at the measured device-to-device and host-to-device rates, and the
// occupancy of its kernels.
void device_report(Backend& backend, const BatchStageTimes& before, double n_points, double total_s, double copy_gbs,
                   double h2d_gbs, ordered_json& j) {
  const BatchStageTimes after = backend.batch_totals();
  const std::vector<KernelOccupancy> occupancy = backend.occupancy();
  if (!after.resident && occupancy.empty()) return;
  const double up_bytes = static_cast<double>(after.upload_bytes - before.upload_bytes);
  const double down_bytes = static_cast<double>(after.download_bytes - before.download_bytes);
  const double up_s = after.upload - before.upload, down_s = after.download - before.download;
  const double device_s = (after.forecast - before.forecast) + (after.peers - before.peers) +
                          (after.evidence - before.evidence);
  // The fewest bytes the fused stages must move in device memory: the value in, then forecast,
  // z, derivative and volatility out, z in and breadth and correlation out, the evidence's reads
  // and writes (the bench's own StageBytes, without the host-side read and decide).
  const StageBytes per_point = stage_bytes(false);
  const double device_bytes = n_points * (per_point.forecast + per_point.peers + per_point.evidence);
  ordered_json d;
  d["resident_batches"] = after.resident;
  d["device_seconds"] = device_s;
  d["device_bandwidth_gbs"] = device_s > 0 ? device_bytes / device_s / 1e9 : 0;
  d["device_roofline_fraction"] = device_s > 0 && copy_gbs > 0 ? device_bytes / device_s / 1e9 / copy_gbs : 0;
  d["upload_bytes"] = up_bytes;
  d["upload_seconds"] = up_s;
  d["download_bytes"] = down_bytes;
  d["download_seconds"] = down_s;
  // The end-to-end bound from host memory: the values' one copy up at the measured pinned rate.
  const double one_copy_s = h2d_gbs > 0 ? n_points * sizeof(float) / (h2d_gbs * 1e9) : 0;
  d["one_values_copy_seconds"] = one_copy_s;
  d["end_to_end_over_one_copy"] = one_copy_s > 0 ? total_s / one_copy_s : 0;
  ordered_json kernels = ordered_json::array();
  for (const KernelOccupancy& k : occupancy)
    kernels.push_back({{"kernel", k.kernel},
                       {"threads_per_block", k.threads_per_block},
                       {"registers", k.registers},
                       {"blocks_per_sm", k.blocks_per_sm},
                       {"occupancy", k.occupancy}});
  d["occupancy"] = kernels;
  j["device_report"] = d;
  std::printf("  device: stages %.3f s (%.1f GB/s, %.1f%% of device copy); up %.3g GB in %.3f s, down %.3g GB in %.3f s;"
              " end to end %.2fx one copy of the values up\n",
              device_s, d["device_bandwidth_gbs"].get<double>(), 100.0 * d["device_roofline_fraction"].get<double>(),
              up_bytes / 1e9, up_s, down_bytes / 1e9, down_s, d["end_to_end_over_one_copy"].get<double>());
  for (const KernelOccupancy& k : occupancy)
    std::printf("  occupancy %-14s %3d threads/block, %3d registers, %2d blocks/SM, %5.1f%%\n", k.kernel.c_str(),
                k.threads_per_block, k.registers, k.blocks_per_sm, 100.0 * k.occupancy);
}

// One backend over the data: the stages of run_scoring, with bytes and the roofline.
ordered_json bench_backend(Backend& backend, const Dataset& header, const ValueSource& values,
                           const EventSchedule* schedule, const BatchOptions& batching, bool from_disk) {
  const double n_points = static_cast<double>(header.N()) * static_cast<double>(header.T);
  std::fprintf(stderr, "bench: %zu series x %zu points on %s [%s]\n", header.N(), header.T, backend.name().c_str(),
               backend.device().c_str());
  const double copy_gbs = backend.copy_bandwidth_gbs();
  const double h2d_gbs = backend.host_to_device_gbs();
  Config config;
  reset_peak_rss();
  const BatchStageTimes copies_before = backend.batch_totals();
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult run = run_scoring(header, values, config, backend, 0, schedule, batching);
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const StageBytes per_point = stage_bytes(from_disk || run.batches > 1);

  ordered_json j;
  j["backend"] = backend.name();
  j["device"] = backend.device();
  j["series"] = header.N();
  j["points"] = header.T;
  j["batches"] = run.batches;
  j["largest_batch"] = run.largest_batch;
  j["seconds"] = total_s;
  j["points_per_second"] = n_points / total_s;
  const double bytes =
      n_points * (per_point.read + per_point.forecast + per_point.peers + per_point.evidence + per_point.decide);
  j["bytes_moved"] = bytes;
  j["bandwidth_gbs"] = bytes / total_s / 1e9;
  j["roofline_gbs"] = copy_gbs;
  j["roofline_fraction"] = bytes / total_s / 1e9 / copy_gbs;
  if (h2d_gbs > 0) j["host_to_device_gbs"] = h2d_gbs;
  auto stage = [&](double seconds, double bytes_per_point) {
    ordered_json o{{"seconds", seconds}, {"points_per_second", n_points / seconds}};
    if (bytes_per_point > 0) {
      const double b = bytes_per_point * n_points;
      o["bytes_moved"] = b;
      o["bandwidth_gbs"] = b / seconds / 1e9;
      o["roofline_fraction"] = b / seconds / 1e9 / copy_gbs;
    }
    return o;
  };
  const double other_s = total_s - run.read_seconds - run.forecast_seconds - run.event_seconds -
                         run.peer_seconds - run.evidence_seconds - run.decide_seconds;
  j["stages"]["read"] = stage(run.read_seconds, per_point.read);
  j["stages"]["events_first_pass"] = stage(run.event_seconds, 0);
  j["stages"]["events_first_pass"]["series_occurrences"] = run.event_occurrences;
  j["stages"]["forecast"] = stage(run.forecast_seconds, per_point.forecast);
  j["stages"]["peers"] = stage(run.peer_seconds, per_point.peers);
  j["stages"]["evidence"] = stage(run.evidence_seconds, per_point.evidence);
  j["stages"]["episodes_decisions_alarms"] = stage(run.decide_seconds, per_point.decide);
  j["stages"]["other"] = stage(other_s, 0);  // allocation, per-series rules, events plan
  // A resident CUDA batch times its stages on the device (copies apart, in device_report).
  j["stages_include_host_transfers"] = backend.name() == "cuda" && !backend.batch_totals().resident;
  j["alarms"] = run.alarms.size();
  const double rss = peak_rss_mb();
  j["peak_rss_mb"] = rss;

  std::printf("%s [%s]: %zu series x %zu points, %zu batch(es) of up to %zu series\n", backend.name().c_str(),
              backend.device().c_str(), header.N(), header.T, run.batches, run.largest_batch);
  std::printf("  %-26s %9s %12s %9s %9s\n", "stage", "seconds", "points/s", "GB/s", "roofline");
  auto row = [&](const char* name, double seconds, double bytes_per_point) {
    std::printf("  %-26s %9.3f %12.3g", name, seconds, n_points / seconds);
    if (bytes_per_point > 0) {
      const double gbs = bytes_per_point * n_points / seconds / 1e9;
      std::printf(" %9.2f %8.1f%%", gbs, 100.0 * gbs / copy_gbs);
    }
    std::printf("\n");
  };
  row("read", run.read_seconds, per_point.read);
  row("events (first pass)", run.event_seconds, 0);
  row("forecast", run.forecast_seconds, per_point.forecast);
  row("peer groups", run.peer_seconds, per_point.peers);
  row("evidence", run.evidence_seconds, per_point.evidence);
  row("episodes+decisions+alarms", run.decide_seconds, per_point.decide);
  row("other", other_s, 0);
  row("end to end", total_s,
      per_point.read + per_point.forecast + per_point.peers + per_point.evidence + per_point.decide);
  std::printf("  roofline: %.1f GB/s measured copy bandwidth (read + write)", copy_gbs);
  if (h2d_gbs > 0) std::printf("; host-to-device copy (pinned) %.1f GB/s", h2d_gbs);
  std::printf("; peak RSS of the run %.0f MB\n", rss);
  device_report(backend, copies_before, n_points, total_s, copy_gbs, h2d_gbs, j);
  return j;
}

// The forecast stage alone on the first `series` series, vigil on one CPU thread against the
// NumPy peer (one thread), with the peer's z checked against vigil's.
ordered_json bench_peer(const Dataset& header, const ValueSource& values, size_t series) {
  const size_t n = std::min(series, header.N()), T = header.T;
  std::vector<uint32_t> columns(n);
  std::iota(columns.begin(), columns.end(), 0u);
  std::vector<float> subset(T * n);
  values.gather(columns.data(), n, subset.data());
  std::vector<uint8_t> traits(n, 0);
  accumulate_traits(subset.data(), T, n, n, traits.data());
  Keys keys;  // of the first n series only: no copy of every series' codes
  keys.dims = header.keys.dims;
  keys.dictionary = header.keys.dictionary;
  keys.codes.assign(header.keys.codes.begin(), header.keys.codes.begin() + n * keys.num_dims());
  if (keys.num_dims() == 0) keys.series_without_dims = n;
  Config config;
  const SeriesRules rules = derive_series_rules(keys, traits, config);
  const ForecastParams params = make_forecast_params(config.forecast, header.start, header.step, T);

  auto one_thread = make_cpu_backend(1);
  std::vector<float> forecast(T * n), z(T * n), derivative(T * n), volatility(T * n);
  const ForecastInput in{subset.data(), rules.transform.data(), T, n};
  const ForecastOutput out{forecast.data(), z.data(), nullptr, derivative.data(), volatility.data()};
  double vigil_s = 1e300;
  for (int rep = 0; rep < 3; ++rep) {  // best of three, as timings on a shared machine vary
    const auto t0 = std::chrono::steady_clock::now();
    one_thread->forecast(params, in, out);
    vigil_s = std::min(vigil_s, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  const double points = static_cast<double>(n) * static_cast<double>(T);
  ordered_json j;
  j["series"] = n;
  j["points"] = T;
  j["vigil_cpu_1thread_points_per_second"] = points / vigil_s;
  std::string why;
  const auto peer = run_numpy_peer(params, subset.data(), rules.transform.data(), T, n, z.data(), &why);
  if (!peer) {
    j["skipped"] = why;
    std::printf("NumPy peer skipped: %s\n", why.c_str());
    return j;
  }
  if (peer->z_agreement && peer->z_agreement->compared == 0) {
    // Every point in the learning phase: both sides skip the scoring math, so a ratio would
    // compare little more than the learning updates.
    j["skipped"] = "no point is scored: the series are shorter than the learning phase";
    std::printf("NumPy peer skipped: no point is scored (the series are shorter than the learning phase)\n");
    return j;
  }
  j["numpy_points_per_second"] = peer->points_per_second;
  j["ratio_per_core"] = points / vigil_s / peer->points_per_second;
  j["numpy"] = peer->numpy_version;
  j["pandas"] = peer->pandas_version.empty() ? ordered_json(nullptr) : ordered_json(peer->pandas_version);
  if (peer->z_agreement) {
    const NumpyPeerAgreement& a = *peer->z_agreement;
    j["z_agreement"] = {{"compared", a.compared},
                        {"scored_by_one_only", a.nan_mismatch},
                        {"median_abs_diff", a.median_abs_diff},
                        {"p99_abs_diff", a.p99_abs_diff},
                        {"share_within_0.05", a.share_within_0_05}};
  }
  std::printf("forecast stage, one core, %zu series x %zu points: vigil %.3g points/s, NumPy peer %.3g points/s "
              "(%.1fx)",
              n, T, points / vigil_s, peer->points_per_second, points / vigil_s / peer->points_per_second);
  if (peer->z_agreement)
    std::printf("; z agree: median |dz| %.2g, %.1f%% within 0.05", peer->z_agreement->median_abs_diff,
                100.0 * peer->z_agreement->share_within_0_05);
  std::printf("\n");
  return j;
}

ordered_json usage_json(const ProcessUsage& u, double points) {
  return ordered_json{{"exit_code", u.exit_code},
                      {"wall_seconds", u.wall_seconds},
                      {"user_seconds", u.user_seconds},
                      {"system_seconds", u.system_seconds},
                      {"system_share_of_wall", u.system_seconds / u.wall_seconds},
                      {"minor_page_faults", u.minor_faults},
                      {"major_page_faults", u.major_faults},
                      {"peak_rss_mb", u.peak_rss_mb},
                      {"points_per_second", points / u.wall_seconds}};
}

void print_usage(const char* what, const ProcessUsage& u, double points) {
  std::printf("  %-34s wall %7.3f s  user %7.3f s  sys %6.3f s  %8ld faults  peak RSS %6.0f MB  %.3g points/s%s\n",
              what, u.wall_seconds, u.user_seconds, u.system_seconds, u.minor_faults + u.major_faults, u.peak_rss_mb,
              points / u.wall_seconds, u.exit_code == 0 ? "" : "  (FAILED)");
}

// Whole processes, as /usr/bin/time measures them, on the cube as a user runs it: `vigil score`
// with no mechanism and with all of them, and the NumPy peer's whole process on the same
// values.npy (interpreter start and load included), so the ratio counts everything a user waits for.
ordered_json bench_processes(const std::string& input, const std::string& backend, const Dataset& header,
                             const ValueSource& values, const std::string& events) {
  const double points = static_cast<double>(header.N()) * static_cast<double>(header.T);
  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  std::string scratch = (std::filesystem::temp_directory_path(ec) / "vigil-bench.XXXXXX").string();
  if (ec || !::mkdtemp(scratch.data())) throw std::runtime_error("cannot create a temporary directory");
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code e;
      std::filesystem::remove_all(dir, e);
    }
  } cleanup{scratch};

  ordered_json j;
  std::printf("whole processes on %s (%.3g points):\n", input.c_str(), points);
  std::map<std::string, ProcessUsage> vigil_runs;
  for (const std::string mechanisms : {"none", "all"}) {
    std::vector<std::string> argv = {self,         "score",      "--input", input, "--backend", backend,
                                     "--mechanisms", mechanisms, "--alarms", scratch + "/alarms.jsonl", "--quiet"};
    if (mechanisms == "all" && !events.empty()) {
      argv.push_back("--events");
      argv.push_back(events);
    }
    const ProcessUsage u = run_measured(argv);
    vigil_runs[mechanisms] = u;
    j["vigil_score_" + mechanisms] = usage_json(u, points);
    print_usage(("vigil score --mechanisms " + mechanisms).c_str(), u, points);
  }
  j["all_over_none_speed"] = vigil_runs["none"].wall_seconds / vigil_runs["all"].wall_seconds;

  // The peer's transform codes are vigil's own (the "auto" rule over the whole input).
  Config config;
  const size_t slice = std::max<size_t>(1, (size_t{256} << 20) / (sizeof(float) * std::max<size_t>(1, header.T)));
  const SeriesRules rules = derive_series_rules(header.keys, input_traits(header, values, slice), config);
  const ForecastParams params = make_forecast_params(config.forecast, header.start, header.step, header.T);
  std::string why;
  const auto command = numpy_peer_command(params, rules.transform.data(), header.N(),
                                          (std::filesystem::path(input) / "values.npy").string(),
                                          scratch + "/params.json", &why);
  if (!command) {
    j["numpy_peer"] = {{"skipped", why}};
    std::printf("  NumPy peer skipped: %s\n", why.c_str());
    return j;
  }
  const ProcessUsage peer = run_measured(*command, numpy_peer_environment());
  ordered_json pj = usage_json(peer, points);
  try {
    const auto report = ordered_json::parse(peer.output);
    pj["forecast_stage_seconds"] = report.at("seconds");
    pj["load_and_start_seconds"] = peer.wall_seconds - report.at("seconds").get<double>();
  } catch (const std::exception&) {
    pj["report"] = "unreadable";
  }
  j["numpy_peer"] = pj;
  print_usage("NumPy peer (forecast only, 1 thread)", peer, points);
  if (peer.exit_code == 0) {
    j["vigil_none_over_numpy_peer_whole_process"] = peer.wall_seconds / vigil_runs["none"].wall_seconds;
    j["vigil_all_over_numpy_peer_whole_process"] = peer.wall_seconds / vigil_runs["all"].wall_seconds;
    std::printf("  whole process: vigil (none) %.2fx the NumPy peer's speed, (all) %.2fx; all at %.0f%% of none\n",
                j["vigil_none_over_numpy_peer_whole_process"].get<double>(),
                j["vigil_all_over_numpy_peer_whole_process"].get<double>(), 100.0 * j["all_over_none_speed"].get<double>());
  }
  return j;
}

}  // namespace

int bench(int argc, char** argv) {
  cxxopts::Options opts("vigil bench",
                        "Throughput of the scoring pipeline against the memory roofline, per backend, and of the "
                        "forecast stage against a NumPy peer");
  opts.add_options()
    ("series", "generated series (rounded to a whole metric x stack x device x region cube)",
     cxxopts::value<size_t>()->default_value("100000"))
    ("points", "generated points per series (5-minute steps)", cxxopts::value<size_t>()->default_value("2016"))
    ("input", "score this cube directory (read from disk in batches) instead of generated data",
     cxxopts::value<std::string>())
    ("events", "event schedule for --input (default: its events.csv when present)", cxxopts::value<std::string>())
    ("backend", "auto, cpu, cuda, or all (every backend here, on the same data)",
     cxxopts::value<std::string>()->default_value("auto"))
    ("memory", "host memory for the values read and the batches' scores, in MiB",
     cxxopts::value<size_t>()->default_value("512"))
    ("batch-series", "series per batch (0: the backend's own size, within --memory)",
     cxxopts::value<size_t>()->default_value("0"))
    ("peer-series", "series of the NumPy peer comparison (0: skip it)", cxxopts::value<size_t>()->default_value("20000"))
    ("processes", "with --input: also time whole `vigil score` processes (mechanisms none and all) and the NumPy "
     "peer's whole process on the cube (true/false)", cxxopts::value<bool>()->default_value("true"))
    ("json", "write the results here", cxxopts::value<std::string>())
    ("seed", "generator seed", cxxopts::value<uint64_t>()->default_value("1"))
    ("q,quiet", "no progress line")
    ("h,help", "this help");
  const auto parsed = parse_options(opts, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::string which = args["backend"].as<std::string>();
  std::vector<std::unique_ptr<Backend>> backends;
  if (which == "all") {
    if (cuda_device_count() > 0) backends.push_back(make_backend("cuda"));
    backends.push_back(make_cpu_backend());
  } else {
    backends.push_back(make_backend(which));
  }

  // The data: a cube on disk, streamed; or a generated scenario in memory.
  Scenario scenario;
  OpenedCube cube;
  std::unique_ptr<ValueSource> values;
  EventSchedule schedule;
  bool have_schedule = false;
  std::string events_path;
  const auto t0 = std::chrono::steady_clock::now();
  std::string input = "generated";
  if (args.count("input")) {
    input = args["input"].as<std::string>();
    cube = open_cube(input, IngestOptions{});
    resolve_roles(cube.header, false, false);
    values = std::move(cube.values);
    std::string events = args.count("events") ? args["events"].as<std::string>()
                                              : (std::filesystem::path(input) / "events.csv").string();
    std::error_code ec;
    if (args.count("events") || std::filesystem::exists(events, ec)) {
      events_path = events;
      schedule = read_events(events);
      validate_events(schedule, cube.header);
      have_schedule = true;
    }
  } else {
    const size_t want_series = args["series"].as<size_t>(), points = args["points"].as<size_t>();
    if (want_series == 0 || points < 2) throw InputError("--series must be >= 1 and --points >= 2");
    GenerateOptions g;
    g.shape = {{"metric", 4}, {"stack", 4}, {"device", 8},
               {"region", static_cast<int>(std::max<size_t>(1, (want_series + 127) / 128))}};
    if (want_series < 128)
      g.shape = {{"metric", 1}, {"stack", 1}, {"device", 1}, {"region", static_cast<int>(want_series)}};
    g.step = 300;
    g.days = static_cast<int>((points * 300 + 86399) / 86400);
    g.seed = args["seed"].as<uint64_t>();
    scenario = generate_scenario(g);
    if (scenario.data.T > points) {  // keep the first `points` steps
      scenario.data.T = points;
      scenario.data.values.resize(points * scenario.data.N());
    }
    // The scenario's own schedule drives the events mechanism, as `vigil score --events` would.
    schedule = parse_events(scenario.events_csv, "generated events.csv");
    have_schedule = true;
    values = memory_source(scenario.data);
  }
  const double prepare_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const Dataset& header = args.count("input") ? cube.header : scenario.data;
  if (dist::distributed()) {  // under mpirun: the run shared between the ranks (cli_bench_mpi.cpp)
    std::string command = "vigil bench";
    for (int k = 1; k < argc; ++k) command += std::string(" ") + argv[k];
    return bench_distributed(header, *values, have_schedule ? &schedule : nullptr, *backends.front(),
                             args["batch-series"].as<size_t>(), args.count("json") ? args["json"].as<std::string>() : "",
                             command);
  }

  BatchOptions batching;
  batching.max_series = args["batch-series"].as<size_t>();
  batching.memory_budget = std::max<size_t>(16, args["memory"].as<size_t>()) << 20;
  Progress progress(Progress::wanted(args.count("quiet") > 0), header.T);
  batching.on_progress = [&](size_t done, size_t total) { progress.update(done, total); };

  ordered_json j;
  for (size_t b = 0; b < backends.size(); ++b) {
    ordered_json r = bench_backend(*backends[b], header, *values, have_schedule ? &schedule : nullptr, batching,
                                   args.count("input") > 0);
    if (b == 0) {
      j["date"] = today_utc();
      for (auto& [key, value] : r.items()) j[key] = value;
      j["input"] = input;
      j["prepare_seconds"] = prepare_s;  // generating or opening the data, outside the timings
    } else {
      j["other_backends"][backends[b]->name()] = r;
    }
  }
  if (backends.size() > 1) {
    const double first = j["points_per_second"], other = j["other_backends"].begin().value()["points_per_second"];
    std::printf("%s / %s end to end: %.1fx\n", backends[0]->name().c_str(), backends[1]->name().c_str(), first / other);
  }
  if (const size_t peer_series = args["peer-series"].as<size_t>()) j["numpy_peer"] = bench_peer(header, *values, peer_series);
  if (args.count("input") && args["processes"].as<bool>())
    j["whole_process"] = bench_processes(input, backends[0]->name(), header, *values, have_schedule ? events_path : "");

  std::string command = "vigil bench";
  for (int k = 1; k < argc; ++k) command += std::string(" ") + argv[k];
  j["command"] = command;
  if (args.count("json")) write_file_atomically(args["json"].as<std::string>(), j.dump(2) + "\n");
  return 0;
}

}  // namespace vigil::cli
