#include "cli/cli_common.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "vigil/error.hpp"
#include "vigil/timeutil.hpp"

namespace vigil::cli {

std::optional<cxxopts::ParseResult> parse_options(cxxopts::Options& options, int argc, char** argv) {
  cxxopts::ParseResult args = options.parse(argc, argv);
  if (args.count("help")) {
    std::fputs(options.help().c_str(), stdout);
    return std::nullopt;
  }
  if (!args.unmatched().empty()) throw InputError("unexpected argument '" + args.unmatched().front() + "'");
  return args;
}

Mechanisms parse_mechanisms(const std::string& text) {
  if (text == "all") return Mechanisms{};
  Mechanisms m{false, false, false};
  if (text == "none") return m;
  std::stringstream ss(text);
  std::string item;
  bool any = false;
  while (std::getline(ss, item, ',')) {
    if (item == "events") m.events = true;
    else if (item == "ensemble") m.ensemble = true;
    else if (item == "cross-stack") m.cross_stack = true;
    else
      throw InputError("--mechanisms: unknown mechanism '" + item +
                       "' (use all, none, or a comma list of events, ensemble, cross-stack)");
    any = true;
  }
  if (!any) throw InputError("--mechanisms: empty list");
  return m;
}

std::string to_string(const Mechanisms& m) {
  std::string s;
  if (m.events) s += "events";
  if (m.ensemble) s += std::string(s.empty() ? "" : ",") + "ensemble";
  if (m.cross_stack) s += std::string(s.empty() ? "" : ",") + "cross-stack";
  return s.empty() ? "none" : s;
}

IngestOptions ingest_options(const cxxopts::ParseResult& args) {
  IngestOptions o;
  if (args.count("step")) {
    auto step = parse_duration(args["step"].as<std::string>());
    if (!step) throw InputError("--step: '" + args["step"].as<std::string>() + "' is not a duration (e.g. 5m, 1h, 300)");
    o.step = *step;
  }
  if (args.count("duplicates")) {
    const std::string d = args["duplicates"].as<std::string>();
    if (d == "error") o.duplicates = DuplicatePolicy::Error;
    else if (d == "last") o.duplicates = DuplicatePolicy::Last;
    else if (d == "sum") o.duplicates = DuplicatePolicy::Sum;
    else throw InputError("--duplicates must be error, last or sum, not '" + d + "'");
  }
  if (args.count("off-grid")) {
    const std::string g = args["off-grid"].as<std::string>();
    if (g != "error" && g != "snap") throw InputError("--off-grid must be error or snap, not '" + g + "'");
    o.snap_to_grid = g == "snap";
  }
  if (args.count("group-dim")) o.group_dim = args["group-dim"].as<std::string>();
  if (args.count("stack-dim")) o.stack_dim = args["stack-dim"].as<std::string>();
  return o;
}

size_t grid_index(const Dataset& data, const std::string& time, const std::string& option) {
  auto ts = parse_timestamp(time);
  if (!ts) throw InputError(option + ": '" + time + "' is not a timestamp (ISO-8601 or unix seconds)");
  if (*ts <= data.start) return 0;
  const int64_t k = (*ts - data.start + data.step - 1) / data.step;
  return static_cast<size_t>(std::min<int64_t>(k, static_cast<int64_t>(data.T)));
}

}  // namespace vigil::cli
