#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "cli/cli.hpp"
#include "cli/cli_common.hpp"
#include "cxxopts.hpp"
#include "vigil/error.hpp"
#include "vigil/tools/scenario.hpp"
#include "vigil/timeutil.hpp"

namespace vigil::cli {

namespace {

// An event count: empty = the default mix, otherwise a non-negative integer.
int event_count(const cxxopts::ParseResult& args, const char* name) {
  if (!args.count(name)) return -1;
  const int n = args[name].as<int>();
  if (n < 0) throw InputError(std::string("--") + name + " must be 0 or more");
  return n;
}

}  // namespace

int generate(int argc, char** argv) {
  cxxopts::Options opts("vigil generate",
                        "Write a synthetic cube with labelled special events and malfunctions (truth.jsonl, events.csv)");
  opts.add_options()
    ("out", "output directory (written atomically)", cxxopts::value<std::string>())
    ("shape", "dimensions and their sizes", cxxopts::value<std::string>()->default_value("metric=4,stack=4,device=8,region=50"))
    ("days", "days of data", cxxopts::value<int>()->default_value("28"))
    ("step", "grid step (e.g. 5m, 1h, 300)", cxxopts::value<std::string>()->default_value("5m"))
    ("seed", "random seed: the same seed writes the same bytes", cxxopts::value<uint64_t>()->default_value("1"))
    ("format", "cube (keys.csv, values.npy, meta.json) or csv (data.csv)", cxxopts::value<std::string>()->default_value("cube"))
    ("start", "first timestamp (ISO-8601 or unix seconds); default 2026-03-02T00:00:00Z, a Monday", cxxopts::value<std::string>())
    ("incidents", "malfunctions (default: one per two days, at least 4)", cxxopts::value<int>())
    ("anticipated", "scheduled events: a weekly game's occurrences plus one launch (default: one game per Sunday + 1)", cxxopts::value<int>())
    ("external-low", "gradual region-wide shifts, e.g. fine weather (default: 2 per fortnight, at least 2)", cxxopts::value<int>())
    ("external-high", "sudden region-wide drops, e.g. power cuts (default: 2 per fortnight, at least 2)", cxxopts::value<int>())
    ("subtle", "subtle malfunctions added: moderate sustained drops on small series and slow evening leaks, alternating (default: 0)", cxxopts::value<int>()->default_value("0"))
    ("threads", "generator threads (default: every core); the output does not depend on it", cxxopts::value<int>()->default_value("0"))
    ("q,quiet", "print nothing on success")
    ("h,help", "this help");
  const auto parsed = parse_options(opts, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  if (!args.count("out")) throw InputError("--out is required (the directory to write)");

  GenerateOptions o;
  o.shape = parse_shape(args["shape"].as<std::string>());
  o.days = args["days"].as<int>();
  const std::string step = args["step"].as<std::string>();
  const auto seconds = parse_duration(step);
  if (!seconds) throw InputError("--step: '" + step + "' is not a duration (e.g. 5m, 1h, 300)");
  o.step = *seconds;
  o.seed = args["seed"].as<uint64_t>();
  o.format = args["format"].as<std::string>();
  if (args.count("start")) {
    const std::string text = args["start"].as<std::string>();
    const auto start = parse_timestamp(text);
    if (!start) throw InputError("--start: '" + text + "' is not a timestamp (ISO-8601 or unix seconds)");
    if (*start == 0) throw InputError("--start: 1970-01-01T00:00:00Z is not supported; choose another start");
    o.start = *start;
  }
  o.incidents = event_count(args, "incidents");
  o.anticipated = event_count(args, "anticipated");
  o.external_low = event_count(args, "external-low");
  o.external_high = event_count(args, "external-high");
  o.subtle = args["subtle"].as<int>();
  if (o.subtle < 0) throw InputError("--subtle: must be 0 or more");
  o.threads = args["threads"].as<int>();
  if (o.threads < 0) throw InputError("--threads must be 0 (every core) or more");

  const auto begin = std::chrono::steady_clock::now();
  const Scenario scenario = generate_scenario(o);
  const std::string out = args["out"].as<std::string>();
  write_scenario(scenario, out, o.format);
  const double seconds_taken = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();

  if (!args.count("quiet")) {
    std::map<std::string, int> kinds;
    for (const TruthRecord& r : scenario.truth) ++kinds[r.kind];
    const double points = static_cast<double>(scenario.data.N()) * static_cast<double>(scenario.data.T);
    std::printf(
        "generate: %zu series x %zu points (%s step, from %s) -> %s (%s); %d incidents, %d anticipated, "
        "%d external_low, %d external_high; %.2f s, %.1fM points/s\n",
        scenario.data.N(), scenario.data.T, format_duration(scenario.data.step).c_str(),
        format_iso(scenario.data.start).c_str(), out.c_str(), o.format.c_str(), kinds["incident"], kinds["anticipated"],
        kinds["external_low"], kinds["external_high"], seconds_taken, points / seconds_taken / 1e6);
  }
  return 0;
}

}  // namespace vigil::cli
