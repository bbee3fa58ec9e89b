#include <cstdio>
#include <string>

#include "cli/cli.hpp"
#include "cli/cli_common.hpp"
#include "cxxopts.hpp"
#include "vigil/error.hpp"
#include "vigil/tools/scenario.hpp"
#include "vigil/timeutil.hpp"

namespace vigil::cli {

int eval(int argc, char** argv) {
  cxxopts::Options opts("vigil eval", "Compare raised alarms with a truth file: recall, false alarms, delay");
  opts.add_options()
    ("truth", "truth file (JSON Lines: kind, name, scope, start, end)", cxxopts::value<std::string>())
    ("alarms", "alarms written by vigil score --alarms (JSON Lines)", cxxopts::value<std::string>())
    ("ledger", "ledger written by vigil score --ledger: report its decisions around each special event and missed incident",
     cxxopts::value<std::string>())
    ("step", "matching slack and delay unit (e.g. 5m); default: each alarm's evidence.step_seconds", cxxopts::value<std::string>())
    ("json", "print one JSON object instead of the table")
    ("h,help", "this help");
  const auto parsed = parse_options(opts, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  if (!args.count("truth")) throw InputError("--truth is required (e.g. truth.jsonl from vigil generate)");
  if (!args.count("alarms")) throw InputError("--alarms is required (the alarms file of vigil score)");
  int64_t step = 0;
  if (args.count("step")) {
    const std::string text = args["step"].as<std::string>();
    const auto seconds = parse_duration(text);
    if (!seconds) throw InputError("--step: '" + text + "' is not a duration (e.g. 5m, 1h, 300)");
    step = *seconds;
  }

  const std::vector<TruthRecord> truth = read_truth(args["truth"].as<std::string>());
  const std::vector<AlarmRecord> alarms = read_alarms(args["alarms"].as<std::string>());
  std::vector<AlarmRecord> ledger;
  if (args.count("ledger")) ledger = read_alarms(args["ledger"].as<std::string>(), false);
  const EvalResult result = evaluate(truth, alarms, step, args.count("ledger") ? &ledger : nullptr);
  const std::string report = args.count("json") ? eval_json(result) + "\n" : eval_table(result);
  std::fputs(report.c_str(), stdout);
  return 0;
}

}  // namespace vigil::cli
