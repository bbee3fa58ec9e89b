#pragma once
// `vigil score` in a monitoring stack: series read from Prometheus, scores written as
// OpenMetrics, alarms pushed to Alertmanager. The options and their handling live here so that
// cli_score.cpp only calls in.
#include <memory>
#include <string>
#include <vector>

#include "cxxopts.hpp"
#include "vigil/alarms.hpp"
#include "vigil/config.hpp"
#include "vigil/dataset.hpp"
#include "vigil/ingest.hpp"
#include "vigil/run.hpp"

namespace vigil {
class OpenMetricsScoresWriter;
}

namespace vigil::cli {

// --prometheus, --query, --start, --end, --bearer-token-file, --alertmanager, --scores-format,
// --retries.
void add_stack_options(cxxopts::Options& options);

// --prometheus was given (and --input was not: both is an InputError).
bool reads_prometheus(const cxxopts::ParseResult& args);
// The series of --query from --start to --end (--step, default 5m). Token: --bearer-token-file,
// else the environment variable VIGIL_PROMETHEUS_TOKEN.
Dataset read_prometheus_input(const cxxopts::ParseResult& args, const Config& config, const IngestOptions& ingest);

// The --scores file in --scores-format: csv (ScoresWriter) or openmetrics.
class ScoresOutput {
 public:
  ScoresOutput(const cxxopts::ParseResult& args, const std::vector<std::string>& dims);
  ~ScoresOutput();
  void append(const Dataset& batch, const Scores& scores, const std::vector<float>& final_score);
  void commit();
  AtomicFile& file();  // the output staged, for commit_all with the run's other outputs

 private:
  std::unique_ptr<ScoresWriter> csv_;
  std::unique_ptr<OpenMetricsScoresWriter> openmetrics_;
};

// With --alertmanager (or the config's alertmanager.url): pushes the raised alarms, prints one
// line unless `quiet`. Call once every output file is written: a failure throws ServiceError
// (exit ServiceError::kPushFailed).
void push_alarms_if_asked(const cxxopts::ParseResult& args, const Config& config, const Dataset& data,
                          const RunResult& run, bool quiet);

}  // namespace vigil::cli
