// `mpirun -np K vigil score` as a user runs it: the same alarms and ledger, byte for byte, as one
// process; the same score rows; and a failing rank ends the job with one line and nothing left
// behind. Skipped in a build without MPI.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/test_util.hpp"

namespace vigil {
namespace {

using test::read_file;
using test::run_vigil;
using test::TempDir;

#ifdef VIGIL_MPIEXEC
constexpr bool kHaveMpi = true;
const char* kMpiexec = VIGIL_MPIEXEC;
#else
constexpr bool kHaveMpi = false;
const char* kMpiexec = "";
#endif

// `mpirun -np K <program> <args>` through the shell: root in a container needs
// --allow-run-as-root, 2 cores need --oversubscribe; one OpenMP thread per rank. Shared-memory
// messages without the kernel's cross-process copy, which a container's seccomp may forbid.
test::RunResult run_mpi(int ranks, const std::string& args, const std::string& env = "",
                        const std::string& program = VIGIL_BINARY) {
  TempDir tmp;
  const std::string out = tmp.file("stdout"), err = tmp.file("stderr");
  const std::string cmd = "OMP_NUM_THREADS=1 OMPI_MCA_btl_vader_single_copy_mechanism=none " + env + " " + kMpiexec +
                          " --allow-run-as-root --oversubscribe -np " + std::to_string(ranks) + " " + program + " " +
                          args + " >" + out + " 2>" + err;
  const int status = std::system(cmd.c_str());
  test::RunResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

// The lines vigil itself wrote to stderr (mpirun adds its own report of a failed job).
std::vector<std::string> vigil_lines(const std::string& err) {
  std::vector<std::string> lines;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("vigil", 0) == 0) lines.push_back(line);
  return lines;
}

std::vector<std::string> names_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// 8 regions x 3 stacks x 2 devices x 2 metrics, 10 days at 15 minutes, with incidents, scheduled
// and external events: episodes of every decision, notices, alarms across regions.
class Mpirun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!kHaveMpi) return;
    data_ = new TempDir;
    ASSERT_EQ(run_vigil("generate --out " + data_->file("cube") +
                        " --shape metric=2,stack=3,device=2,region=8 --days 10 --step 15m --seed 4 --incidents 4"
                        " --anticipated 2 --external-low 2")
                  .code,
              0);
    ASSERT_EQ(run_vigil("generate --out " + data_->file("csv") + " --format csv" +
                        " --shape metric=2,stack=3,device=2,region=5 --days 9 --step 15m --seed 5 --incidents 3")
                  .code,
              0);
    // One region's active_sessions become fractional: the "auto" transform of the whole metric
    // (every region, on every rank) turns from count to log1p, as one process decides it.
    std::istringstream in(read_file(data_->file("csv") + "/data.csv"));
    std::string text, line;
    while (std::getline(in, line)) {
      const size_t comma = line.rfind(',');
      const bool fractional = line.find(",active_sessions,") != std::string::npos &&
                              line.compare(comma - 3, 4, ",br,") == 0 && comma + 1 < line.size();
      text += line + (fractional ? ".5\n" : "\n");
    }
    test::write_file(data_->file("csv") + "/data.csv", text);
  }
  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
  }
  void SetUp() override {
    if (!kHaveMpi) GTEST_SKIP() << "built without MPI";
  }
  static std::string cube_args() {
    const std::string cube = data_->file("cube");
    return "score --input " + cube + " --config " + cube + "/config.json --events " + cube + "/events.csv";
  }
  static std::string outputs(const TempDir& out) {
    return " --alarms " + out.file("alarms.jsonl") + " --ledger " + out.file("ledger.jsonl") + " --scores " +
           out.file("scores.csv") + " --quiet";
  }
  static TempDir* data_;
};
TempDir* Mpirun::data_ = nullptr;

void expect_same_results(const TempDir& one, const TempDir& many, const std::string& what) {
  const std::string alarms = read_file(one.file("alarms.jsonl"));
  ASSERT_FALSE(alarms.empty()) << "the data should raise alarms";
  EXPECT_EQ(read_file(many.file("alarms.jsonl")), alarms) << what;
  EXPECT_EQ(read_file(many.file("ledger.jsonl")), read_file(one.file("ledger.jsonl"))) << what;
  const std::string scores_one = read_file(one.file("scores.csv")), scores_many = read_file(many.file("scores.csv"));
  EXPECT_EQ(scores_many.substr(0, scores_many.find('\n')), scores_one.substr(0, scores_one.find('\n'))) << "header";
  EXPECT_EQ(sorted_lines(scores_many), sorted_lines(scores_one)) << what << ": the same score rows";
  // Nothing but the outputs: the ranks' parts are gone.
  EXPECT_EQ(names_in(many.path()), (std::vector<std::string>{"alarms.jsonl", "ledger.jsonl", "scores.csv"}));
}

TEST_F(Mpirun, CubeAlarmsAndLedgerByteIdenticalToOneProcessForOneToFourRanks) {
  TempDir one;
  ASSERT_EQ(run_vigil(cube_args() + outputs(one)).code, 0);
  const std::string ledger = read_file(one.file("ledger.jsonl"));
  ASSERT_NE(ledger.find("external_event"), std::string::npos) << "the data should hold notices";
  ASSERT_NE(ledger.find("anticipated_event"), std::string::npos);
  for (int K = 1; K <= 4; ++K) {
    TempDir many;
    const auto r = run_mpi(K, cube_args() + outputs(many));
    ASSERT_EQ(r.code, 0) << K << " ranks: " << r.err;
    expect_same_results(one, many, std::to_string(K) + " ranks");
  }
}

TEST_F(Mpirun, SmallBatchesCsvInputAndGatherRoundsChangeNothing) {
  TempDir one;
  ASSERT_EQ(run_vigil(cube_args() + outputs(one)).code, 0);
  TempDir batched;  // several batches per rank, episodes gathered 100 bytes a round
  auto r = run_mpi(2, cube_args() + " --batch-series 12" + outputs(batched), "VIGIL_DIST_GATHER_ROUND_BYTES=100");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_results(one, batched, "2 ranks, batches of 12 series, gather rounds of 100 bytes");

  const std::string csv = "score --input " + data_->file("csv") + "/data.csv --config " + data_->file("csv") +
                          "/config.json";
  TempDir csv_one, csv_many;
  ASSERT_EQ(run_vigil(csv + outputs(csv_one)).code, 0);
  r = run_mpi(3, csv + outputs(csv_many));
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_results(csv_one, csv_many, "CSV input, 3 ranks");

  // Two groups (metrics) for three ranks: one rank scores nothing.
  TempDir two_one, two_many;
  ASSERT_EQ(run_vigil(csv + " --group-dim metric" + outputs(two_one)).code, 0);
  r = run_mpi(3, csv + " --group-dim metric" + outputs(two_many));
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_results(two_one, two_many, "2 groups, 3 ranks");
}

TEST_F(Mpirun, SummaryCountsTheWholeJob) {
  const auto one = run_vigil(cube_args());
  const auto many = run_mpi(3, cube_args());
  ASSERT_EQ(one.code, 0);
  ASSERT_EQ(many.code, 0) << many.err;
  // Rank 0 alone prints, and its counts are the job's.
  auto line_with = [](const std::string& text, const std::string& key) {
    const size_t at = text.find(key);
    return at == std::string::npos ? std::string() : text.substr(at, text.find('\n', at) - at);
  };
  for (const char* key : {"candidate episodes ->", "points scored by a young model", "mechanisms:", "events:"})
    EXPECT_EQ(line_with(many.out, key), line_with(one.out, key)) << key;
  EXPECT_NE(many.out.find("distributed over 3 processes"), std::string::npos);
  EXPECT_EQ(std::count(many.out.begin(), many.out.end(), '\n'), std::count(one.out.begin(), one.out.end(), '\n') + 1);
}

TEST_F(Mpirun, FailingRankEndsTheJobWithOneLineAndNoOutput) {
  TempDir out;
  // Rank 1 alone may write no more than 8 KiB: its part of the scores fails, a real write error
  // (EFBIG, as from a full disk) found by one rank while the others score.
  const std::string args = "-c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then ulimit -f 8; fi; exec " +
                           std::string(VIGIL_BINARY) + " " + cube_args() + outputs(out) + "'";
  const auto r = run_mpi(3, args, "", "sh");
  EXPECT_EQ(r.code, 2) << r.err;
  const auto lines = vigil_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("vigil score: rank 1 of 3: " + out.file("scores.csv") + " (rank 1's part): cannot write: ", 0),
            0u)
      << lines[0];
  EXPECT_NE(lines[0].find("File too large"), std::string::npos) << lines[0];
  EXPECT_TRUE(names_in(out.path()).empty()) << "left behind: " << names_in(out.path()).front();
}

TEST_F(Mpirun, KilledRankLeavesNothingBehind) {
  TempDir out;
  // Rank 1 dies (SIGKILL, as from the OOM killer) with its part written and the others at work or
  // waiting; the launcher ends them and they remove every part.
  const auto r = run_mpi(3, cube_args() + outputs(out), "VIGIL_DIST_TEST_KILL_RANK=1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("rank 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("signal 9"), std::string::npos) << r.err;
  EXPECT_TRUE(names_in(out.path()).empty()) << "left behind: " << names_in(out.path()).front();
}

TEST_F(Mpirun, BadInputIsReportedOnceAsByOneProcess) {
  TempDir out;
  const std::string bad = out.file("bad.csv");
  test::write_file(bad, "timestamp,region,value\n2026-03-02T00:00:00Z,br,1\n2026-03-02T00:00:00Z,br,2\n");
  const std::string args = "score --input " + bad + " --alarms " + out.file("alarms.jsonl");
  const auto one = run_vigil(args);
  ASSERT_EQ(one.code, 2);
  const std::string cause = one.err.substr(std::string("vigil score: ").size());
  const auto r = run_mpi(2, args);
  EXPECT_EQ(r.code, 2);
  const auto lines = vigil_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0] + "\n", "vigil score: rank 0 of 2: " + cause);
  EXPECT_EQ(names_in(out.path()), std::vector<std::string>{"bad.csv"});
}

TEST_F(Mpirun, BenchReportsEachRankImbalanceAndGather) {
  TempDir out;
  const auto r = run_mpi(3, "bench --series 3000 --points 2016 --peer-series 0 --quiet --json " + out.file("b.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("distributed bench: 3 ranks"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("imbalance: slowest rank"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gather to rank 0:"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(read_file(out.file("b.json")));
  ASSERT_EQ(j["per_rank"].size(), 3u);
  size_t series = 0;
  for (const auto& rank : j["per_rank"]) {
    series += rank["series"].get<size_t>();
    EXPECT_GT(rank["seconds"].get<double>(), 0);
    EXPECT_GT(rank["sent_bytes"].get<size_t>(), 0u);
  }
  EXPECT_EQ(series, j["series"].get<size_t>());
  // 24 regions of 128 series over 3 ranks: 8 each.
  for (const auto& rank : j["per_rank"]) EXPECT_EQ(rank["series"].get<size_t>(), j["series"].get<size_t>() / 3);
  EXPECT_GE(j["imbalance"].get<double>(), 1.0);
  EXPECT_GE(j["gather"]["seconds"].get<double>(), 0.0);
  EXPECT_GT(j["gather"]["episodes"].get<size_t>(), 0u) << "a week of generated data holds episodes";
}

}  // namespace
}  // namespace vigil
