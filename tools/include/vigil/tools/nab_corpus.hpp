#pragma once
// A generated stand-in for NAB's real corpus: single metric series with labelled anomalies, varied
// the way NAB's files are (web traffic, CPU, machine temperature, latency, error counts, tweet
// volume; 5-minute to hourly steps; 3,000 to 16,000 points; 1 to 4 anomalies each), with benign
// oddities that must not be labelled (heavy-tailed single points, short bursts, slow trends,
// holiday-like quiet days). Deterministic: file i depends only on (seed, i), so a corpus of 12
// files is the first 12 of a corpus of 40.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vigil::nab {

struct GeneratedAnomaly {
  size_t onset = 0;  // the labelled row: where the anomaly starts, as NAB's labels point
  std::string type;  // spike, dip, level_shift, slow_leak, variance, flatline, pattern_break
};

struct GeneratedSeries {
  std::string name;  // "<kind>/<kind>_<i>.csv", as NAB names files by directory
  std::string kind;  // web_traffic, cpu, machine_temperature, latency, error_count, tweet_volume
  int64_t start = 0, step = 0;
  std::vector<float> values;
  std::vector<GeneratedAnomaly> anomalies;  // by onset
};

GeneratedSeries generate_nab_series(size_t index, uint64_t seed);
std::vector<GeneratedSeries> generate_nab_corpus(size_t files, uint64_t seed);

// Every anomaly type the generator draws, for per-type reports.
const std::vector<std::string>& nab_anomaly_types();

}  // namespace vigil::nab
