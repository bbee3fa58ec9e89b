// `vigil score` as a user runs it: files in, files out, exit codes and messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/synthetic.hpp"
#include "common/test_util.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

using test::read_file;
using test::run_vigil;
using test::TempDir;
using test::write_file;

// Hourly traffic for region x stack series over `days`, as long CSV, with one gap, one NaN and
// one inf, and an outage on (br, web) at day 9 10:00-14:00. Returns the number of data rows.
size_t write_traffic_csv(const std::string& path, int days, bool short_series = false) {
  std::vector<test::TrafficShape> shapes(4);
  for (size_t k = 0; k < shapes.size(); ++k) shapes[k].level = 5000.0 * (k + 1);
  Dataset d = test::make_traffic(4, days, 3600, 3, shapes);
  const char* regions[] = {"br", "br", "uk", "uk"};
  const char* stacks[] = {"web", "tv", "web", "tv"};
  std::ostringstream out;
  out << "timestamp,region,stack,value\n";
  size_t rows = 0;
  for (size_t t = 0; t < d.T; ++t)
    for (size_t i = 0; i < 4; ++i) {
      if (i == 2 && t == 30) continue;  // a gap: no row at all
      float v = d.values[t * 4 + i];
      if (i == 0 && t >= 9 * 24 + 10 && t < 9 * 24 + 14) v *= 0.3f;
      out << format_iso(d.time_at(t)) << ',' << regions[i] << ',' << stacks[i] << ',';
      if (i == 1 && t == 40) out << "NaN";
      else if (i == 1 && t == 41) out << "inf";
      else out << v;
      out << '\n';
      ++rows;
    }
  if (short_series) {  // a series that only starts on the last day
    for (size_t t = d.T - 20; t < d.T; ++t) {
      out << format_iso(d.time_at(t)) << ",de,web," << 100 + t % 7 << '\n';
      ++rows;
    }
  }
  write_file(path, out.str());
  return rows;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> v;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) v.push_back(nlohmann::json::parse(line));
  return v;
}

TEST(ScoreCli, WritesAlarmsLedgerAndOneScoresRowPerInputPoint) {
  TempDir tmp;
  const size_t rows = write_traffic_csv(tmp.file("in.csv"), 12, true);
  auto r = run_vigil("score --input " + tmp.file("in.csv") + " --alarms " + tmp.file("a.jsonl") + " --ledger " +
                     tmp.file("l.jsonl") + " --scores " + tmp.file("s.csv") + " --backend cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("1 series with too little history"), std::string::npos) << r.out;

  const std::string scores = read_file(tmp.file("s.csv"));
  std::istringstream in(scores);
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header,
            "timestamp,region,stack,value,forecast,z_forecast,z_derivative,z_volatility,breadth,correlation,events,"
            "score,z_local,z_calibrated,z_accumulated,z_baseline,lower,upper");
  EXPECT_EQ(test::count_lines(scores), rows + 1);
  std::string line;
  size_t scored = 0;
  while (std::getline(in, line)) {
    ASSERT_EQ(line.size() > 20 && line[10] == 'T' && line[19] == 'Z', true) << line;
    ASSERT_EQ(std::count(line.begin(), line.end(), ','), 17) << line;
    size_t at = line.size();
    for (int k = 0; k < 7; ++k) at = line.rfind(',', at - 1);  // the score is the 7th field from the end
    const std::string score = line.substr(at + 1, line.find(',', at + 1) - at - 1);
    if (!score.empty()) {
      const double s = std::stod(score);
      ASSERT_GE(s, 0.0);
      ASSERT_LE(s, 1.0);
      ++scored;
    }
  }
  EXPECT_GT(scored, rows / 2);

  auto alarms = read_jsonl(tmp.file("a.jsonl"));
  ASSERT_GE(alarms.size(), 1u);
  bool outage = false;
  for (const auto& a : alarms) {
    for (const char* field : {"id", "status", "reason", "start", "end", "direction", "severity", "peak_z", "scope",
                              "series", "n_series", "evidence"})
      EXPECT_TRUE(a.contains(field)) << field;
    EXPECT_EQ(a["status"], "raised");
    EXPECT_EQ(a["n_series"].get<size_t>(), a["series"].size());
    for (const auto& s : a["series"]) {
      EXPECT_TRUE(s.contains("region"));
      EXPECT_TRUE(s.contains("stack"));
    }
    if (a["scope"] == nlohmann::json{{"region", "br"}, {"stack", "web"}} && a["direction"] == "drop") {
      outage = true;
      EXPECT_EQ(a["start"], "2026-03-11T10:00:00Z");
      EXPECT_EQ(a["end"], "2026-03-11T14:00:00Z");
      EXPECT_NEAR(a["evidence"]["impact"].get<double>(), -0.7, 0.1);
    }
  }
  EXPECT_TRUE(outage) << read_file(tmp.file("a.jsonl"));
  auto ledger = read_jsonl(tmp.file("l.jsonl"));
  EXPECT_GE(ledger.size(), alarms.size());
  for (const auto& e : ledger) {
    // Every candidate is explained: raised ones name their alarm, suppressed ones their rule.
    EXPECT_EQ(e["evidence"]["rule"], e["reason"]);
    if (e["status"] == "raised") {
      EXPECT_EQ(e["n_series"], 1);
      EXPECT_TRUE(e["evidence"]["alarm"].is_string());
    } else {
      EXPECT_TRUE(e["reason"] == "anticipated_event" || e["reason"] == "external_event" ||
                  e["reason"] == "gradual_shift")
          << e.dump();
    }
  }
}

TEST(ScoreCli, ScoreFromKeepsEarlierEpisodesOut) {
  TempDir tmp;
  write_traffic_csv(tmp.file("in.csv"), 12);
  auto r = run_vigil("score --input " + tmp.file("in.csv") + " --alarms " + tmp.file("a.jsonl") +
                     " --score-from 2026-03-11T16:00:00Z");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const auto& a : read_jsonl(tmp.file("a.jsonl"))) EXPECT_GE(a["start"].get<std::string>(), "2026-03-11T16:00:00Z");
}

// Every bad input: exit 2, one line on stderr naming the file (and line), no output file.
void expect_rejected(const std::string& args, const std::string& must_mention, const TempDir& tmp) {
  auto r = run_vigil("score " + args + " --alarms " + tmp.file("a.jsonl") + " --scores " + tmp.file("s.csv"));
  EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
  EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find(must_mention), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp.file("a.jsonl")));
  EXPECT_FALSE(std::filesystem::exists(tmp.file("s.csv")));
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path()))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

TEST(ScoreCli, BadInputIsOneLineAndExitTwoWithNoOutput) {
  TempDir tmp;
  expect_rejected("--input " + tmp.file("missing.csv"), "missing.csv", tmp);
  write_file(tmp.file("empty.csv"), "");
  expect_rejected("--input " + tmp.file("empty.csv"), "empty.csv", tmp);
  write_file(tmp.file("header.csv"), "time,region,value\n2026-03-02T00:00:00Z,br,1\n");
  expect_rejected("--input " + tmp.file("header.csv"), "header.csv", tmp);
  write_file(tmp.file("number.csv"), "timestamp,value\n2026-03-02T00:00:00Z,1\n2026-03-02T01:00:00Z,abc\n");
  expect_rejected("--input " + tmp.file("number.csv"), "number.csv:3", tmp);
  write_file(tmp.file("time.csv"), "timestamp,value\n2026-03-02T00:00:00Z,1\nyesterday,2\n");
  expect_rejected("--input " + tmp.file("time.csv"), "time.csv:3", tmp);
  write_traffic_csv(tmp.file("ok.csv"), 3);
  expect_rejected("--input " + tmp.file("ok.csv") + " --group-dim country", "country", tmp);
  expect_rejected("--input " + tmp.file("ok.csv") + " --stack-dim platform", "platform", tmp);
  expect_rejected("--input " + tmp.file("ok.csv") + " --backend gpu", "--backend", tmp);
  expect_rejected("--input " + tmp.file("ok.csv") + " --mechanisms magic", "--mechanisms", tmp);
  write_file(tmp.file("config.json"), "{\"threshold\": \"high\"}");
  expect_rejected("--input " + tmp.file("ok.csv") + " --config " + tmp.file("config.json"), "config.json", tmp);
  write_file(tmp.file("events.csv"), "event,start,end,scope,expected_impact\nfinal,2026-03-03T20:00:00Z,2026-03-03T19:00:00Z,*,\n");
  expect_rejected("--input " + tmp.file("ok.csv") + " --events " + tmp.file("events.csv"), "events.csv:2", tmp);
}

TEST(ScoreCli, CudaBackendOnAMachineWithoutAGpuIsAClearError) {
  TempDir tmp;
  write_traffic_csv(tmp.file("ok.csv"), 3);
  auto r = run_vigil("score --input " + tmp.file("ok.csv") + " --backend cuda --alarms " + tmp.file("a.jsonl"));
  if (r.code == 0) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--backend cuda"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp.file("a.jsonl")));
}

TEST(ScoreCli, SingleSeriesCsvIsScored) {
  TempDir tmp;
  Dataset d = test::make_traffic(1, 10, 3600, 4);
  std::string csv = "timestamp,value\n";
  for (size_t t = 0; t < d.T; ++t) csv += std::to_string(d.time_at(t)) + "," + std::to_string(d.values[t] * 100) + "\n";
  write_file(tmp.file("one.csv"), csv);
  auto r = run_vigil("score --input " + tmp.file("one.csv") + " --scores " + tmp.file("s.csv"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(test::count_lines(read_file(tmp.file("s.csv"))), d.T + 1);
  EXPECT_EQ(read_file(tmp.file("s.csv")).substr(0, 19), "timestamp,value,for");
}

TEST(ScoreCli, IrregularTimestampsAreAnErrorOrSnappedToTheGrid) {
  TempDir tmp;
  Dataset d = test::make_traffic(1, 10, 300, 6);
  // A sensor that reports every 5 minutes with up to a minute of jitter either way.
  std::string csv = "timestamp,value\n";
  for (size_t t = 0; t < d.T; ++t) {
    const int64_t jitter = t == 0 ? 0 : static_cast<int64_t>((t * 7919) % 121) - 60;
    csv += format_iso(d.time_at(t) + jitter) + "," + std::to_string(d.values[t]) + "\n";
  }
  write_file(tmp.file("jitter.csv"), csv);
  auto r = run_vigil("score --input " + tmp.file("jitter.csv") + " --step 5m --scores " + tmp.file("s.csv"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("not on the grid"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--off-grid snap"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp.file("s.csv")));
  r = run_vigil("score --input " + tmp.file("jitter.csv") + " --step 5m --off-grid snap --quiet --scores " +
                tmp.file("s.csv"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(test::count_lines(read_file(tmp.file("s.csv"))), d.T + 1);  // one row per input row
  EXPECT_EQ(run_vigil("score --input " + tmp.file("jitter.csv") + " --off-grid nearest").code, 2);
}

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST(ScoreCli, BatchesOfGroupsGiveTheOutputsOfOnePiece) {
  test::TempDir tmp;
  ASSERT_EQ(test::run_vigil("generate --out " + tmp.file("cube") +
                            " --shape metric=2,stack=2,device=2,region=3 --days 10 --step 30m --seed 5 --quiet")
                .code,
            0);
  for (const char* batch : {"0", "8"}) {  // one piece; a region (8 series) a batch
    auto r = test::run_vigil("score --input " + tmp.file("cube") + " --events " + tmp.file("cube/events.csv") +
                             " --batch-series " + batch + " --alarms " + tmp.file(std::string(batch) + ".alarms") +
                             " --ledger " + tmp.file(std::string(batch) + ".ledger") + " --scores " +
                             tmp.file(std::string(batch) + ".scores"));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.find("batches") != std::string::npos, std::string(batch) == "8") << r.out;
  }
  for (const char* out : {".alarms", ".ledger"})
    EXPECT_EQ(test::read_file(tmp.file(std::string("0") + out)), test::read_file(tmp.file(std::string("8") + out)))
        << out;
  // The scores hold the same rows; batches write their series group by group.
  const auto one = sorted_lines(test::read_file(tmp.file("0.scores")));
  EXPECT_GT(one.size(), 24u * 480u);
  EXPECT_EQ(one, sorted_lines(test::read_file(tmp.file("8.scores"))));
}

TEST(ScoreCli, AFullDiskIsOneLineAndExitTwoWithNoOutput) {
  test::TempDir tmp;
  ASSERT_EQ(test::run_vigil("generate --out " + tmp.file("cube") +
                            " --shape metric=2,stack=2,device=2,region=3 --days 10 --step 30m --seed 5 --quiet")
                .code,
            0);
  std::filesystem::create_directories(tmp.file("out"));
  // A file-size limit makes writes fail as a full disk would (EFBIG instead of ENOSPC).
  const std::string cmd = "ulimit -f 64; " + std::string(VIGIL_BINARY) + " score --input " + tmp.file("cube") +
                          " --batch-series 8 --alarms " + tmp.file("out/a.jsonl") + " --scores " +
                          tmp.file("out/s.csv") + " >/dev/null 2>" + tmp.file("err");
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  const std::string err = test::read_file(tmp.file("err"));
  EXPECT_EQ(test::count_lines(err), 1u) << err;
  EXPECT_NE(err.find("s.csv: cannot write"), std::string::npos) << err;
  EXPECT_TRUE(std::filesystem::is_empty(tmp.file("out")));  // neither output nor temp file
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// A generated CSV and the same cube give identical `vigil score` results, byte for byte.
TEST(ScoreCli, GeneratedCsvAndCubeScoreIdentically) {
  test::TempDir tmp;
  const std::string common = " --shape metric=2,stack=2,device=2,region=3 --days 10 --step 30m --seed 5 --quiet";
  ASSERT_EQ(test::run_vigil("generate --out " + tmp.file("cube") + " --format cube" + common).code, 0);
  ASSERT_EQ(test::run_vigil("generate --out " + tmp.file("csv") + " --format csv" + common).code, 0);
  for (const char* kind : {"cube", "csv"}) {
    const std::string input = std::string(kind) == "cube" ? tmp.file("cube") : tmp.file("csv") + "/data.csv";
    auto r = test::run_vigil("score --input " + input + " --alarms " + tmp.file(std::string(kind) + ".alarms") +
                             " --ledger " + tmp.file(std::string(kind) + ".ledger") + " --scores " +
                             tmp.file(std::string(kind) + ".scores") + " --quiet");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  for (const char* out : {".alarms", ".ledger", ".scores"}) {
    const std::string a = test::read_file(tmp.file(std::string("cube") + out));
    EXPECT_FALSE(a.empty()) << out;
    EXPECT_EQ(a, test::read_file(tmp.file(std::string("csv") + out))) << out;
  }
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

TEST(AblateCli, PrintsEveryMechanismRowAgainstTheTruth) {
  test::TempDir tmp;
  ASSERT_EQ(test::run_vigil("generate --out " + tmp.file("cube") +
                            " --shape metric=2,stack=2,device=2,region=3 --days 16 --step 30m --seed 3 --quiet")
                .code,
            0);
  auto r = test::run_vigil("ablate --input " + tmp.file("cube") + " --backend cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line, none_row;
  while (std::getline(in, line))
    if (line.rfind("none ", 0) == 0) none_row = line;
  ASSERT_FALSE(none_row.empty()) << r.out;
  // The baseline removes nothing and costs no recall relative to itself.
  std::istringstream fields(none_row);
  std::vector<std::string> f;
  for (std::string w; fields >> w;) f.push_back(w);
  ASSERT_EQ(f.size(), 11u) << none_row;
  EXPECT_EQ(f[8], "0");
  EXPECT_EQ(f[9], "0.000");
  const double recall = std::stod(f[7]);
  EXPECT_GE(recall, 0.0);
  EXPECT_LE(recall, 1.0);
  for (const char* row : {"\nevents ", "\nensemble ", "\ncross-stack ", "\nall "})
    EXPECT_NE(r.out.find(row), std::string::npos) << row << "\n" << r.out;
  EXPECT_EQ(test::run_vigil("ablate --input " + tmp.file("nothing")).code, 2);
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

TEST(ScoreCli, EventsOutsideTheDataAreAcceptedAndReportedUnused) {
  test::TempDir tmp;
  write_traffic_csv(tmp.file("in.csv"), 12);
  test::write_file(tmp.file("events.csv"),
                   "event,start,end,scope,expected_impact\n"
                   "final,2026-03-08T19:00:00Z,2026-03-08T21:00:00Z,region=br,-0.2\n"
                   "final,2030-03-08T19:00:00Z,2030-03-08T21:00:00Z,*,\n");
  auto r = test::run_vigil("score --input " + tmp.file("in.csv") + " --events " + tmp.file("events.csv") +
                           " --scores " + tmp.file("s.csv"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("events: 2 scheduled, 1 outside the data's time range (unused), 2 series-occurrences"),
            std::string::npos)
      << r.out;
  // The scores name the active event on the series it applies to, and only there.
  const std::string scores = test::read_file(tmp.file("s.csv"));
  EXPECT_NE(scores.find("2026-03-08T19:00:00Z,br,web,"), std::string::npos);
  size_t named = 0;
  std::istringstream in(scores);
  for (std::string line; std::getline(in, line);)
    if (line.find(",final,") != std::string::npos) {
      ++named;
      EXPECT_NE(line.find(",br,"), std::string::npos) << line;
    }
  EXPECT_EQ(named, 2u * 2u);  // two br series x two hourly points in [19:00, 21:00)
}

}  // namespace
}  // namespace vigil
