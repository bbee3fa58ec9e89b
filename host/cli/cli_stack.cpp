#include "cli/cli_stack.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

#include "io/http_client.hpp"
#include "vigil/alertmanager.hpp"
#include "vigil/error.hpp"
#include "vigil/openmetrics.hpp"
#include "vigil/prometheus.hpp"
#include "vigil/timeutil.hpp"

namespace vigil::cli {
namespace {

// ISO-8601, unix seconds, "now" or "now-<duration>" (now-7d).
int64_t parse_time_option(const cxxopts::ParseResult& args, const char* option) {
  if (!args.count(option))
    throw InputError(std::string("--prometheus needs --") + option + " (ISO-8601, unix seconds, now or now-7d)");
  const std::string text = args[option].as<std::string>();
  if (text.rfind("now", 0) == 0) {
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    if (text == "now") return now;
    if (text[3] == '-')
      if (auto d = parse_duration(text.substr(4))) return now - *d;
  } else if (auto t = parse_timestamp(text)) {
    return *t;
  }
  throw InputError("--" + std::string(option) + ": '" + text + "' is not a time (ISO-8601, unix seconds, now or now-7d)");
}

std::string read_token(const cxxopts::ParseResult& args) {
  if (args.count("bearer-token-file")) {
    const std::string path = args["bearer-token-file"].as<std::string>();
    std::ifstream in(path);
    if (!in) throw InputError(where(path, 0, "cannot read the bearer token file"));
    std::stringstream ss;
    ss << in.rdbuf();
    std::string token = ss.str();
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
    if (token.empty()) throw InputError(where(path, 0, "the bearer token file is empty"));
    return token;
  }
  const char* env = std::getenv("VIGIL_PROMETHEUS_TOKEN");
  return env ? env : "";
}

int retries(const cxxopts::ParseResult& args) {
  const int n = args["retries"].as<int>();
  if (n < 0 || n > 20) throw InputError("--retries must be between 0 and 20");
  return n;
}

}  // namespace

void add_stack_options(cxxopts::Options& options) {
  // clang-format off
  options.add_options("Prometheus and Alertmanager")
    ("prometheus", "read the series from this Prometheus (query_range API) instead of --input",
     cxxopts::value<std::string>())
    ("query", "PromQL whose series to score (with --prometheus)", cxxopts::value<std::string>())
    ("start", "first time to read (ISO-8601, unix seconds, now or now-7d)", cxxopts::value<std::string>())
    ("end", "last time to read, inclusive", cxxopts::value<std::string>())
    ("bearer-token-file", "file holding a bearer token for Prometheus (else $VIGIL_PROMETHEUS_TOKEN)",
     cxxopts::value<std::string>())
    ("alertmanager", "push raised alarms to this Alertmanager (overrides the config's alertmanager.url)",
     cxxopts::value<std::string>())
    ("scores-format", "format of --scores: csv, or openmetrics (for promtool backfill)",
     cxxopts::value<std::string>()->default_value("csv"))
    ("retries", "retries of a server that refuses connections or answers 5xx (doubling delays from 1 s)",
     cxxopts::value<int>()->default_value("3"));
  // clang-format on
}

bool reads_prometheus(const cxxopts::ParseResult& args) {
  if (!args.count("prometheus")) {
    for (const char* option : {"query", "start", "end", "bearer-token-file"})
      if (args.count(option)) throw InputError(std::string("--") + option + " goes with --prometheus URL");
    return false;
  }
  if (args.count("input")) throw InputError("--input and --prometheus both name an input; give one");
  return true;
}

Dataset read_prometheus_input(const cxxopts::ParseResult& args, const Config& config, const IngestOptions& ingest) {
  PrometheusQuery q;
  q.url = args["prometheus"].as<std::string>();
  if (!args.count("query")) throw InputError("--prometheus needs --query EXPR (PromQL)");
  q.query = args["query"].as<std::string>();
  q.start = parse_time_option(args, "start");
  q.end = parse_time_option(args, "end");
  if (ingest.step > 0) q.step = ingest.step;
  q.bearer_token = read_token(args);
  q.metric_dim = config.metric_dim;
  q.retries = retries(args);
  return read_prometheus(q, ingest);
}

ScoresOutput::ScoresOutput(const cxxopts::ParseResult& args, const std::vector<std::string>& dims) {
  const std::string path = args["scores"].as<std::string>(), format = args["scores-format"].as<std::string>();
  if (format == "csv") csv_ = std::make_unique<ScoresWriter>(path, dims);
  else if (format == "openmetrics") openmetrics_ = std::make_unique<OpenMetricsScoresWriter>(path, dims);
  else throw InputError("--scores-format must be csv or openmetrics, not '" + format + "'");
}

ScoresOutput::~ScoresOutput() = default;

void ScoresOutput::append(const Dataset& batch, const Scores& scores, const std::vector<float>& final_score) {
  if (csv_) csv_->append(batch, scores, final_score);
  else openmetrics_->append(batch, scores, final_score);
}

void ScoresOutput::commit() { file().commit(); }

AtomicFile& ScoresOutput::file() { return csv_ ? csv_->file() : openmetrics_->file(); }

void push_alarms_if_asked(const cxxopts::ParseResult& args, const Config& config, const Dataset& data,
                          const RunResult& run, bool quiet) {
  PushOptions push;
  push.url = args.count("alertmanager") ? args["alertmanager"].as<std::string>() : config.alertmanager.url;
  if (push.url.empty()) return;
  push.retries = retries(args);
  if (args.count("prometheus"))
    push.generator_url = http::trim_base_url(args["prometheus"].as<std::string>()) +
                         "/graph?g0.expr=" + http::url_encode(args["query"].as<std::string>());
  const PushReport report = push_alarms(data, run.alarms, config, push);
  if (!quiet) std::printf("%s\n", describe(report, push.url).c_str());
}

}  // namespace vigil::cli
