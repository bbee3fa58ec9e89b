#include "cli_common.hpp"

#include <algorithm>
#include <sstream>

#include "vigil/error.hpp"
#include "vigil/timeutil.hpp"

namespace vigil::cli {

std::string parse_mechanisms(const std::string& text) {
  if (text == "all" || text == "none") return text;
  std::stringstream ss(text);
  std::string item, canonical;
  while (std::getline(ss, item, ',')) {
    if (item != "events" && item != "ensemble" && item != "cross-stack")
      throw InputError("--mechanisms: unknown mechanism '" + item +
                       "' (use all, none, or a comma list of events, ensemble, cross-stack)");
    canonical += (canonical.empty() ? "" : ",") + item;
  }
  if (canonical.empty()) throw InputError("--mechanisms: empty list");
  return canonical;
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
