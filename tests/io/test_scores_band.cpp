// The band of the scores file (lower, upper): a value lies outside it exactly where its |z| is
// past the threshold, in the directions its metric alarms on, with the events' uncertainty and a
// young model's widening included.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/test_util.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

using test::read_file;
using test::run_vigil;
using test::TempDir;
using test::write_file;

// Ten days at 15 minutes of a daily pattern with noise, fractional values (the log1p transform),
// for two stacks; stack b drops to 40 % on day 9 from 10:00 to 13:00. An event on stack a on day
// 8 (its effect announced) widens the band there.
void write_inputs(const TempDir& tmp) {
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0.0, 1.0);
  const int64_t start = 1772409600;  // 2026-03-02T00:00:00Z
  std::ostringstream csv;
  csv << "timestamp,region,stack,value\n";
  for (int t = 0; t < 10 * 96; ++t) {
    const double day = (t % 96) / 96.0;
    for (const char* stack : {"a", "b"}) {
      double v = 200.0 * (1.0 + 0.5 * std::sin(2 * M_PI * day)) + 6.0 * noise(rng);
      if (stack[0] == 'b' && t >= 9 * 96 + 40 && t < 9 * 96 + 52) v *= 0.4;
      if (stack[0] == 'a' && t >= 8 * 96 + 48 && t < 8 * 96 + 56) v *= 1.3;
      csv << format_iso(start + t * 900) << ",br," << stack << ',' << v + 0.25 << '\n';
    }
  }
  write_file(tmp.file("in.csv"), csv.str());
  write_file(tmp.file("events.csv"), "event,start,end,scope,expected_impact\nlaunch," + format_iso(start + (8 * 96 + 48) * 900) +
                                         "," + format_iso(start + (8 * 96 + 56) * 900) + ",stack=a,0.3\n");
}

struct BandCheck {
  size_t rows = 0, with_z = 0, outside = 0, checked = 0, young = 0, in_event = 0;
  size_t upper_empty = 0, lower_empty = 0;
};

// Checks every row: where |z| is clearly past the threshold the value is outside the band on
// z's side, where it is clearly below, inside.
BandCheck check_scores(const std::string& path, double threshold) {
  BandCheck c;
  std::istringstream in(read_file(path));
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  {
    std::stringstream h(line);
    std::string f;
    while (std::getline(h, f, ',')) header.push_back(f);
  }
  auto col = [&](const std::string& name) {
    for (size_t k = 0; k < header.size(); ++k)
      if (header[k] == name) return k;
    ADD_FAILURE() << "no column " << name;
    return size_t{0};
  };
  const size_t cv = col("value"), cz = col("z_forecast"), cl = col("lower"), cu = col("upper"), ce = col("events"),
               ct = col("timestamp");
  const int64_t young_until = 1772409600 + 8 * 86400;  // min_history_days is 8 with the weekly model
  while (std::getline(in, line)) {
    ++c.rows;
    std::vector<std::string> f;
    std::stringstream s(line);
    std::string x;
    while (std::getline(s, x, ',')) f.push_back(x);
    while (f.size() < header.size()) f.push_back("");
    if (f[cz].empty()) {
      EXPECT_TRUE(f[cl].empty() && f[cu].empty()) << "a band without a z: " << line;
      continue;
    }
    ++c.with_z;
    c.lower_empty += f[cl].empty();
    c.upper_empty += f[cu].empty();
    const double v = std::stod(f[cv]), z = std::stod(f[cz]);
    const double lo = f[cl].empty() ? -INFINITY : std::stod(f[cl]);
    const double up = f[cu].empty() ? INFINITY : std::stod(f[cu]);
    if (std::fabs(std::fabs(z) - threshold) < 0.01 * threshold) continue;  // at the edge: rounding
    ++c.checked;
    c.young += *parse_timestamp(f[ct]) < young_until;
    c.in_event += !f[ce].empty();
    const bool past = std::fabs(z) > threshold;
    const bool below = v < lo, above = v > up;
    if (past && z < 0 && !f[cl].empty()) EXPECT_TRUE(below) << "z " << z << " but not below the band: " << line;
    if (past && z > 0 && !f[cu].empty()) EXPECT_TRUE(above) << "z " << z << " but not above the band: " << line;
    if (!past) EXPECT_FALSE(below || above) << "z " << z << " but outside the band: " << line;
    c.outside += below || above;
  }
  return c;
}

TEST(ScoresBand, ValuesLeaveTheBandExactlyWhereZPassesTheThreshold) {
  TempDir tmp;
  write_inputs(tmp);
  const auto r = run_vigil("score --input " + tmp.file("in.csv") + " --events " + tmp.file("events.csv") +
                           " --scores " + tmp.file("s.csv") + " --backend cpu --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  const BandCheck c = check_scores(tmp.file("s.csv"), 5.0);
  EXPECT_EQ(c.rows, 2u * 10 * 96);
  EXPECT_GT(c.checked, c.rows / 2);
  EXPECT_GT(c.outside, 5u);     // the drop leaves the band
  EXPECT_GT(c.young, 500u);     // a young model's widened band is checked too
  EXPECT_GT(c.in_event, 4u);    // and the event's widened one
  EXPECT_EQ(c.lower_empty, 0u);  // direction both: two edges everywhere
  EXPECT_EQ(c.upper_empty, 0u);
}

TEST(ScoresBand, ADropOnlyMetricHasNoUpperEdge) {
  TempDir tmp;
  write_inputs(tmp);
  write_file(tmp.file("c.json"), R"({"direction": "drop", "threshold": 4})");
  const auto r = run_vigil("score --input " + tmp.file("in.csv") + " --config " + tmp.file("c.json") +
                           " --scores " + tmp.file("s.csv") + " --backend cpu --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  const BandCheck c = check_scores(tmp.file("s.csv"), 4.0);
  EXPECT_GT(c.with_z, 1000u);
  EXPECT_EQ(c.upper_empty, c.with_z);
  EXPECT_EQ(c.lower_empty, 0u);
  EXPECT_GT(c.outside, 5u);
}

}  // namespace
}  // namespace vigil
