// vigil convert: long CSV -> cube directory.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli/cli.hpp"
#include "cli/cli_common.hpp"
#include "cxxopts.hpp"
#include "vigil/error.hpp"
#include "vigil/ingest.hpp"
#include "vigil/timeutil.hpp"

namespace vigil::cli {

int convert(int argc, char** argv) {
  cxxopts::Options options("vigil convert",
                           "Converts a long CSV (timestamp,<dims>...,value) into a cube directory "
                           "(keys.csv, values.npy, meta.json).");
  // clang-format off
  options.add_options()
      ("input", "long CSV file", cxxopts::value<std::string>())
      ("out", "cube directory to write (an earlier cube there is replaced)", cxxopts::value<std::string>())
      ("step", "grid step, e.g. 5m, 1h, 300 (default: the most common gap between timestamps)",
       cxxopts::value<std::string>())
      ("duplicates", "a repeated (series, timestamp): error, last (the later row wins) or sum",
       cxxopts::value<std::string>()->default_value("error"))
      ("off-grid", "a timestamp between grid points: error, or snap to the nearest one",
       cxxopts::value<std::string>()->default_value("error"))
      ("group-dim", "dimension whose values group series for comparison (recorded in the cube)",
       cxxopts::value<std::string>()->default_value("region"))
      ("stack-dim", "dimension naming the technology stack (recorded in the cube)",
       cxxopts::value<std::string>()->default_value("stack"))
      ("threads", "parser threads (0 = every core)", cxxopts::value<int>()->default_value("0"))
      ("h,help", "print this help");
  // clang-format on
  const auto parsed = parse_options(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  if (!args.count("input")) throw InputError("--input FILE.csv is required");
  if (!args.count("out")) throw InputError("--out DIR is required");

  IngestOptions ingest = ingest_options(args);
  ingest.threads = args["threads"].as<int>();
  if (ingest.threads < 0) throw InputError("--threads must be 0 (every core) or more");

  const std::string input = args["input"].as<std::string>(), out = args["out"].as<std::string>();
  IngestStats stats;
  Dataset data = read_csv(input, ingest, &stats);
  resolve_roles(data, args.count("group-dim") > 0, args.count("stack-dim") > 0);
  const auto write_started = std::chrono::steady_clock::now();
  write_cube(data, out);
  const double write_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - write_started).count();

  std::printf(
      "converted %s: %zu rows, %zu series x %zu points, step %s; read in %.2f s (%.2f M rows/s, "
      "%d threads), wrote %s in %.2f s\n",
      input.c_str(), stats.rows, data.N(), data.T, format_duration(data.step).c_str(), stats.seconds,
      stats.rows / std::max(stats.seconds, 1e-9) / 1e6, stats.threads, out.c_str(), write_seconds);
  return 0;
}

}  // namespace vigil::cli
