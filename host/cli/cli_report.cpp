// `vigil report`: the triage page of a run, from its output files (include/vigil/report.hpp).
#include <cstdio>
#include <string>

#include "cli/cli.hpp"
#include "cli/cli_common.hpp"
#include "cxxopts.hpp"
#include "vigil/error.hpp"
#include "vigil/report.hpp"
#include "vigil/tools/scenario.hpp"

namespace vigil::cli {

void write_run_report(const std::string& out, ReportOptions options, const std::string& truth_path) {
  TruthCounts counts;
  if (!truth_path.empty()) {
    const std::vector<AlarmRecord> alarms = read_alarms(options.alarms);
    const std::vector<AlarmRecord> ledger = read_alarms(options.ledger, false);
    const EvalResult r = evaluate(read_truth(truth_path), alarms, 0, &ledger);
    counts.incidents = r.incidents;
    counts.detected = r.detected;
    counts.alarms = r.alarms;
    counts.false_alarms = r.false_alarms;
    counts.false_alarms_by_kind = r.false_alarms_by_kind;
    for (const RecordOutcome& o : r.records) {
      auto& row = counts.decisions[o.record.kind];
      for (const auto& [reason, n] : o.ledger_reasons) row[reason] += n;
    }
    options.truth = &counts;
    options.truth_source = truth_path;
  }
  write_report(out, options);
}

int report(int argc, char** argv) {
  cxxopts::Options opts("vigil report",
                        "Write one self-contained HTML page (inline SVG, no network) for triage from a run's outputs");
  opts.add_options()
    ("alarms", "alarms written by vigil score --alarms", cxxopts::value<std::string>())
    ("ledger", "ledger written by vigil score --ledger", cxxopts::value<std::string>())
    ("scores", "scores CSV written by vigil score --scores (with the band: lower, upper)", cxxopts::value<std::string>())
    ("events", "the event schedule the run used: events in each alarm's scope are drawn", cxxopts::value<std::string>())
    ("truth", "a truth file (vigil generate's truth.jsonl): adds how each decision changed the count",
     cxxopts::value<std::string>())
    ("out", "the page to write (report.html)", cxxopts::value<std::string>())
    ("max-drawn", "alarms drawn in full, most severe first; the rest are listed", cxxopts::value<size_t>()->default_value("25"))
    ("h,help", "this help");
  const auto parsed = parse_options(opts, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  for (const char* need : {"alarms", "ledger", "scores", "out"})
    if (!args.count(need)) throw InputError(std::string("--") + need + " is required");
  ReportOptions o;
  o.alarms = args["alarms"].as<std::string>();
  o.ledger = args["ledger"].as<std::string>();
  o.scores = args["scores"].as<std::string>();
  if (args.count("events")) o.events = args["events"].as<std::string>();
  o.max_drawn = args["max-drawn"].as<size_t>();
  const std::string out = args["out"].as<std::string>();
  write_run_report(out, o, args.count("truth") ? args["truth"].as<std::string>() : std::string());
  std::printf("report: %s\n", out.c_str());
  return 0;
}

}  // namespace vigil::cli
