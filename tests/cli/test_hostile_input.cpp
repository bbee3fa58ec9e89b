// Hostile input, faults and signals through the `vigil` command (issue 14): every bad input is
// one printable line naming the file (and line), exit code 2, and no file at any output path;
// a killed run leaves nothing behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <thread>

#include "common/test_util.hpp"
#include "vigil/error.hpp"
#include "vigil/limits.hpp"

namespace vigil {
namespace {

namespace fs = std::filesystem;
using test::count_lines;
using test::read_file;
using test::run_vigil;
using test::TempDir;
using test::write_file;

// Hourly rows of two regions for `days`: a valid long CSV to corrupt. `region_of` names the
// second region (a hostile value goes there), whose rows start at line 3.
std::string traffic_csv(int days, const std::string& second_region = "uk", const std::string& dim = "region") {
  std::ostringstream out;
  out << "timestamp," << dim << ",value\n";
  for (int h = 0; h < days * 24; ++h)
    for (const std::string& region : {std::string("br"), second_region})
      out << 1767225600 + h * 3600 << ',' << region << ',' << 1000 + 300 * std::sin(h * 0.2618) << '\n';
  return out.str();
}

// Every output flag into `out/`, so "no partial output" is checked on all three at once.
std::string all_outputs(const TempDir& tmp) {
  fs::create_directories(tmp.file("out"));
  return " --alarms " + tmp.file("out/a.jsonl") + " --ledger " + tmp.file("out/l.jsonl") + " --scores " +
         tmp.file("out/s.csv") + " --backend cpu --quiet";
}

// Exit 2, one line on stderr that contains `expected`, nothing in out/.
void expect_rejected(const test::RunResult& r, const TempDir& tmp, const std::string& expected) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  if (fs::exists(tmp.file("out"))) {
    for (const auto& entry : fs::directory_iterator(tmp.file("out"))) ADD_FAILURE() << "left behind: " << entry.path();
  }
}

TEST(HostileInput, NonUtf8DimensionValueIsOneLineNamingTheFileAndLine) {
  TempDir tmp;
  write_file(tmp.file("in.csv"), traffic_csv(3, "u\xffk"));
  const auto r = run_vigil("score --input " + tmp.file("in.csv") + all_outputs(tmp));
  expect_rejected(r, tmp, "in.csv:3: region value 'u\\xffk' is not valid UTF-8");
}

TEST(HostileInput, NonUtf8InKeysCsvEventNameAndYamlMetricName) {
  TempDir tmp;
  write_file(tmp.file("in.csv"), traffic_csv(3));
  ASSERT_EQ(run_vigil("convert --input " + tmp.file("in.csv") + " --out " + tmp.file("cube")).code, 0);
  const std::string keys = read_file(tmp.file("cube/keys.csv"));
  write_file(tmp.file("cube/keys.csv"), keys.substr(0, keys.rfind("uk")) + "u\xc3k\n");
  expect_rejected(run_vigil("score --input " + tmp.file("cube") + all_outputs(tmp)), tmp,
                  "keys.csv:3: region value 'u\\xc3k' is not valid UTF-8");
  write_file(tmp.file("cube/keys.csv"), keys);

  write_file(tmp.file("ev.csv"), "event,start,end,scope,expected_impact\nfin\xe9,1767232800,1767240000,*,\n");
  expect_rejected(run_vigil("score --input " + tmp.file("cube") + " --events " + tmp.file("ev.csv") + all_outputs(tmp)),
                  tmp, "ev.csv:2: event name 'fin\\xe9' is not valid UTF-8");

  write_file(tmp.file("c.yaml"), "metrics:\n  pl\xfe: {direction: drop}\n");
  expect_rejected(run_vigil("score --input " + tmp.file("cube") + " --config " + tmp.file("c.yaml") + all_outputs(tmp)),
                  tmp, "c.yaml:2: value 'pl\\xfe' is not valid UTF-8");
}

TEST(HostileInput, JsonNumberOverflowAndYamlNanAreInputErrors) {
  TempDir tmp;
  write_file(tmp.file("in.csv"), traffic_csv(3));
  write_file(tmp.file("c.json"), "{\"threshold\": 1e999}");
  expect_rejected(run_vigil("score --input " + tmp.file("in.csv") + " --config " + tmp.file("c.json") + all_outputs(tmp)),
                  tmp, "c.json: not valid JSON");
  write_file(tmp.file("c.yaml"), "threshold: nan\n");
  expect_rejected(run_vigil("score --input " + tmp.file("in.csv") + " --config " + tmp.file("c.yaml") + all_outputs(tmp)),
                  tmp, "c.yaml: 'threshold' must be a number, not \"nan\"");
}

TEST(HostileInput, YamlAliasBombDepthAndUnterminatedQuoteAreBounded) {
  TempDir tmp;
  write_file(tmp.file("in.csv"), traffic_csv(3));
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int k = 1; k < 10; ++k) {
    bomb += "a" + std::to_string(k) + ": &a" + std::to_string(k) + " [";
    for (int j = 0; j < 10; ++j) bomb += std::string(j ? ", " : "") + "*a" + std::to_string(k - 1);
    bomb += "]\n";
  }
  write_file(tmp.file("bomb.yaml"), bomb);
  const auto started = std::chrono::steady_clock::now();
  expect_rejected(run_vigil("score --input " + tmp.file("in.csv") + " --config " + tmp.file("bomb.yaml") + all_outputs(tmp)),
                  tmp, "alias bomb");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), 20.0);

  for (const size_t depth : {100, 5000}) {  // ours, and past yaml-cpp's own guard (2,000)
    write_file(tmp.file("deep.yaml"), "metrics:\n  a: " + std::string(depth, '[') + std::string(depth, ']') + "\n");
    expect_rejected(run_vigil("score --input " + tmp.file("in.csv") + " --config " + tmp.file("deep.yaml") + all_outputs(tmp)),
                    tmp, "nested deeper than 32 levels");
  }

  write_file(tmp.file("quote.yaml"), "metric_dim: \"region\nthreshold: 7\ndirection: drop\n");  // accepted before
  expect_rejected(run_vigil("score --input " + tmp.file("in.csv") + " --config " + tmp.file("quote.yaml") + all_outputs(tmp)),
                  tmp, "quote.yaml:1: a quoted string runs past the end of its line");
}

TEST(HostileInput, MetaJsonTimesDimsAndRolesAreChecked) {
  TempDir tmp;
  write_file(tmp.file("in.csv"), traffic_csv(3));
  ASSERT_EQ(run_vigil("convert --input " + tmp.file("in.csv") + " --out " + tmp.file("cube")).code, 0);
  const std::string meta = read_file(tmp.file("cube/meta.json"));
  auto with = [&](const std::string& from, const std::string& to) {
    std::string m = meta;
    const size_t at = m.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) m.replace(at, from.size(), to);
    write_file(tmp.file("cube/meta.json"), m);
  };
  const std::string score = "score --input " + tmp.file("cube");
  with("\"2026-01-01T00:00:00Z\"", "9223372036854775807");
  expect_rejected(run_vigil(score + all_outputs(tmp)), tmp, "meta.json: start 9223372036854775807");
  with("\"2026-01-01T00:00:00Z\"", "253402300000");  // valid start, but the grid runs past 9999
  expect_rejected(run_vigil(score + all_outputs(tmp)), tmp, "end after the year 9999");
  with("\"step_seconds\": 3600", "\"step_seconds\": 9223372036854775807");
  expect_rejected(run_vigil(score + all_outputs(tmp)), tmp, "meta.json: step of 9223372036854775807 seconds is out of range");
  with("\"region\"\n  ]", "\"region\", \"region\"]");
  expect_rejected(run_vigil(score + all_outputs(tmp)), tmp, "meta.json: dimension 'region' appears twice");
  with("\"group_dim\": \"region\"", "\"group_dim\": \"device\"");
  expect_rejected(run_vigil(score + all_outputs(tmp)), tmp, "'group_dim' names 'device', which is not in 'dims'");
}

TEST(HostileInput, MessagesEscapeControlCharactersAndStayOneLine) {
  TempDir tmp;
  write_file(tmp.file("in.csv"), "timestamp,value\n1767225600,1\n1767229200,4\r\t\f2\n1767232800,3\n");
  expect_rejected(run_vigil("score --input " + tmp.file("in.csv") + all_outputs(tmp)), tmp,
                  "in.csv:3: value '4\\r\\t\\x0c2' is not a number");
  std::string nul = "timestamp,value\n1767225600,1\n17672";
  nul += '\0';
  nul += "29200,4\n";
  write_file(tmp.file("in.csv"), nul);
  expect_rejected(run_vigil("score --input " + tmp.file("in.csv") + all_outputs(tmp)), tmp,
                  "in.csv:3: timestamp '17672\\029200' is not ISO-8601 or unix seconds");
  // An npy header whose raw text holds a newline.
  write_file(tmp.file("in.csv"), traffic_csv(3));
  ASSERT_EQ(run_vigil("convert --input " + tmp.file("in.csv") + " --out " + tmp.file("cube")).code, 0);
  std::string npy = read_file(tmp.file("cube/values.npy"));
  const size_t descr = npy.find("<f4");
  ASSERT_NE(descr, std::string::npos);
  npy.replace(descr, 3, "<\n8");
  write_file(tmp.file("cube/values.npy"), npy);
  expect_rejected(run_vigil("score --input " + tmp.file("cube") + all_outputs(tmp)), tmp, "dtype '<\\n8'");
}

TEST(HostileInput, LimitsOnDimensionsValuesAndEventNames) {
  TempDir tmp;
  std::string header = "timestamp";
  for (size_t d = 0; d <= limits::kMaxDims; ++d) header += ",d" + std::to_string(d);
  write_file(tmp.file("wide.csv"), header + ",value\n");
  expect_rejected(run_vigil("score --input " + tmp.file("wide.csv") + all_outputs(tmp)), tmp,
                  "wide.csv:1: 65 dimensions; at most 64 are supported");

  const std::string long_value(limits::kMaxValueBytes + 1, 'v');
  write_file(tmp.file("long.csv"), traffic_csv(2, long_value));
  expect_rejected(run_vigil("score --input " + tmp.file("long.csv") + all_outputs(tmp)), tmp,
                  "long.csv:3: region value 'vvv");
  EXPECT_NE(run_vigil("score --input " + tmp.file("long.csv")).err.find("(1025 bytes; at most 1024)"), std::string::npos);

  write_file(tmp.file("in.csv"), traffic_csv(3));
  write_file(tmp.file("ev.csv"), "event,start,end,scope,expected_impact\n" + std::string(limits::kMaxNameBytes + 1, 'e') +
                                     ",1767232800,1767240000,*,\n");
  const auto r = run_vigil("score --input " + tmp.file("in.csv") + " --events " + tmp.file("ev.csv") + all_outputs(tmp));
  expect_rejected(r, tmp, "ev.csv:2: event name 'eee");
  EXPECT_LT(r.err.size(), 300u) << "the message quotes an excerpt, not the whole name";
}

TEST(HostileInput, ScoresHeaderQuotesADimensionWithAComma) {
  TempDir tmp;
  write_file(tmp.file("in.csv"), traffic_csv(3, "uk", "\"reg,ion\""));
  const auto r = run_vigil("score --input " + tmp.file("in.csv") + " --scores " + tmp.file("s.csv") + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(read_file(tmp.file("s.csv")));
  std::string header, row;
  std::getline(in, header);
  std::getline(in, row);
  EXPECT_EQ(header.rfind("timestamp,\"reg,ion\",value,", 0), 0u) << header;
  const auto fields = [](const std::string& line) {  // commas outside quotes, + 1
    size_t n = 1;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      n += c == ',' && !quoted;
    }
    return n;
  };
  EXPECT_EQ(fields(header), fields(row)) << header << "\n" << row;
}

TEST(HostileInput, ALedgerPathThatIsADirectoryLeavesNoOtherOutput) {
  TempDir tmp;
  write_file(tmp.file("in.csv"), traffic_csv(3));
  fs::create_directories(tmp.file("out/l.jsonl"));
  const auto r = run_vigil("score --input " + tmp.file("in.csv") + " --alarms " + tmp.file("out/a.jsonl") +
                           " --ledger " + tmp.file("out/l.jsonl") + " --scores " + tmp.file("out/s.csv") + " --quiet");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("l.jsonl: cannot write"), std::string::npos) << r.err;
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(tmp.file("out"))) left.push_back(entry.path().filename());
  EXPECT_EQ(left, std::vector<std::string>{"l.jsonl"});  // the directory itself, nothing else
  EXPECT_TRUE(fs::is_empty(tmp.file("out/l.jsonl")));
}

TEST(HostileInput, AFailedRunKeepsEarlierOutputsAsTheyWere) {
  TempDir tmp;
  write_file(tmp.file("in.csv"), traffic_csv(3));
  fs::create_directories(tmp.file("out"));
  write_file(tmp.file("out/a.jsonl"), "earlier alarms\n");
  fs::create_directories(tmp.file("out/l.jsonl"));
  const auto r = run_vigil("score --input " + tmp.file("in.csv") + " --alarms " + tmp.file("out/a.jsonl") +
                           " --ledger " + tmp.file("out/l.jsonl") + " --quiet");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(read_file(tmp.file("out/a.jsonl")), "earlier alarms\n");
  size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(tmp.file("out"))) entries += !entry.path().empty();
  EXPECT_EQ(entries, 2u) << "no temporary or backup file is left";
}

TEST(HostileInput, ADiskFullAtTheLastFlushLeavesNoOutput) {
  TempDir tmp;
  // A few KB of scores: they sit in the stdio buffer until the final flush, which is where the
  // 1 KB file-size limit (ulimit -f 2: 2 x 512 bytes) makes the write fail; the alarms and
  // ledger (a few hundred bytes at most) were complete by then.
  std::ostringstream csv;
  csv << "timestamp,value\n";
  for (int h = 0; h < 40; ++h) csv << 1767225600 + h * 3600 << ',' << 100 + h % 5 << '\n';
  write_file(tmp.file("in.csv"), csv.str());
  fs::create_directories(tmp.file("out"));
  const std::string cmd = "ulimit -f 2; " + std::string(VIGIL_BINARY) + " score --input " + tmp.file("in.csv") +
                          " --alarms " + tmp.file("out/a.jsonl") + " --ledger " + tmp.file("out/l.jsonl") +
                          " --scores " + tmp.file("out/s.csv") + " --quiet 2>" + tmp.file("err");
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  const std::string err = read_file(tmp.file("err"));
  EXPECT_EQ(count_lines(err), 1u) << err;
  EXPECT_NE(err.find("s.csv: cannot write"), std::string::npos) << err;
  EXPECT_TRUE(fs::is_empty(tmp.file("out")));
}

// --- signals -----------------------------------------------------------------------------

// Starts `vigil <args>` (stdout/stderr to files in `tmp`) and returns its pid.
pid_t spawn_vigil(const std::vector<std::string>& args, const TempDir& tmp, bool named_temps) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (named_temps) ::setenv("VIGIL_NAMED_TEMPS", "1", 1);
    const std::string out = tmp.file("stdout"), err = tmp.file("stderr");
    if (!std::freopen(out.c_str(), "w", stdout) || !std::freopen(err.c_str(), "w", stderr)) ::_exit(127);
    std::vector<char*> argv{const_cast<char*>(VIGIL_BINARY)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(VIGIL_BINARY, argv.data());
    ::_exit(127);
  }
  return pid;
}

// Whether `pid` has a file open under `dir` (an O_TMPFILE shows as "dir/#123 (deleted)").
bool writes_under(pid_t pid, const std::string& dir) {
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    const std::string target = fs::read_symlink(fd.path(), ec).string();
    if (!ec && target.rfind(dir, 0) == 0) return true;
  }
  return false;
}

// Whether `dir` holds a hidden temporary name.
bool has_temp(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) return true;
  return false;
}

// Waits until `ready()` or the process ends; returns whether it is still running.
template <class Ready>
bool wait_until(pid_t pid, Ready ready) {
  for (int k = 0; k < 3000; ++k) {  // 30 s at most
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int wait_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

class SignalledRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cube_ = new TempDir;
    // Large enough that writing the scores takes a second or more on 2 cores.
    ASSERT_EQ(run_vigil("generate --out " + cube_->file("cube") +
                        " --shape metric=2,stack=2,device=4,region=8 --days 14 --step 15m --seed 3 --quiet")
                  .code,
              0);
  }
  static void TearDownTestSuite() { delete cube_; }

  // Scores the cube into out/, signals the run once it writes there, and checks the result.
  void kill_while_scoring(int signal_number, bool named_temps) {
    TempDir tmp;
    const std::string out = tmp.file("out");
    fs::create_directories(out);
    const pid_t pid = spawn_vigil({"score", "--input", cube_->file("cube"), "--backend", "cpu", "--batch-series", "16",
                                   "--alarms", out + "/a.jsonl", "--ledger", out + "/l.jsonl", "--scores", out + "/s.csv",
                                   "--quiet"},
                                  tmp, named_temps);
    ASSERT_GT(pid, 0);
    const bool running = wait_until(pid, [&] { return named_temps ? has_temp(out) : writes_under(pid, out); });
    ASSERT_TRUE(running) << "the run ended before it wrote anything: " << read_file(tmp.file("stderr"));
    ::kill(pid, signal_number);
    const int status = wait_status(pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status << ": " << read_file(tmp.file("stderr"));
    EXPECT_EQ(WTERMSIG(status), signal_number);
    if (signal_number == SIGKILL && named_temps) {
      // A SIGKILL cannot be caught: the named temp stays until the next run writing there sweeps it.
      EXPECT_TRUE(has_temp(out));
      write_file(tmp.file("in.csv"), traffic_csv(3));
      ASSERT_EQ(run_vigil("score --input " + tmp.file("in.csv") + " --alarms " + out + "/a.jsonl --quiet").code, 0);
      fs::remove(out + "/a.jsonl");
    }
    for (const auto& entry : fs::directory_iterator(out)) ADD_FAILURE() << "left behind: " << entry.path();
  }

  static TempDir* cube_;
};
TempDir* SignalledRun::cube_ = nullptr;

TEST_F(SignalledRun, SigtermRemovesTheTemporaryOutputs) { kill_while_scoring(SIGTERM, true); }
TEST_F(SignalledRun, SigintRemovesTheTemporaryOutputs) { kill_while_scoring(SIGINT, true); }
TEST_F(SignalledRun, SigkillLeavesNothingWithUnnamedTemporaries) { kill_while_scoring(SIGKILL, false); }
TEST_F(SignalledRun, SigkillLeftoversAreSweptByTheNextRun) { kill_while_scoring(SIGKILL, true); }

TEST(SignalledGenerate, SigtermAndSigkillLeaveNoTemporaryDirectory) {
  for (const int signal_number : {SIGTERM, SIGKILL}) {
    TempDir tmp;
    const std::string parent = tmp.file("out");
    fs::create_directories(parent);
    const pid_t pid = spawn_vigil({"generate", "--out", parent + "/cube", "--shape", "metric=4,stack=4,device=8,region=40",
                                   "--days", "20", "--quiet"},
                                  tmp, false);
    ASSERT_TRUE(wait_until(pid, [&] { return has_temp(parent); })) << read_file(tmp.file("stderr"));
    ::kill(pid, signal_number);
    const int status = wait_status(pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << status;
    EXPECT_EQ(WTERMSIG(status), signal_number);
    if (signal_number == SIGKILL) {
      EXPECT_TRUE(has_temp(parent));  // uncatchable; the next run writing beside it sweeps it
      ASSERT_EQ(run_vigil("generate --out " + parent + "/small --shape metric=1,stack=1,device=1,region=2 --days 2 --quiet")
                    .code,
                0);
      fs::remove_all(parent + "/small");
    }
    for (const auto& entry : fs::directory_iterator(parent)) ADD_FAILURE() << "left behind: " << entry.path();
  }
}

}  // namespace
}  // namespace vigil
