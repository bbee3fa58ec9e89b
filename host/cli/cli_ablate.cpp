// `vigil ablate`: what each suppression mechanism buys and costs. Scores one cube under every
// --mechanisms setting (none, each mechanism alone, all) and evaluates each against the truth.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "cli/cli_common.hpp"
#include "cxxopts.hpp"
#include "vigil/error.hpp"
#include "vigil/events.hpp"
#include "vigil/ingest.hpp"
#include "vigil/run.hpp"
#include "vigil/tools/scenario.hpp"

namespace vigil::cli {
namespace {

// The settings of the table, in order: the baseline, each mechanism alone, all of them.
const char* const kSettings[] = {"none", "events", "ensemble", "cross-stack", "all"};

std::string with_default(const cxxopts::ParseResult& args, const char* key, const std::string& fallback) {
  return args.count(key) ? args[key].as<std::string>() : fallback;
}

}  // namespace

int ablate(int argc, char** argv) {
  cxxopts::Options opts("vigil ablate", "Score a generated cube under each --mechanisms setting and compare");
  opts.add_options()
    ("input", "cube directory or CSV (a `vigil generate` output directory)", cxxopts::value<std::string>())
    ("truth", "truth file (default: INPUT/truth.jsonl)", cxxopts::value<std::string>())
    ("events", "event schedule (default: INPUT/events.csv when present)", cxxopts::value<std::string>())
    ("config", "config (default: INPUT/config.json when present)", cxxopts::value<std::string>())
    ("backend", "auto, cpu or cuda", cxxopts::value<std::string>()->default_value("auto"))
    ("h,help", "this help");
  const auto parsed = parse_options(opts, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  if (!args.count("input")) throw InputError("--input is required (a `vigil generate` output directory)");
  const std::string input = args["input"].as<std::string>();
  const std::string dir = std::filesystem::is_directory(input) ? input : std::filesystem::path(input).parent_path().string();
  const auto present = [&](const std::string& f) { return std::filesystem::exists(dir + "/" + f) ? dir + "/" + f : ""; };
  const std::string truth_path = with_default(args, "truth", dir + "/truth.jsonl");
  const std::string events_path = with_default(args, "events", present("events.csv"));
  const std::string config_path = with_default(args, "config", present("config.json"));

  auto backend = make_backend(args["backend"].as<std::string>());
  const auto truth = read_truth(truth_path);
  const Config config = config_path.empty() ? Config{} : read_config(config_path);
  Dataset data = read_input(input, IngestOptions{});
  resolve_roles(data, false, false);
  EventSchedule schedule;
  if (!events_path.empty()) {
    schedule = read_events(events_path);
    validate_events(schedule, data);
  }

  std::printf("%zu series x %zu points; truth %s\n\n", data.N(), data.T, truth_path.c_str());
  std::printf("%-12s %7s %6s %6s %8s %6s %6s %6s %7s %8s %8s\n", "mechanisms", "alarms", "false", "antic", "ext_low",
              "ext_hi", "none", "recall", "removed", "recall", "alarms/");
  std::printf("%-12s %7s %6s %6s %8s %6s %6s %6s %7s %8s %8s\n", "", "", "", "", "", "", "", "", "vs none", "cost",
              "incident");
  // Each setting's alarms go through the same file format that `vigil eval` reads.
  struct Scratch {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("vigil-ablate-" + std::to_string(::getpid()));
    Scratch() { std::filesystem::create_directories(path); }
    ~Scratch() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } scratch_dir;
  const auto& scratch = scratch_dir.path;
  EvalResult baseline;
  for (const char* setting : kSettings) {
    Config run_config = config;
    run_config.mechanisms = parse_mechanisms(setting);
    RunResult run = run_scoring(data, run_config, *backend, 0, events_path.empty() ? nullptr : &schedule);
    const std::string alarms_path = (scratch / (std::string(setting) + ".jsonl")).string();
    write_alarms(alarms_path, data, run.alarms, run.episodes, config.detection.max_series_listed);
    const EvalResult r = evaluate(truth, read_alarms(alarms_path));
    if (std::string(setting) == "none") baseline = r;
    auto kind = [&](const char* k) { auto it = r.false_alarms_by_kind.find(k); return it == r.false_alarms_by_kind.end() ? 0 : it->second; };
    std::printf("%-12s %7d %6d %6d %8d %6d %6d %6.3f %7d %8.3f %8.1f\n", setting, r.alarms, r.false_alarms,
                kind("anticipated"), kind("external_low"), kind("external_high"), kind("none"), r.recall,
                baseline.false_alarms - r.false_alarms, baseline.recall - r.recall, r.alarms_per_incident_median);
  }
  return 0;
}

}  // namespace vigil::cli
