// `vigil nab`: vigil's final score against classic single-series detectors (rolling z-score, NAB's
// windowed Gaussian, a causal seasonal hybrid ESD) under the Numenta Anomaly Benchmark's scoring
// rule, on a generated corpus or on NAB's own files and labels.
#include <omp.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "cli/cli_common.hpp"
#include "cxxopts.hpp"
#include "ingest/csv_text.hpp"
#include "vigil/atomic_file.hpp"
#include "vigil/backend.hpp"
#include "vigil/tools/classic_detectors.hpp"
#include "vigil/config.hpp"
#include "vigil/error.hpp"
#include "vigil/final_score.hpp"
#include "vigil/tools/nab.hpp"
#include "vigil/tools/nab_corpus.hpp"
#include "vigil/timeutil.hpp"

namespace vigil::cli {
namespace {

// One file of the benchmark: its rows and windows as NAB scores them, and its values on a grid
// as the detectors read them.
struct BenchFile {
  nab::LabelledFile truth;
  nab::GridPlacement grid;
  std::string kind;                       // generated corpus: the series kind
  std::vector<std::string> window_types;  // generated corpus: the anomaly type of each window
  std::vector<size_t> window_onsets;      // the labelled row of each window (NAB files: its centre)
};

struct Detector {
  std::string name;
  // Grid values, step -> a score per grid point.
  std::function<std::vector<double>(const std::vector<float>&, int64_t, int64_t, Backend&)> score;
};

std::vector<Detector> detectors(size_t zscore_window, const Config& config) {
  return {
      {"vigil",
       [config](const std::vector<float>& v, int64_t start, int64_t step, Backend& backend) {
         const std::vector<float> s = score_single_series(v, start, step, config, backend);
         return std::vector<double>(s.begin(), s.end());
       }},
      {"rolling z-score",
       [zscore_window](const std::vector<float>& v, int64_t, int64_t step, Backend&) {
         return classic::rolling_zscore(v, zscore_window ? zscore_window : classic::points_per_day(step));
       }},
      {"windowed Gaussian",
       [](const std::vector<float>& v, int64_t, int64_t, Backend&) { return classic::windowed_gaussian(v); }},
      {"seasonal ESD",
       [](const std::vector<float>& v, int64_t, int64_t step, Backend&) { return classic::seasonal_esd(v, step); }},
  };
}

// --- the generated corpus ------------------------------------------------------------------------

std::vector<BenchFile> generated_corpus(size_t files, uint64_t seed) {
  std::vector<BenchFile> out;
  for (nab::GeneratedSeries& s : nab::generate_nab_corpus(files, seed)) {
    BenchFile f;
    std::vector<size_t> onsets;
    for (const auto& a : s.anomalies) onsets.push_back(a.onset);
    f.truth = {s.name, s.values.size(), nab::windows_from_labels(s.values.size(), onsets)};
    for (const nab::Window& w : f.truth.windows) {
      std::string type = "?";
      size_t onset = (w.first + w.last) / 2;
      for (const auto& a : s.anomalies)
        if (a.onset >= w.first && a.onset <= w.last) {
          type = a.type;
          onset = a.onset;
          break;
        }
      f.window_types.push_back(type);
      f.window_onsets.push_back(onset);
    }
    f.kind = s.kind;
    f.grid.start = s.start;
    f.grid.step = s.step;
    f.grid.values = std::move(s.values);
    f.grid.grid_index.resize(f.grid.values.size());
    std::iota(f.grid.grid_index.begin(), f.grid.grid_index.end(), size_t{0});
    out.push_back(std::move(f));
  }
  return out;
}

// --- NAB's files -----------------------------------------------------------------------------------

struct CsvSeries {
  std::vector<int64_t> times;
  std::vector<float> values;
  std::vector<uint8_t> labels;  // per row, 0/1; empty without a `label` column
};

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// NAB's files are CSV like any other: the one tokeniser of ingest/csv_text.hpp.
std::vector<std::string> split_commas(const std::string& line, const std::string& path, long long line_no) {
  std::vector<std::string_view> fields;
  std::string scratch;
  if (const char* problem = csv::split(line, fields, scratch)) throw InputError(where(path, line_no, problem));
  return {fields.begin(), fields.end()};
}

// A NAB data file: `timestamp,value` and optionally `label` (0/1 per row), header names in any
// case, other columns ignored; rows sorted here by time.
CsvSeries read_nab_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(where(path, 0, "cannot open"));
  std::string line;
  long long line_no = 1;
  if (!std::getline(in, line)) throw InputError(where(path, 0, "empty file"));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> header = split_commas(line, path, 1);
  for (std::string& h : header) h = lowercase(h);
  const auto find = [&](const char* name) {
    return static_cast<size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  const auto column = [&](const char* name) {
    const size_t c = find(name);
    if (c == header.size()) throw InputError(where(path, 1, std::string("no '") + name + "' column"));
    return c;
  };
  const size_t time_col = column("timestamp"), value_col = column("value");
  const size_t label_col = find("label");
  const bool labelled = label_col < header.size();
  struct Row {
    int64_t t;
    float v;
    uint8_t label;
  };
  std::vector<Row> rows;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::vector<std::string> cells = split_commas(line, path, line_no);
    const size_t needed = std::max({time_col, value_col, labelled ? label_col : size_t{0}});
    if (cells.size() <= needed) throw InputError(where(path, line_no, "too few columns"));
    const auto t = parse_timestamp(cells[time_col]);
    if (!t) throw InputError(where(path, line_no, "bad timestamp '" + cells[time_col] + "'"));
    float v = NAN;
    if (!cells[value_col].empty()) {
      char* end = nullptr;
      v = std::strtof(cells[value_col].c_str(), &end);
      if (end == cells[value_col].c_str() || *end != '\0')
        throw InputError(where(path, line_no, "bad value '" + cells[value_col] + "'"));
    }
    uint8_t label = 0;
    if (labelled) {
      const std::string& l = cells[label_col];
      if (l == "1" || l == "1.0") label = 1;
      else if (l != "0" && l != "0.0")
        throw InputError(where(path, line_no, "label '" + l + "' is not 0 or 1"));
    }
    rows.push_back({*t, v, label});
  }
  if (rows.size() < 2) throw InputError(where(path, 0, "fewer than two rows"));
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.t < b.t; });
  CsvSeries s;
  for (const Row& r : rows) {
    s.times.push_back(r.t);
    s.values.push_back(r.v);
    if (labelled) s.labels.push_back(r.label);
  }
  return s;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(where(path, 0, "cannot open"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `labels_path` empty: every file carries its own `label` column (the cloud-monitoring format).
std::vector<BenchFile> nab_corpus_from_disk(const std::string& dir, const std::string& labels_path) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw InputError("--data: '" + dir + "' is not a directory");
  std::map<std::string, nab::FileLabels> labels;
  if (!labels_path.empty())
    for (auto& [name, l] : nab::parse_labels_json(slurp(labels_path), labels_path)) labels[name] = std::move(l);
  std::vector<std::string> names;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".csv")
      names.push_back(fs::relative(entry.path(), dir).generic_string());
  std::sort(names.begin(), names.end());
  if (names.empty()) throw InputError("--data: no .csv file under '" + dir + "'");
  std::vector<BenchFile> out;
  for (const std::string& name : names) {
    const std::string path = (fs::path(dir) / name).string();
    const CsvSeries csv = read_nab_csv(path);
    BenchFile f;
    f.truth.name = name;
    f.truth.rows = csv.times.size();
    const auto it = labels.find(name);
    if (labels_path.empty()) {
      if (csv.labels.empty()) throw InputError(where(path, 1, "no 'label' column (or give --labels)"));
      f.truth.windows = nab::windows_from_segments(csv.labels);
    } else if (it == labels.end()) {
      throw InputError(where(labels_path, 0, "no entry for '" + name + "' (keys are paths under --data)"));
    } else if (!it->second.labels.empty()) {
      std::vector<size_t> rows;
      for (int64_t t : it->second.labels)
        rows.push_back(static_cast<size_t>(std::lower_bound(csv.times.begin(), csv.times.end(), t) - csv.times.begin()));
      f.truth.windows = nab::windows_from_labels(f.truth.rows, rows);
    } else {
      f.truth.windows = nab::windows_from_times(csv.times, it->second.windows);
    }
    for (const nab::Window& w : f.truth.windows) {
      f.window_types.push_back("");
      f.window_onsets.push_back((w.first + w.last) / 2);
    }
    f.grid = nab::place_on_grid(csv.times, csv.values);
    if (f.grid.values.size() > 100 * csv.times.size() + 1000)
      throw InputError(where(name, 0, "the rows span " + std::to_string(f.grid.values.size()) + " points of their " +
                                          format_duration(f.grid.step) + " step: too sparse for a grid"));
    out.push_back(std::move(f));
  }
  for (const auto& [name, l] : labels)
    if (!std::binary_search(names.begin(), names.end(), name))
      std::fprintf(stderr, "vigil nab: note: %s has labels but no file under --data; skipped\n", name.c_str());
  return out;
}

// --- scoring and the report ------------------------------------------------------------------------

// scores[d][f][row]: every detector on every file, files in parallel, grid scores mapped to rows.
std::vector<nab::CorpusScores> score_all(const std::vector<BenchFile>& files, const std::vector<Detector>& dets,
                                         int threads) {
  std::vector<nab::CorpusScores> scores(dets.size(), nab::CorpusScores(files.size()));
  const int workers = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel num_threads(workers)
  {
    // One single-threaded backend per worker: the files are the parallelism.
    const std::unique_ptr<Backend> backend = make_cpu_backend(1);
#pragma omp for schedule(dynamic)
    for (long f = 0; f < static_cast<long>(files.size()); ++f) {
      const BenchFile& file = files[f];
      for (size_t d = 0; d < dets.size(); ++d) {
        const std::vector<double> grid_scores = dets[d].score(file.grid.values, file.grid.start, file.grid.step, *backend);
        std::vector<double>& rows = scores[d][f];
        rows.resize(file.truth.rows);
        for (size_t r = 0; r < rows.size(); ++r) rows[r] = grid_scores[file.grid.grid_index[r]];
      }
    }
  }
  return scores;
}

std::string fixed(double v, int decimals) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Thresholds of tail-probability scores crowd just below 1: "1-2.9e-07" says more than "1.000000".
std::string threshold_text(double t) {
  if (t >= nab::kNeverFires) return "never";
  if (t > 0.999 && t < 1.0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "1-%.1e", 1.0 - t);
    return buf;
  }
  return fixed(t, 4);
}

void print_table(const std::vector<nab::DetectorReport>& reports) {
  std::printf("%-18s %9s %9s %9s %5s %6s %5s %10s %7s\n", "detector", "standard", "low_FP", "low_FN", "TP", "FP", "FN",
              "threshold", "delay");
  for (const nab::DetectorReport& r : reports) {
    const nab::DetectionCounts& c = r.standard_counts;
    std::printf("%-18s %9.1f %9.1f %9.1f %5zu %6zu %5zu %10s %7s\n", r.detector.c_str(), r.by_profile[0].normalised,
                r.by_profile[1].normalised, r.by_profile[2].normalised, c.detected_windows, c.false_positive_points,
                c.missed_windows, threshold_text(r.by_profile[0].threshold).c_str(), fixed(c.median_delay_points, 0).c_str());
  }
}

// The best classic detector on each profile, and vigil's margin over it.
nlohmann::ordered_json margins(const std::vector<nab::DetectorReport>& reports) {
  nlohmann::ordered_json out;
  const auto& profiles = nab::profiles();
  std::printf("\nvigil vs the best classic detector:");
  for (size_t p = 0; p < profiles.size(); ++p) {
    size_t best = 1;
    for (size_t d = 2; d < reports.size(); ++d)
      if (reports[d].by_profile[p].normalised > reports[best].by_profile[p].normalised) best = d;
    const double ours = reports[0].by_profile[p].normalised, theirs = reports[best].by_profile[p].normalised;
    const double ratio = theirs > 0 ? ours / theirs : NAN;
    std::printf("%s %s %+.1f points (x%s vs %s)", p ? "," : "", profiles[p].name, ours - theirs, fixed(ratio, 2).c_str(),
                reports[best].detector.c_str());
    out[profiles[p].name] = {{"best_classic", reports[best].detector},
                             {"margin", ours - theirs},
                             {"ratio", std::isnan(ratio) ? nlohmann::ordered_json() : nlohmann::ordered_json(ratio)}};
  }
  std::printf("\n");
  return out;
}

// Generated corpus: which anomaly types each detector catches, and where its false positives land.
nlohmann::ordered_json breakdown(const std::vector<BenchFile>& files, const std::vector<nab::LabelledFile>& corpus,
                                 const std::vector<nab::CorpusScores>& scores,
                                 const std::vector<nab::DetectorReport>& reports) {
  std::map<std::string, std::vector<size_t>> caught;  // type -> per detector
  std::map<std::string, size_t> windows;
  std::map<std::string, std::vector<size_t>> false_positives;  // kind -> per detector
  for (size_t d = 0; d < reports.size(); ++d) {
    const double threshold = reports[d].by_profile[0].threshold;
    const auto first = nab::first_detections(corpus, scores[d], threshold);
    for (size_t f = 0; f < files.size(); ++f) {
      const size_t probation = nab::probationary_length(corpus[f].rows);
      for (size_t w = 0; w < corpus[f].windows.size(); ++w) {
        if (corpus[f].windows[w].last < probation) continue;
        const std::string& type = files[f].window_types[w];
        caught[type].resize(reports.size());
        if (d == 0) ++windows[type];
        caught[type][d] += first[f][w] >= 0;
      }
      auto& fp = false_positives[files[f].kind];
      fp.resize(reports.size());
      fp[d] += nab::detection_counts({corpus[f]}, {scores[d][f]}, threshold).false_positive_points;
    }
  }
  nlohmann::ordered_json out;
  std::printf("\nwindows detected at the standard threshold, by anomaly type\n%-15s %7s", "type", "windows");
  for (const auto& r : reports) std::printf(" %18s", r.detector.c_str());
  std::printf("\n");
  for (const auto& [type, counts] : caught) {
    std::printf("%-15s %7zu", type.c_str(), windows[type]);
    for (size_t c : counts) std::printf(" %18zu", c);
    std::printf("\n");
    out["detected_by_type"][type] = {{"windows", windows[type]}, {"detected", counts}};
  }
  std::printf("\nfalse-positive points at the standard threshold, by series kind\n%-22s", "kind");
  for (const auto& r : reports) std::printf(" %18s", r.detector.c_str());
  std::printf("\n");
  for (const auto& [kind, counts] : false_positives) {
    std::printf("%-22s", kind.c_str());
    for (size_t c : counts) std::printf(" %18zu", c);
    std::printf("\n");
    out["false_positives_by_kind"][kind] = counts;
  }
  return out;
}

// One row per window: where each detector first fires at its standard threshold (points after
// the labelled onset; negative = before it, empty = missed), its highest score in the window, and
// its false positives in the whole file. For tuning: which windows a detector misses, and why.
void write_window_detail(const std::string& path, const std::vector<BenchFile>& files,
                         const std::vector<nab::LabelledFile>& corpus, const std::vector<nab::CorpusScores>& scores,
                         const std::vector<nab::DetectorReport>& reports) {
  std::vector<std::vector<std::vector<long>>> first(reports.size());
  for (size_t d = 0; d < reports.size(); ++d)
    first[d] = nab::first_detections(corpus, scores[d], reports[d].by_profile[0].threshold);
  std::string text = "file,kind,step,rows,window_first,window_last,onset,type";
  const auto column = [](std::string name) {
    std::replace(name.begin(), name.end(), ' ', '_');
    return name;
  };
  for (const auto& r : reports)
    text += "," + column(r.detector) + "_delay," + column(r.detector) + "_max," + column(r.detector) + "_file_fp";
  text += "\n";
  for (size_t f = 0; f < files.size(); ++f) {
    std::vector<size_t> file_fp;
    for (size_t d = 0; d < reports.size(); ++d)
      file_fp.push_back(nab::detection_counts({corpus[f]}, {scores[d][f]}, reports[d].by_profile[0].threshold)
                            .false_positive_points);
    for (size_t w = 0; w < corpus[f].windows.size(); ++w) {
      const nab::Window& window = corpus[f].windows[w];
      const long onset = static_cast<long>(files[f].window_onsets[w]);
      text += corpus[f].name + "," + files[f].kind + "," + std::to_string(files[f].grid.step) + "," +
              std::to_string(corpus[f].rows) + "," + std::to_string(window.first) + "," + std::to_string(window.last) +
              "," + std::to_string(onset) + "," + files[f].window_types[w];
      for (size_t d = 0; d < reports.size(); ++d) {
        double top = 0;
        for (size_t i = window.first; i <= window.last; ++i)
          if (!std::isnan(scores[d][f][i])) top = std::max(top, scores[d][f][i]);
        const long at = first[d][f][w];
        text += "," + (at < 0 ? std::string() : std::to_string(at - onset)) + "," + fixed(top, 6) + "," +
                std::to_string(file_fp[d]);
      }
      text += "\n";
    }
  }
  AtomicFile out(path);
  out.write(text);
  out.commit();
}

nlohmann::ordered_json report_json(const nab::DetectorReport& r) {
  nlohmann::ordered_json j;
  j["detector"] = r.detector;
  for (size_t p = 0; p < nab::profiles().size(); ++p)
    j[nab::profiles()[p].name] = {{"score", r.by_profile[p].normalised},
                                  {"raw", r.by_profile[p].raw},
                                  {"threshold", r.by_profile[p].threshold}};
  const nab::DetectionCounts& c = r.standard_counts;
  j["at_standard_threshold"] = {
      {"detected_windows", c.detected_windows},
      {"false_positive_points", c.false_positive_points},
      {"missed_windows", c.missed_windows},
      {"median_delay_points",
       std::isnan(c.median_delay_points) ? nlohmann::ordered_json() : nlohmann::ordered_json(c.median_delay_points)}};
  return j;
}

}  // namespace

int nab(int argc, char** argv) {
  cxxopts::Options opts("vigil nab",
                        "Compare vigil's final score with classic detectors under NAB's scoring rule");
  opts.add_options()
    ("files", "files in the generated corpus", cxxopts::value<size_t>()->default_value("40"))
    ("seed", "seed of the generated corpus", cxxopts::value<uint64_t>()->default_value("1"))
    ("data", "a directory of NAB-format CSVs (timestamp,value) instead of the generated corpus", cxxopts::value<std::string>())
    ("labels", "NAB's combined_windows.json (or combined_labels.json) for --data; without it every file needs a label column (0/1 per row)", cxxopts::value<std::string>())
    ("config", "vigil's config (JSON or YAML, as for `vigil score`): thresholds, directions, evidence settings", cxxopts::value<std::string>())
    ("json", "also write the results as one JSON object to this file", cxxopts::value<std::string>())
    ("zscore-window", "points in the rolling z-score's window (0 = one day)", cxxopts::value<size_t>()->default_value("0"))
    ("detail", "write one CSV row per window: each detector's first detection, top score, file FPs", cxxopts::value<std::string>())
    ("threads", "worker threads (0 = all cores)", cxxopts::value<int>()->default_value("0"))
    ("h,help", "this help");
  const auto parsed = parse_options(opts, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const bool from_disk = args.count("data") > 0;
  if (args.count("labels") && !from_disk) throw InputError("--labels needs --data");
  if (args["threads"].as<int>() < 0) throw InputError("--threads: must be 0 or more");
  const size_t files_wanted = args["files"].as<size_t>();
  if (!from_disk && files_wanted == 0) throw InputError("--files: must be at least 1");

  const auto began = std::chrono::steady_clock::now();
  const std::vector<BenchFile> files = from_disk
      ? nab_corpus_from_disk(args["data"].as<std::string>(),
                             args.count("labels") ? args["labels"].as<std::string>() : std::string())
      : generated_corpus(files_wanted, args["seed"].as<uint64_t>());
  std::vector<nab::LabelledFile> corpus;
  size_t points = 0;
  for (const BenchFile& f : files) corpus.push_back(f.truth), points += f.truth.rows;
  const size_t windows = nab::scored_windows(corpus);

  const Config config = args.count("config") ? read_config(args["config"].as<std::string>()) : Config{};
  const std::vector<Detector> dets = detectors(args["zscore-window"].as<size_t>(), config);
  const std::vector<nab::CorpusScores> scores = score_all(files, dets, args["threads"].as<int>());
  std::vector<nab::DetectorReport> reports;
  for (size_t d = 0; d < dets.size(); ++d) reports.push_back(nab::evaluate_detector(dets[d].name, corpus, scores[d]));

  const std::string source = from_disk ? args["data"].as<std::string>()
                                       : "generated (seed " + std::to_string(args["seed"].as<uint64_t>()) + ")";
  std::printf("NAB scoring on %zu files, %zu windows, %zu points: %s\n", files.size(), windows, points, source.c_str());
  std::printf("normalised scores (0 = never fires, 100 = perfect), one threshold per detector and profile;\n"
              "TP/FP/FN (windows, points outside windows, windows) and median delay (points after the window "
              "start) at the standard threshold\n\n");
  print_table(reports);
  nlohmann::ordered_json j;
  j["corpus"] = {{"source", source}, {"files", files.size()}, {"windows", windows}, {"points", points}};
  j["vigil_vs_best_classic"] = margins(reports);
  for (const auto& r : reports) j["detectors"].push_back(report_json(r));
  if (!from_disk) j["generated"] = breakdown(files, corpus, scores, reports);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::printf("\n%.1f s\n", seconds);
  j["seconds"] = seconds;
  if (args.count("detail")) write_window_detail(args["detail"].as<std::string>(), files, corpus, scores, reports);
  if (args.count("json")) write_file_atomically(args["json"].as<std::string>(), j.dump(2) + "\n");
  return 0;
}

}  // namespace vigil::cli
