// vigil export: a CSV or cube as OpenMetrics text, for `promtool tsdb create-blocks-from
// openmetrics` (backfilling Prometheus with the data vigil scores).
#include <cstdio>
#include <filesystem>

#include "cli/cli.hpp"
#include "cli/cli_common.hpp"
#include "cxxopts.hpp"
#include "vigil/error.hpp"
#include "vigil/ingest.hpp"
#include "vigil/openmetrics.hpp"

namespace vigil::cli {

int export_openmetrics(int argc, char** argv) {
  cxxopts::Options options("vigil export",
                           "Writes a long CSV or cube as OpenMetrics text (one gauge family per metric, the other "
                           "dimensions as labels) for promtool tsdb create-blocks-from openmetrics.");
  // clang-format off
  options.add_options()
      ("input", "long CSV file or cube directory", cxxopts::value<std::string>())
      ("out", "OpenMetrics file to write", cxxopts::value<std::string>())
      ("metric-dim", "dimension whose values are the metric names", cxxopts::value<std::string>()->default_value("metric"))
      ("name", "metric name when the data has no --metric-dim column",
       cxxopts::value<std::string>()->default_value("vigil_input"))
      ("step", "grid step of a CSV input (e.g. 5m); default: inferred", cxxopts::value<std::string>())
      ("duplicates", "duplicate CSV points: error, last or sum", cxxopts::value<std::string>()->default_value("error"))
      ("off-grid", "a CSV timestamp between grid points: error or snap", cxxopts::value<std::string>()->default_value("error"))
      ("h,help", "print this help");
  // clang-format on
  const auto parsed = parse_options(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  if (!args.count("input")) throw InputError("--input FILE.csv|DIR is required");
  if (!args.count("out")) throw InputError("--out FILE is required");
  const Dataset data = read_input(args["input"].as<std::string>(), ingest_options(args));
  write_openmetrics_values(data, args["metric-dim"].as<std::string>(), args["name"].as<std::string>(),
                           args["out"].as<std::string>());
  std::printf("exported %zu series x %zu points to %s\n", data.N(), data.T, args["out"].as<std::string>().c_str());
  return 0;
}

}  // namespace vigil::cli
