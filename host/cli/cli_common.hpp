#pragma once
// Option handling shared by the subcommands.
#include <optional>
#include <string>

#include "cxxopts.hpp"
#include "vigil/config.hpp"
#include "vigil/dataset.hpp"
#include "vigil/ingest.hpp"
#include "vigil/report.hpp"

namespace vigil::cli {

// Parses a subcommand's options. Returns nothing when --help was asked for (the help is printed);
// a stray positional argument is an InputError, so a mistyped option never passes silently.
std::optional<cxxopts::ParseResult> parse_options(cxxopts::Options& options, int argc, char** argv);

// `--mechanisms`: all, none, or a comma list of events, ensemble, cross-stack.
Mechanisms parse_mechanisms(const std::string& text);
std::string to_string(const Mechanisms& m);
// --step, --duplicates, --group-dim, --stack-dim of an ingesting subcommand.
IngestOptions ingest_options(const cxxopts::ParseResult& args);
// The first grid index at or after a time given as ISO-8601 or unix seconds.
size_t grid_index(const Dataset& data, const std::string& time, const std::string& option);
// The report page of a run (vigil report, score --report, sample), with the truth's counts when
// `truth_path` is not empty (host/cli/cli_report.cpp).
void write_run_report(const std::string& out, ReportOptions options, const std::string& truth_path);

}  // namespace vigil::cli
