#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "cli/cli_common.hpp"
#include "cli/cli_stack.hpp"
#include "cxxopts.hpp"
#include "dist/dist.hpp"
#include "io/progress.hpp"
#include "vigil/atomic_file.hpp"
#include "vigil/error.hpp"
#include "vigil/final_score.hpp"
#include "vigil/events.hpp"
#include "vigil/ingest.hpp"
#include "vigil/run.hpp"
#include "vigil/timeutil.hpp"
#include "vigil/value_source.hpp"

namespace vigil::cli {

int score(int argc, char** argv) {
  cxxopts::Options opts("vigil score", "Score series and write alarms, the decision ledger and per-point scores");
  opts.add_options()
    ("input", "long CSV file or cube directory", cxxopts::value<std::string>())
    ("events", "event schedule CSV (event,start,end,scope,expected_impact)", cxxopts::value<std::string>())
    ("config", "JSON config (thresholds, per-metric direction/transform, forecast)", cxxopts::value<std::string>())
    ("alarms", "write raised alarms here (JSON Lines)", cxxopts::value<std::string>())
    ("ledger", "write every candidate episode with its decision here (JSON Lines)", cxxopts::value<std::string>())
    ("scores", "write one CSV row per input point here", cxxopts::value<std::string>())
    ("report", "write the triage page here (HTML; needs --alarms, --ledger and --scores)", cxxopts::value<std::string>())
    ("group-dim", "dimension within which series are compared", cxxopts::value<std::string>()->default_value("region"))
    ("stack-dim", "technology-stack dimension", cxxopts::value<std::string>()->default_value("stack"))
    ("score-from", "points before this time only train (ISO-8601 or unix seconds)", cxxopts::value<std::string>())
    ("mechanisms", "all, none, or a list of events,ensemble,cross-stack", cxxopts::value<std::string>()->default_value("all"))
    ("backend", "auto, cpu or cuda", cxxopts::value<std::string>()->default_value("auto"))
    ("threshold", "|z_forecast| that makes a point anomalous (overrides the config)", cxxopts::value<double>())
    ("step", "grid step of a CSV input (e.g. 5m); default: inferred", cxxopts::value<std::string>())
    ("duplicates", "duplicate CSV points: error, last or sum", cxxopts::value<std::string>()->default_value("error"))
    ("off-grid", "a CSV timestamp between grid points: error, or snap to the nearest one "
                 "(irregular sampling; two rows on one point then follow --duplicates)",
     cxxopts::value<std::string>()->default_value("error"))
    ("memory", "host memory for the values read and the batches' scores, in MiB: the run's peak stays near it",
     cxxopts::value<size_t>()->default_value("512"))
    ("batch-series", "series per batch (whole groups; 0: the backend's own size, within --memory)",
     cxxopts::value<size_t>()->default_value("0"))
    ("max-listed", "alarms listed in the summary", cxxopts::value<size_t>()->default_value("20"))
    ("print-config", "print the effective settings (defaults, --config, flags) as JSON and exit")
    ("q,quiet", "print nothing on success (no summary, no progress)")
    ("h,help", "this help");
  add_stack_options(opts);  // --prometheus, --alertmanager, --scores-format (cli_stack.cpp)
  const auto parsed = parse_options(opts, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const Mechanisms mechanisms = parse_mechanisms(args["mechanisms"].as<std::string>());
  Config config = args.count("config") ? read_config(args["config"].as<std::string>()) : Config{};
  config.mechanisms = mechanisms;
  if (args.count("threshold")) {
    const double thr = args["threshold"].as<double>();
    if (!(thr > 0)) throw InputError("--threshold must be positive");
    config.detection.threshold = thr;
  }
  if (args.count("print-config")) {
    if (dist::is_root()) std::fputs(config_json(config).c_str(), stdout);
    return 0;
  }
  const bool from_prometheus = reads_prometheus(args);
  if (!args.count("input") && !from_prometheus)
    throw InputError("--input is required (a long CSV file or a cube directory), or --prometheus URL --query EXPR");
  if (args.count("report") && !(args.count("alarms") && args.count("ledger") && args.count("scores")))
    throw InputError("--report needs --alarms, --ledger and --scores (the page is drawn from them)");
  if (args.count("report") && args["scores-format"].as<std::string>() != "csv")
    throw InputError("--report reads the scores as CSV: use --scores-format csv with it");
  auto backend = make_backend(args["backend"].as<std::string>());

  IngestOptions ingest = ingest_options(args);
  // A cube is read a batch of series at a time, so it may exceed host memory; a CSV is parsed
  // whole (its grid is only known once every row is read), then batched from memory.
  const std::string input = from_prometheus ? std::string() : args["input"].as<std::string>();
  Dataset csv_data;
  OpenedCube cube;
  std::unique_ptr<ValueSource> values;
  std::error_code ec;
  const bool is_cube = !from_prometheus && std::filesystem::is_directory(input, ec);
  if (is_cube) {
    cube = open_cube(input, ingest);
    values = std::move(cube.values);
  } else if (from_prometheus) {
    csv_data = read_prometheus_input(args, config, ingest);
    values = memory_source(csv_data);
  } else {
    csv_data = read_csv(input, ingest);
    values = memory_source(csv_data);
  }
  Dataset& data = is_cube ? cube.header : csv_data;
  resolve_roles(data, args["group-dim"].count() > 0, args["stack-dim"].count() > 0);
  size_t unused_events = 0;
  EventSchedule schedule;
  if (args.count("events")) {
    schedule = read_events(args["events"].as<std::string>());
    unused_events = validate_events(schedule, data);
  }
  size_t score_from = 0;
  if (args.count("score-from")) score_from = grid_index(data, args["score-from"].as<std::string>(), "--score-from");

  BatchOptions batching;
  batching.max_series = args["batch-series"].as<size_t>();
  if (args["memory"].as<size_t>() < 16) throw InputError("--memory must be at least 16 (MiB)");
  batching.memory_budget = args["memory"].as<size_t>() << 20;
  const EventSchedule* events = args.count("events") ? &schedule : nullptr;
  // Under mpirun each process scores its share of the groups; rank 0 gets every episode and
  // writes the outputs (host/dist). Alone, this does nothing.
  dist::distribute_run(data, config, events, batching);
  std::unique_ptr<ScoresOutput> scores_out;
  std::unique_ptr<dist::ScoresParts> scores_parts;  // distributed: one part per rank, joined by rank 0
  if (args.count("scores")) {
    if (dist::distributed()) {
      if (args["scores-format"].as<std::string>() != "csv")
        throw InputError("--scores-format openmetrics is not available under mpirun; use csv");
      scores_parts = std::make_unique<dist::ScoresParts>(args["scores"].as<std::string>(), data.keys.dims);
    } else {
      scores_out = std::make_unique<ScoresOutput>(args, data.keys.dims);
    }
    batching.band = true;
    batching.on_batch = [&](const Dataset& batch, const Scores& scores, const std::vector<Episode>& episodes) {
      const std::vector<float> final_score = final_scores(batch, scores, config, &episodes);
      if (scores_parts) scores_parts->append(batch, scores, final_score);
      else scores_out->append(batch, scores, final_score);
    };
  }
  Progress progress(Progress::wanted(args.count("quiet") > 0) && dist::is_root(), data.T);
  batching.on_progress = [&](size_t done, size_t total) { progress.update(done, total); };
  RunResult run = run_scoring(data, *values, config, *backend, score_from, events, batching);
  if (scores_parts) scores_parts->gather();

  // Every output is complete before any is renamed into place, and they are renamed as one.
  std::vector<std::unique_ptr<AtomicFile>> outputs;
  if (args.count("alarms") && dist::is_root())
    outputs.push_back(stage_alarms(args["alarms"].as<std::string>(), data, run.alarms, run.episodes,
                                   config.detection.max_series_listed));
  if (args.count("ledger") && dist::is_root())
    outputs.push_back(stage_ledger(args["ledger"].as<std::string>(), data, run.alarms, run.episodes, run.notices));
  std::vector<AtomicFile*> files;
  for (auto& out : outputs) files.push_back(out.get());
  if (scores_out) files.push_back(&scores_out->file());
  commit_all(files);  // all of them or none
  if (scores_parts) scores_parts->commit();
  dist::checkpoint();  // rank 0's outputs are in place: the other ranks may remove their parts and leave
  if (args.count("report") && dist::is_root()) {
    ReportOptions report;
    report.alarms = args["alarms"].as<std::string>();
    report.ledger = args["ledger"].as<std::string>();
    report.scores = args["scores"].as<std::string>();
    if (args.count("events")) report.events = args["events"].as<std::string>();
    write_run_report(args["report"].as<std::string>(), report, "");
  }

  if (!args.count("quiet") && dist::is_root()) {
    print_summary(stdout, data, run, *backend, args["max-listed"].as<size_t>());
    if (dist::distributed())
      std::printf("distributed over %d processes (MPI ranks), groups balanced by points\n", dist::size());
    size_t suppressed = 0;
    for (const auto& e : run.episodes) suppressed += e.decision != "raised";
    std::printf("mechanisms: %s; %zu candidate episodes suppressed (see --ledger), %zu external-event notices\n",
                to_string(mechanisms).c_str(), suppressed, run.notices.size());
    if (!schedule.events.empty())
      std::printf("events: %zu scheduled, %zu outside the data's time range (unused), %zu series-occurrences applied\n",
                  schedule.events.size(), unused_events, run.event_occurrences);
  }
  if (dist::is_root())  // after every output is written
    push_alarms_if_asked(args, config, data, run, args.count("quiet") > 0);
  return 0;
}

}  // namespace vigil::cli
