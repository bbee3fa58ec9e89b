// `vigil report` as a user runs it: from the sample's files, through `vigil score --report`,
// with a bounded number of alarms drawn, and on files that do not belong together.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "common/test_util.hpp"

namespace vigil {
namespace {

using test::read_file;
using test::run_vigil;
using test::TempDir;
using test::write_file;

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class ReportCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const auto r = run_vigil("sample --out " + dir_->file("s") + " --backend cpu");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string file(const std::string& name) { return dir_->file("s/" + name); }
  static std::string args(const std::string& scores) {
    return "report --alarms " + file("alarms.jsonl") + " --ledger " + file("ledger.jsonl") + " --scores " + scores +
           " --events " + file("data/events.csv");
  }
  static TempDir* dir_;
};
TempDir* ReportCli::dir_ = nullptr;

TEST_F(ReportCli, SampleWritesThePageAndEveryAlarmHasASection) {
  const std::string page = read_file(file("report.html"));
  const size_t alarms = test::count_lines(read_file(file("alarms.jsonl")));
  ASSERT_GT(alarms, 5u);
  EXPECT_EQ(count_of(page, "class=\"alarm-section\""), alarms);
  EXPECT_GT(count_of(page, "class=\"notice-section\""), 0u);
  EXPECT_NE(page.find("id=\"near-misses\""), std::string::npos);
  EXPECT_NE(page.find("id=\"truth\""), std::string::npos);  // the sample has a truth file
  EXPECT_EQ(page.find("<script"), std::string::npos);
}

TEST_F(ReportCli, OnlyTheMostSevereAreDrawnTheRestListed) {
  TempDir tmp;
  const auto r = run_vigil(args(file("scores.csv")) + " --max-drawn 3 --out " + tmp.file("r.html"));
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string page = read_file(tmp.file("r.html"));
  const size_t alarms = test::count_lines(read_file(file("alarms.jsonl")));
  EXPECT_EQ(count_of(page, "class=\"alarm-section\""), 3u);
  EXPECT_NE(page.find("The first 3 of " + std::to_string(alarms) + " alarms are drawn"), std::string::npos);
  // Every alarm is in the summary's table; the drawn ones link to their sections.
  EXPECT_EQ(count_of(page, "<td><a href=\"#alarm-"), 3u);
  EXPECT_EQ(count_of(page, "<td><span class=\"sev "), alarms);
  EXPECT_EQ(page.find("id=\"truth\""), std::string::npos);  // no --truth
}

TEST_F(ReportCli, ScoreWritesTheReportInOneGo) {
  TempDir tmp;
  const std::string data = file("data");
  const auto r = run_vigil("score --input " + data + " --config " + data + "/config.json --events " + data +
                           "/events.csv --alarms " + tmp.file("a.jsonl") + " --ledger " + tmp.file("l.jsonl") +
                           " --scores " + tmp.file("s.csv") + " --report " + tmp.file("r.html") +
                           " --backend cpu --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string page = read_file(tmp.file("r.html"));
  EXPECT_EQ(count_of(page, "class=\"alarm-section\""), test::count_lines(read_file(tmp.file("a.jsonl"))));
  const auto no_scores = run_vigil("score --input " + data + " --alarms " + tmp.file("a2.jsonl") + " --report " +
                                   tmp.file("r2.html") + " --backend cpu --quiet");
  EXPECT_EQ(no_scores.code, 2);
  EXPECT_NE(no_scores.err.find("--report needs --alarms, --ledger and --scores"), std::string::npos) << no_scores.err;
}

// A scores file without some rows the alarms need: one line naming the problem, exit 2, no page.
void expect_rejected(const std::string& command, const std::string& out, const std::string& message) {
  const auto r = run_vigil(command + " --out " + out);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(out).parent_path()))
    EXPECT_EQ(entry.path().filename().string().find("r.html"), std::string::npos) << entry.path();
}

TEST_F(ReportCli, ScoresThatDoNotBelongToTheAlarmsAreRejected) {
  TempDir tmp;
  const std::string scores = read_file(file("scores.csv"));
  std::istringstream in(scores);
  std::string header, line;
  std::getline(in, header);
  // The first alarm line's strongest series, as its scores rows begin.
  const std::string alarm = read_file(file("alarms.jsonl")).substr(0, read_file(file("alarms.jsonl")).find('\n'));
  const size_t s0 = alarm.find("\"series\":[{") + 11;
  std::string dims = alarm.substr(s0, alarm.find('}', s0) - s0);  // "metric":"x","stack":"y",...
  std::string values;  // x,y,... in the file's order (the alarm lists dims in the same order)
  for (size_t at = 0; (at = dims.find(":\"", at)) != std::string::npos; at += 2)
    values += "," + dims.substr(at + 2, dims.find('"', at + 2) - at - 2);
  std::string without_series = header + "\n", early_only = header + "\n";
  size_t dropped = 0;
  while (std::getline(in, line)) {
    if (line.compare(20, values.size() + 1, values + ",") == 0) ++dropped;
    else without_series += line + "\n";
    if (line.compare(0, 10, "2026-03-10") < 0) early_only += line + "\n";
  }
  ASSERT_GT(dropped, 1000u);
  write_file(tmp.file("missing-series.csv"), without_series);
  write_file(tmp.file("early.csv"), early_only);
  std::string old_header = header.substr(0, header.find(",lower"));
  write_file(tmp.file("no-band.csv"), old_header + "\n");

  expect_rejected(args(tmp.file("missing-series.csv")), tmp.file("r.html"), "no rows for series");
  expect_rejected(args(tmp.file("early.csv")), tmp.file("r.html"), "the scores file is not this run's");
  expect_rejected(args(tmp.file("no-band.csv")), tmp.file("r.html"), "no \"lower\" column");
  write_file(tmp.file("bad.jsonl"), "{\"id\": \"alarm-1\", \"start\": \"yesterday\"}\n");
  expect_rejected("report --alarms " + tmp.file("bad.jsonl") + " --ledger " + file("ledger.jsonl") + " --scores " +
                      file("scores.csv"),
                  tmp.file("r.html"), "bad.jsonl:1: \"start\" is not an ISO-8601 time");
}

}  // namespace
}  // namespace vigil
