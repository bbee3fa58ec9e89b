// OpenMetrics output: `vigil export` (the data, for backfill) and `--scores-format openmetrics`
// (vigil's forecast, z and score), checked against the CSV scores and against promtool's parser.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "common/servers.hpp"
#include "common/test_util.hpp"
#include "vigil/openmetrics.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

// Traffic, metric x region: plays (br, uk) and errors (br), hourly for 10 days (or `points` of
// `step` seconds); a missing point; an outage at the end.
std::string traffic_csv(const test::TempDir& tmp, int points = 240, int step = 3600) {
  std::string csv = "timestamp,metric,region,value\n";
  const int64_t start = *parse_timestamp("2026-03-01T00:00:00Z");
  for (int t = 0; t < points; ++t)
    for (const char* series : {"plays,br", "plays,uk", "errors,br"}) {
      if (t == 100 && std::string(series) == "plays,uk") continue;
      const int per_day = 86400 / step;
      double v = 1000 + 400 * std::sin(2 * M_PI * (t % per_day) / per_day) + (t * 7) % 5;
      if (std::string(series) == "errors,br") v = 10 + (t * 3) % 4;
      if (std::string(series) == "plays,br" && t >= points - 6) v *= 0.2;
      csv += format_iso(start + static_cast<int64_t>(t) * step) + "," + series + "," + std::to_string(v) + "\n";
    }
  test::write_file(tmp.file("in.csv"), csv);
  return tmp.file("in.csv");
}

struct Sample {
  std::string family, labels;
  int64_t ts;
  double value;
};

// Parses our own OpenMetrics text, checking its shape: a TYPE line opens each family once, the
// samples of a family follow it, "# EOF" ends the file.
std::vector<Sample> parse_openmetrics(const std::string& text, std::vector<std::string>* families) {
  std::vector<Sample> samples;
  std::istringstream in(text);
  std::string line, current;
  bool eof = false;
  while (std::getline(in, line)) {
    EXPECT_FALSE(eof) << "text after # EOF";
    if (line == "# EOF") {
      eof = true;
    } else if (line.rfind("# TYPE ", 0) == 0) {
      current = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_EQ(line, "# TYPE " + current + " gauge");
      for (const auto& f : *families) EXPECT_NE(f, current) << "family " << current << " in two pieces";
      families->push_back(current);
    } else if (line.rfind("# HELP ", 0) == 0) {
      EXPECT_EQ(line.substr(7, current.size()), current);
    } else {
      const size_t brace = line.find('{'), close = line.find("} ");
      Sample s;
      s.family = line.substr(0, brace);
      EXPECT_EQ(s.family, current) << line;
      s.labels = line.substr(brace, close + 1 - brace);
      std::istringstream fields(line.substr(close + 2));
      std::string value;
      fields >> value >> s.ts;
      s.value = value == "NaN" ? NAN : std::stod(value);
      samples.push_back(s);
    }
  }
  EXPECT_TRUE(eof);
  return samples;
}

TEST(OpenMetricsScores, CarryTheCsvScoresForecastZAndScore) {
  test::TempDir tmp;
  const std::string input = traffic_csv(tmp);
  auto r = test::run_vigil("score --input " + input + " --backend cpu --scores " + tmp.file("s.csv"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = test::run_vigil("score --input " + input + " --backend cpu --scores " + tmp.file("s.om") +
                      " --scores-format openmetrics");
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> families;
  const auto samples = parse_openmetrics(test::read_file(tmp.file("s.om")), &families);
  EXPECT_EQ(families, (std::vector<std::string>{"vigil_forecast", "vigil_z", "vigil_score"}));
  std::map<std::string, double> om;  // family|labels|ts -> value
  for (const auto& s : samples) om[s.family + "|" + s.labels + "|" + std::to_string(s.ts)] = s.value;

  // Every CSV value of forecast, z_forecast and score is in the OpenMetrics file, and nothing else.
  std::istringstream csv(test::read_file(tmp.file("s.csv")));
  std::string line;
  std::getline(csv, line);  // timestamp,metric,region,value,forecast,z_forecast,...,score,...
  size_t compared = 0;
  while (std::getline(csv, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, ',')) f.push_back(field);
    f.resize(16);
    const std::string key = "{metric=\"" + f[1] + "\",region=\"" + f[2] + "\"}|" + std::to_string(*parse_timestamp(f[0]));
    const std::pair<const char*, const std::string*> columns[] = {
        {"vigil_forecast", &f[4]}, {"vigil_z", &f[5]}, {"vigil_score", &f[11]}};
    for (const auto& [family, text] : columns) {
      auto it = om.find(std::string(family) + "|" + key);
      if (text->empty()) {
        EXPECT_TRUE(it == om.end()) << family << key;
        continue;
      }
      ASSERT_TRUE(it != om.end()) << family << key;
      const double want = std::stod(*text);
      EXPECT_NEAR(it->second, want, 1e-3 * std::max(1.0, std::fabs(want))) << family << key;
      om.erase(it);
      ++compared;
    }
  }
  EXPECT_GT(compared, 1500u);
  EXPECT_TRUE(om.empty()) << om.size() << " samples not in the CSV, e.g. " << om.begin()->first;
}

TEST(OpenMetricsScores, PromtoolBackfillsThemAndTheExportedData) {
  const std::string promtool = test::find_program("promtool");
  if (promtool.empty()) GTEST_SKIP() << "promtool is not installed (apt-get install prometheus)";
  test::TempDir tmp;
  // promtool writes a block per 2 hours of data: two days keep it to a few seconds.
  const std::string input = traffic_csv(tmp, 2 * 288, 300);
  auto r = test::run_vigil("score --input " + input + " --backend cpu --scores " + tmp.file("s.om") +
                           " --scores-format openmetrics");
  ASSERT_EQ(r.code, 0) << r.err;
  r = test::run_vigil("export --input " + input + " --out " + tmp.file("data.om"));
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* file : {"s.om", "data.om"}) {
    const auto [code, out] = test::run_command(promtool + " tsdb create-blocks-from openmetrics " + tmp.file(file) +
                                               " " + tmp.file(std::string(file) + ".blocks") + " 2>&1");
    EXPECT_EQ(code, 0) << file << ": " << out;
    EXPECT_NE(out.find("BLOCK ULID"), std::string::npos) << out;
  }
  EXPECT_NE(test::read_file(tmp.file("s.om")).find("vigil_score{"), std::string::npos);
}

TEST(OpenMetricsExport, OneFamilyPerMetricLabelsForTheOtherDimensionsNaNForMissing) {
  test::TempDir tmp;
  const std::string input = traffic_csv(tmp);
  const auto r = test::run_vigil("export --input " + input + " --out " + tmp.file("data.om"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("exported 3 series x 240 points"), std::string::npos) << r.out;
  std::vector<std::string> families;
  const auto samples = parse_openmetrics(test::read_file(tmp.file("data.om")), &families);
  EXPECT_EQ(families, (std::vector<std::string>{"errors", "plays"}));
  ASSERT_EQ(samples.size(), 3u * 240u);
  const int64_t start = *parse_timestamp("2026-03-01T00:00:00Z");
  size_t missing = 0;
  for (const auto& s : samples) {
    if (std::isnan(s.value)) {
      ++missing;
      EXPECT_EQ(s.labels, "{region=\"uk\"}");
      EXPECT_EQ(s.ts, start + 100 * 3600);
    }
  }
  EXPECT_EQ(missing, 1u);
  EXPECT_EQ(samples.front().labels, "{region=\"br\"}");
  EXPECT_EQ(samples.front().ts, start);
  EXPECT_DOUBLE_EQ(samples.front().value, 10);
}

TEST(OpenMetricsExport, IllegalMetricNamesAndCollidingLabelsAreOneLineExit2) {
  test::TempDir tmp;
  test::write_file(tmp.file("bad_metric.csv"), "timestamp,metric,value\n2026-03-01T00:00:00Z,play starts,1\n");
  auto r = test::run_vigil("export --input " + tmp.file("bad_metric.csv") + " --out " + tmp.file("a.om") + " --step 1h");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("'play starts' is not a legal metric name"), std::string::npos) << r.err;
  test::write_file(tmp.file("collide.csv"), "timestamp,device-type,device_type,value\n2026-03-01T00:00:00Z,a,b,1\n");
  r = test::run_vigil("export --input " + tmp.file("collide.csv") + " --out " + tmp.file("b.om") + " --step 1h");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("both become the label 'device_type'"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp.file("a.om")));
  EXPECT_FALSE(std::filesystem::exists(tmp.file("b.om")));
}

TEST(OpenMetricsNames, LabelNamesAreSanitisedToPrometheusSyntax) {
  EXPECT_EQ(sanitize_label_name("device"), "device");
  EXPECT_EQ(sanitize_label_name("device-type"), "device_type");
  EXPECT_EQ(sanitize_label_name("2nd"), "dim_2nd");
  EXPECT_EQ(sanitize_label_name("__name__"), "dim___name__");
  EXPECT_EQ(sanitize_label_name("région"), "r__gion");  // each byte of a non-ASCII letter
  EXPECT_EQ(sanitize_label_name(""), "dim_");
  EXPECT_TRUE(is_metric_name("node:cpu_seconds:rate5m"));
  EXPECT_FALSE(is_metric_name("5xx"));
  EXPECT_FALSE(is_metric_name("play starts"));
}

}  // namespace
}  // namespace vigil
