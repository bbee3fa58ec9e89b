// `vigil sample`: the built-in demonstration. Generates a small realistic cube (a month of
// 15-minute streaming traffic with malfunctions and special events), scores it, writes the
// outputs next to it and prints the alarms and how they compare with the known truth.
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli/cli.hpp"
#include "cli/cli_common.hpp"
#include "cxxopts.hpp"
#include "vigil/config.hpp"
#include "vigil/final_score.hpp"
#include "vigil/error.hpp"
#include "vigil/events.hpp"
#include "vigil/ingest.hpp"
#include "vigil/run.hpp"
#include "vigil/tools/scenario.hpp"

namespace vigil::cli {

int sample(int argc, char** argv) {
  cxxopts::Options opts("vigil sample", "Generate the built-in sample, score it and print the alarms");
  opts.add_options()
    ("out", "directory for the sample's data and outputs", cxxopts::value<std::string>()->default_value("vigil-sample"))
    ("backend", "auto, cpu or cuda", cxxopts::value<std::string>()->default_value("auto"))
    ("seed", "generator seed", cxxopts::value<uint64_t>()->default_value("7"))
    ("h,help", "this help");
  const auto parsed = parse_options(opts, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::string out = args["out"].as<std::string>();
  auto backend = make_backend(args["backend"].as<std::string>());

  GenerateOptions g;
  g.shape = {{"metric", 2}, {"stack", 4}, {"device", 4}, {"region", 6}};
  g.days = 28;
  g.step = 900;
  g.seed = args["seed"].as<uint64_t>();
  Scenario scenario = generate_scenario(g);
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) throw InputError(out + ": cannot create the directory: " + ec.message());
  const std::string data_dir = out + "/data";
  write_scenario(scenario, data_dir, "cube");
  Dataset& data = scenario.data;
  resolve_roles(data, false, false);
  const EventSchedule schedule = read_events(data_dir + "/events.csv");
  validate_events(schedule, data);

  const Config config = read_config(data_dir + "/config.json");  // per-metric directions
  RunResult run = run_scoring(data, config, *backend, 0, &schedule);
  write_alarms(out + "/alarms.jsonl", data, run.alarms, run.episodes, config.detection.max_series_listed);
  write_ledger(out + "/ledger.jsonl", data, run.alarms, run.episodes, run.notices);
  write_scores(out + "/scores.csv", data, run.scores, final_scores(data, run.scores, config, &run.episodes));

  std::printf("vigil sample: %zu series (metric x stack x device x region), %d days at 15 minutes, with %zu "
              "labelled incidents and special events\n\n",
              data.N(), g.days, scenario.truth.size());
  print_summary(stdout, data, run, *backend, 60);
  const auto truth = read_truth(data_dir + "/truth.jsonl");
  const auto alarms = read_alarms(out + "/alarms.jsonl");
  const auto ledger = read_alarms(out + "/ledger.jsonl", false);
  std::printf("\nagainst the truth (all mechanisms; `vigil ablate --input %s` compares them):\n%s", data_dir.c_str(),
              eval_table(evaluate(truth, alarms, 0, &ledger)).c_str());
  ReportOptions report;
  report.alarms = out + "/alarms.jsonl";
  report.ledger = out + "/ledger.jsonl";
  report.scores = out + "/scores.csv";
  report.events = data_dir + "/events.csv";
  write_run_report(out + "/report.html", report, data_dir + "/truth.jsonl");
  std::printf("\nwritten: %s/{alarms.jsonl,ledger.jsonl,scores.csv}; data in %s\n", out.c_str(), data_dir.c_str());
  std::printf("report: %s/report.html (open it in a browser: one plot per alarm with its band and events)\n",
              out.c_str());
  std::printf("reproduce: vigil score --input %s --config %s/config.json --events %s/events.csv --alarms "
              "%s/alarms.jsonl --ledger %s/ledger.jsonl --scores %s/scores.csv && vigil eval --truth %s/truth.jsonl "
              "--alarms %s/alarms.jsonl --ledger %s/ledger.jsonl\n",
              data_dir.c_str(), data_dir.c_str(), data_dir.c_str(), out.c_str(), out.c_str(), out.c_str(),
              data_dir.c_str(), out.c_str(), out.c_str());
  return 0;
}

}  // namespace vigil::cli
