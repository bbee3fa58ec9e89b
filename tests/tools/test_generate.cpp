// `vigil generate`: determinism, the cube's shape and keys, the truth and schedule files, that
// labelled events really move the series they name, and its input validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "common/test_util.hpp"
#include "vigil/error.hpp"
#include "vigil/events.hpp"
#include "vigil/ingest.hpp"
#include "vigil/tools/scenario.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

namespace fs = std::filesystem;
using test::read_file;
using test::run_vigil;
using test::TempDir;

constexpr int64_t kDefaultStart = 1772409600;  // 2026-03-02T00:00:00Z

// A small cube with every metric and stack, 16 days at 15 minutes: fast, yet past the 7-day
// warm-up so that every kind of event is placed.
GenerateOptions small_options(uint64_t seed = 7) {
  GenerateOptions o;
  o.shape = {{"metric", 4}, {"stack", 4}, {"device", 3}, {"region", 6}};
  o.days = 16;
  o.step = 900;
  o.seed = seed;
  return o;
}

bool in_scope(const Keys& keys, size_t series, const std::map<std::string, std::vector<std::string>>& scope) {
  for (const auto& [dim, values] : scope) {
    const int d = keys.dim_index(dim);
    if (d < 0 || std::find(values.begin(), values.end(), keys.value(series, d)) == values.end()) return false;
  }
  return true;
}

TEST(Generate, SameSeedSameBytesWhateverTheThreads) {
  TempDir dir;
  const std::string args = " --shape metric=4,stack=2,device=3,region=5 --days 9 --step 15m --seed 42";
  const auto a = run_vigil("generate --out " + dir.file("a") + args + " --threads 1");
  const auto b = run_vigil("generate --out " + dir.file("b") + args + " --threads 2");
  const auto c = run_vigil("generate --out " + dir.file("c") + args + " --seed 43");
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  ASSERT_EQ(c.code, 0) << c.err;
  for (const char* file : {"keys.csv", "values.npy", "meta.json", "truth.jsonl", "events.csv"}) {
    const std::string first = read_file(dir.file("a") + "/" + file);
    EXPECT_FALSE(first.empty()) << file;
    EXPECT_EQ(first, read_file(dir.file("b") + "/" + file)) << file;
  }
  EXPECT_NE(read_file(dir.file("a") + "/values.npy"), read_file(dir.file("c") + "/values.npy"));

  // In process too, with more threads than tiles of work.
  GenerateOptions o = small_options();
  o.threads = 1;
  const Scenario one = generate_scenario(o);
  o.threads = 3;
  const Scenario three = generate_scenario(o);
  ASSERT_EQ(one.data.values.size(), three.data.values.size());
  EXPECT_EQ(0, std::memcmp(one.data.values.data(), three.data.values.data(),
                           one.data.values.size() * sizeof(float)));
  EXPECT_EQ(one.events_csv, three.events_csv);
  ASSERT_EQ(one.truth.size(), three.truth.size());
  for (size_t i = 0; i < one.truth.size(); ++i)
    EXPECT_EQ(truth_json(one.truth[i]), truth_json(three.truth[i]));
}

TEST(Generate, CubeIsTheCartesianProductOfReadableValues) {
  TempDir dir;
  const auto r = run_vigil("generate --out " + dir.file("cube") +
                           " --shape metric=5,stack=2,device=3,region=52 --days 2 --step 30m --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  const Dataset data = read_cube(dir.file("cube"), IngestOptions{});
  EXPECT_EQ(data.N(), 5u * 2 * 3 * 52);
  EXPECT_EQ(data.T, 2u * 86400 / 1800);
  EXPECT_EQ(data.step, 1800);
  EXPECT_EQ(data.start, kDefaultStart);
  EXPECT_EQ(data.keys.dims, (std::vector<std::string>{"metric", "stack", "device", "region"}));
  EXPECT_EQ(data.group_dim, "region");
  EXPECT_EQ(data.stack_dim, "stack");

  // Each dimension holds its readable names, the first ones from the lists, then numbered.
  const auto values_of = [&](const std::string& dim) {
    const std::vector<std::string>& v = data.keys.dictionary[data.keys.dim_index(dim)];
    return std::set<std::string>(v.begin(), v.end());
  };
  EXPECT_EQ(values_of("metric"), (std::set<std::string>{"play_starts", "active_sessions", "stream_errors",
                                                        "rebuffer_ratio", "metric4"}));
  EXPECT_EQ(values_of("stack"), (std::set<std::string>{"web", "mobile"}));
  EXPECT_EQ(values_of("device"), (std::set<std::string>{"android", "ios", "roku"}));
  const std::set<std::string> regions = values_of("region");
  EXPECT_EQ(regions.size(), 52u);
  for (const char* r : {"br", "uk", "de", "us", "fr", "jp", "in", "mx", "r50", "r51"})
    EXPECT_TRUE(regions.count(r)) << r;

  // Every combination exactly once.
  std::set<std::string> combos;
  for (size_t s = 0; s < data.N(); ++s) combos.insert(data.keys.describe(s));
  EXPECT_EQ(combos.size(), data.N());

  // Counts are whole and non-negative, the ratio in [0, 1], nothing missing.
  const int metric = data.keys.dim_index("metric");
  for (size_t s = 0; s < data.N(); ++s) {
    const bool ratio = data.keys.value(s, metric) == "rebuffer_ratio";
    for (size_t t = 0; t < data.T; ++t) {
      const float v = data.at(t, s);
      ASSERT_TRUE(std::isfinite(v));
      ASSERT_GE(v, 0.0f);
      if (ratio)
        ASSERT_LE(v, 1.0f);
      else
        ASSERT_EQ(v, std::floor(v));
    }
  }
}

TEST(Generate, TruthAndScheduleNameTheData) {
  TempDir dir;
  const auto r = run_vigil("generate --out " + dir.file("g") +
                           " --shape metric=4,stack=4,device=3,region=6 --days 16 --step 15m");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("288 series x 1536 points"), std::string::npos) << r.out;
  const Dataset data = read_cube(dir.file("g"), IngestOptions{});
  const std::vector<TruthRecord> truth = read_truth(dir.file("g") + "/truth.jsonl");

  std::map<std::string, int> kinds;
  for (const TruthRecord& rec : truth) {
    ++kinds[rec.kind];
    EXPECT_LT(rec.start, rec.end) << rec.name;
    EXPECT_GE(rec.start, data.start) << rec.name;
    EXPECT_LE(rec.end, data.time_at(data.T)) << rec.name;
    for (const auto& [dim, values] : rec.scope) {
      const int d = data.keys.dim_index(dim);
      ASSERT_GE(d, 0) << rec.name << " names dimension " << dim;
      for (const std::string& v : values)
        EXPECT_GE(data.keys.find_code(d, v), 0) << rec.name << ": " << dim << "=" << v;
    }
    size_t covered = 0;
    for (size_t s = 0; s < data.N(); ++s) covered += in_scope(data.keys, s, rec.scope);
    EXPECT_GT(covered, 0u) << rec.name;
    // Malfunctions come after a week of history.
    if (rec.kind == "incident") EXPECT_GE(rec.start, data.start + 7 * 86400) << rec.name;
  }
  // Defaults at 16 days: Sundays 8 and 15 (two games) + a launch, 2 + 2 external, 8 incidents.
  EXPECT_EQ(kinds["anticipated"], 3);
  EXPECT_EQ(kinds["external_low"], 2);
  EXPECT_EQ(kinds["external_high"], 2);
  EXPECT_EQ(kinds["incident"], 8);

  // The schedule holds the anticipated records, parses and fits the data.
  const EventSchedule schedule = read_events(dir.file("g") + "/events.csv");
  ASSERT_EQ(schedule.events.size(), 3u);
  EXPECT_EQ(validate_events(schedule, data), 0u);
  int recurring = 0, one_off = 0;
  for (const Event& e : schedule.events) {
    if (e.name == "weekly_derby") {
      ++recurring;
      EXPECT_TRUE(std::isnan(e.expected_impact));  // learned from history
    } else {
      ++one_off;
      EXPECT_GT(e.expected_impact, 0.2f);
      EXPECT_LT(e.expected_impact, 0.6f);
    }
  }
  EXPECT_EQ(recurring, 2);
  EXPECT_EQ(one_off, 1);
}

// Sums of a metric over the series of a scope and a window [t0, t1).
double window_sum(const Dataset& data, const TruthRecord& rec, const std::string& metric, size_t t0,
                  size_t t1) {
  const int m = data.keys.dim_index("metric");
  double sum = 0;
  for (size_t s = 0; s < data.N(); ++s) {
    if (!in_scope(data.keys, s, rec.scope) || data.keys.value(s, m) != metric) continue;
    for (size_t t = t0; t < t1; ++t) sum += data.at(t, s);
  }
  return sum;
}

TEST(Generate, IncidentsMoveTheirScopeByTheStatedFactorAndNothingElse) {
  const GenerateOptions with = small_options(11);
  GenerateOptions without = with;
  without.incidents = 0;
  const Scenario a = generate_scenario(with);
  const Scenario b = generate_scenario(without);
  const Dataset& da = a.data;
  const Dataset& db = b.data;
  ASSERT_EQ(da.values.size(), db.values.size());

  // Incidents are planned last, so the other events and all noise are the same in both runs.
  std::vector<char> touched(da.values.size(), 0);
  int incidents = 0, compared = 0;
  std::set<size_t> scope_sizes;
  for (const TruthRecord& rec : a.truth) {
    if (rec.kind != "incident") continue;
    ++incidents;
    scope_sizes.insert(rec.scope.size());
    const size_t t0 = static_cast<size_t>((rec.start - da.start) / da.step);
    const size_t t1 = static_cast<size_t>((rec.end - da.start) / da.step);
    for (size_t s = 0; s < da.N(); ++s)
      if (in_scope(da.keys, s, rec.scope))
        for (size_t t = t0; t < t1; ++t) touched[t * da.N() + s] = 1;
    // The second half of the window: past a gradual onset's ramp.
    const size_t from = t0 + (t1 - t0) / 2;
    for (const auto& [metric, factor] : rec.factor) {
      const double base = window_sum(db, rec, metric, from, t1);
      if (metric != "rebuffer_ratio" && base < 200) continue;  // a handful of counts says little
      const double ratio = window_sum(da, rec, metric, from, t1) / base;
      // Rebuffering is capped at 1 and errors round to whole counts: a loose band for spikes.
      const double tolerance = factor < 1 ? 0.12 : 0.25;
      EXPECT_NEAR(ratio / factor, 1.0, tolerance)
          << rec.name << " " << metric << ": ratio " << ratio << " vs " << factor;
      ++compared;
    }
  }
  EXPECT_EQ(incidents, 8);
  EXPECT_GE(compared, 8);
  // One series, a device family or stack in a region (2 dims), a metric everywhere (1 dim).
  EXPECT_TRUE(scope_sizes.count(4));
  EXPECT_TRUE(scope_sizes.count(1));
  EXPECT_TRUE(scope_sizes.count(2));
  size_t same = 0, outside = 0;
  for (size_t i = 0; i < da.values.size(); ++i) {
    if (touched[i]) continue;
    ++outside;
    same += da.values[i] == db.values[i];
  }
  EXPECT_EQ(same, outside);
}

TEST(Generate, SubtleIncidentsAreModerateDropsOnSmallSeriesAndSlowEveningLeaks) {
  GenerateOptions plain = small_options(13);
  GenerateOptions subtle = plain;
  subtle.subtle = 4;
  const Scenario a = generate_scenario(plain), b = generate_scenario(subtle);
  // Planned after everything else: the default scenario is unchanged by the option's existence.
  ASSERT_EQ(a.truth.size() + 4, b.truth.size());
  for (size_t k = 0; k < a.data.values.size(); k += 97) {
    bool covered = false;
    const size_t series = k % a.data.N(), t = k / a.data.N();
    for (const TruthRecord& r : b.truth)
      covered = covered || (r.name.find("moderate_drop") != std::string::npos || r.name.find("slow_leak") != std::string::npos) &&
                               in_scope(b.data.keys, series, r.scope) && a.data.time_at(t) >= r.start &&
                               a.data.time_at(t) <= r.end;
    if (!covered) ASSERT_EQ(a.data.values[k], b.data.values[k]) << k;
  }
  int drops = 0, leaks = 0;
  for (const TruthRecord& r : b.truth) {
    if (r.kind != "incident") continue;
    const bool drop = r.name.find("moderate_drop") != std::string::npos, leak = r.name.find("slow_leak") != std::string::npos;
    if (!drop && !leak) continue;
    drops += drop;
    leaks += leak;
    ASSERT_EQ(r.factor.size(), 1u) << r.name;
    const double factor = r.factor.begin()->second;
    const double hours = static_cast<double>(r.end - r.start) / 3600.0;
    if (drop) {
      EXPECT_EQ(r.scope.size(), 4u) << r.name;  // one series
      EXPECT_GE(factor, 0.6);
      EXPECT_LE(factor, 0.7);
      EXPECT_GE(hours, 2.25);
      EXPECT_LE(hours, 3.75);
      EXPECT_EQ(r.onset, "sudden");
    } else {
      EXPECT_EQ(r.scope.count("device"), 1u) << r.name;  // one device of one region, every stack
      EXPECT_EQ(r.scope.count("region"), 1u) << r.name;
      EXPECT_EQ(r.scope.count("stack"), 0u) << r.name;
      EXPECT_EQ(factor, 0.4);
      EXPECT_EQ(r.onset, "gradual");
    }
    // No special event in its region overlaps it: it tests detection, not what the rules make
    // of a power cut.
    for (const TruthRecord& other : b.truth) {
      if (other.kind == "incident") continue;
      const auto region = other.scope.find("region");
      const std::string& own = r.scope.at("region")[0];
      if (region != other.scope.end() && std::find(region->second.begin(), region->second.end(), own) == region->second.end())
        continue;
      EXPECT_TRUE(other.end < r.start || other.start > r.end) << r.name << " " << other.name;
    }
  }
  EXPECT_EQ(drops, 2);
  EXPECT_EQ(leaks, 2);
}

TEST(Generate, SpecialIncidentsHideInsideAGameAndFineWeather) {
  const Scenario s = generate_scenario(small_options(5));
  const auto overlaps = [](const TruthRecord& a, const TruthRecord& b) {
    if (!(a.start < b.end && b.start < a.end)) return false;
    for (const auto& [dim, values] : a.scope) {
      const auto other = b.scope.find(dim);
      if (other == b.scope.end()) continue;
      bool shared = false;
      for (const std::string& v : values)
        shared = shared || std::find(other->second.begin(), other->second.end(), v) != other->second.end();
      if (!shared) return false;
    }
    return true;
  };
  bool in_game = false, in_weather = false;
  for (const TruthRecord& inc : s.truth) {
    if (inc.kind != "incident") continue;
    for (const TruthRecord& ev : s.truth) {
      in_game = in_game || (ev.kind == "anticipated" && overlaps(inc, ev));
      in_weather = in_weather || (ev.kind == "external_low" && overlaps(inc, ev));
      // Incidents sharing series never overlap in time.
      if (ev.kind == "incident" && &ev != &inc)
        EXPECT_FALSE(overlaps(inc, ev)) << inc.name << " / " << ev.name;
    }
  }
  EXPECT_TRUE(in_game);
  EXPECT_TRUE(in_weather);
}

TEST(Generate, GameMovesTvUpAndOtherStacksDown) {
  const Scenario with = generate_scenario(small_options(3));
  GenerateOptions no_events = small_options(3);
  no_events.anticipated = no_events.incidents = no_events.external_low = no_events.external_high = 0;
  const Scenario without = generate_scenario(no_events);
  const Dataset& d = with.data;
  int checked = 0;
  for (const TruthRecord& game : with.truth) {
    if (game.name != "weekly_derby") continue;
    // Skip a game that another record of the scenario overlaps.
    bool clean = true;
    for (const TruthRecord& other : with.truth)
      clean = clean && (&other == &game || !(other.start < game.end && game.start < other.end));
    if (!clean) continue;
    TruthRecord tv = game, rest = game;
    tv.scope["stack"] = {"tv"};
    rest.scope["stack"] = {"web", "mobile", "console"};
    const size_t t0 = (game.start - d.start) / d.step, t1 = (game.end - d.start) / d.step;
    const double tv_ratio =
        window_sum(d, tv, "play_starts", t0, t1) / window_sum(without.data, tv, "play_starts", t0, t1);
    const double rest_ratio =
        window_sum(d, rest, "play_starts", t0, t1) / window_sum(without.data, rest, "play_starts", t0, t1);
    // +40 % and -25 % at full strength, times popularity 0.7..1.3, less at the edges and half time.
    EXPECT_GT(tv_ratio, 1.12) << game.name;
    EXPECT_LT(tv_ratio, 1.55) << game.name;
    EXPECT_LT(rest_ratio, 0.92) << game.name;
    EXPECT_GT(rest_ratio, 0.6) << game.name;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(Generate, NightNoiseIsRelativelyLargerThanDayNoise) {
  GenerateOptions o = small_options(9);
  o.shape = {{"metric", 1}, {"stack", 4}, {"device", 8}, {"region", 2}};  // play_starts in br and uk
  o.step = 300;
  o.incidents = o.anticipated = o.external_low = o.external_high = 0;
  const Scenario s = generate_scenario(o);
  const Dataset& d = s.data;
  const int region = d.keys.dim_index("region");
  // Per uk series (UTC time is local time): the relative step-to-step change at 03-05 h
  // against 19-22 h. Count noise sqrt(mean) makes it larger where the mean is small.
  std::vector<double> noise_ratio, level_ratio;
  for (size_t series = 0; series < d.N(); ++series) {
    if (d.keys.value(series, region) != "uk") continue;
    double night_change = 0, night_level = 0, day_change = 0, day_level = 0;
    for (size_t t = 1; t < d.T; ++t) {
      const int hour = static_cast<int>((d.time_at(t) % 86400) / 3600);
      const double change = std::fabs(d.at(t, series) - d.at(t - 1, series));
      if (hour >= 3 && hour < 5) night_change += change, night_level += d.at(t, series);
      if (hour >= 19 && hour < 22) day_change += change, day_level += d.at(t, series);
    }
    // Per point: two night hours against three evening hours a day.
    level_ratio.push_back((night_level / 2) / (day_level / 3));
    // Moderate series (50..3000 at the peak), where count noise rather than drift dominates.
    const double evening_mean = day_level / (3 * 12 * 16);
    if (evening_mean > 50 && evening_mean < 3000)
      noise_ratio.push_back((night_change / night_level) / (day_change / day_level));
  }
  ASSERT_GE(noise_ratio.size(), 3u);
  std::sort(noise_ratio.begin(), noise_ratio.end());
  std::sort(level_ratio.begin(), level_ratio.end());
  // The night trough is 10-20 % of the evening peak (a little more on mobile).
  EXPECT_LT(level_ratio[level_ratio.size() / 2], 0.3);
  EXPECT_GT(noise_ratio[noise_ratio.size() / 2], 1.5);
}

TEST(Generate, CsvAndCubeReadBackIdentical) {
  TempDir dir;
  const std::string args = " --shape metric=4,stack=2,device=2,region=3 --days 8 --step 1h --seed 5";
  const auto cube = run_vigil("generate --out " + dir.file("cube") + args);
  const auto csv = run_vigil("generate --out " + dir.file("csv") + args + " --format csv");
  ASSERT_EQ(cube.code, 0) << cube.err;
  ASSERT_EQ(csv.code, 0) << csv.err;
  EXPECT_EQ(read_file(dir.file("cube") + "/truth.jsonl"), read_file(dir.file("csv") + "/truth.jsonl"));
  EXPECT_EQ(read_file(dir.file("cube") + "/events.csv"), read_file(dir.file("csv") + "/events.csv"));
  EXPECT_FALSE(fs::exists(dir.file("csv") + "/values.npy"));

  const Dataset a = read_cube(dir.file("cube"), IngestOptions{});
  const Dataset b = read_csv(dir.file("csv") + "/data.csv", IngestOptions{});
  ASSERT_EQ(a.N(), b.N());
  ASSERT_EQ(a.T, b.T);
  EXPECT_EQ(a.start, b.start);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.keys.dims, b.keys.dims);
  for (size_t s = 0; s < a.N(); ++s) ASSERT_EQ(a.keys.describe(s), b.keys.describe(s)) << s;
  ASSERT_EQ(a.values.size(), b.values.size());
  EXPECT_EQ(0, std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)));
}

TEST(Generate, ShortAndOddShapesStillWork) {
  // One day at 5 minutes, no metric or stack dimension, an extra dimension: counts of a
  // generic kind, events still placed after half the span.
  GenerateOptions o;
  o.shape = {{"region", 3}, {"host", 2}};
  o.days = 1;
  const Scenario s = generate_scenario(o);
  EXPECT_EQ(s.data.N(), 6u);
  EXPECT_EQ(s.data.T, 288u);
  EXPECT_EQ(s.data.stack_dim, "");
  EXPECT_EQ(s.data.keys.dictionary[1], (std::vector<std::string>{"host0", "host1"}));
  int incidents = 0;
  for (const TruthRecord& r : s.truth) {
    EXPECT_LE(r.end, s.data.time_at(s.data.T));
    if (r.kind != "incident") continue;
    ++incidents;
    EXPECT_GE(r.start, s.data.start + 12 * 3600) << r.name;
  }
  EXPECT_GE(incidents, 1);
}

TEST(Generate, BadOptionsExitTwoAndLeaveNothing) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--shape metric=0", "--shape"},
      {"--shape metric=-2", "--shape"},
      {"--shape metric", "not dim=size"},
      {"--shape metric:4", "not dim=size"},
      {"--shape metric=4,metric=2", "given twice"},
      {"--shape metric=four", "not a positive integer"},
      {"--shape =4", "no dimension name"},
      {"--shape metric=4,,stack=2", "--shape"},
      {"--shape value=3", "reserved"},
      {"--days 0", "--days"},
      {"--days -3", "--days"},
      {"--step soon", "--step"},
      {"--step 0", "--step"},
      {"--format parquet", "--format"},
      {"--start yesterday", "--start"},
      {"--incidents -1", "--incidents"},
  };
  for (const auto& [args, expected] : cases) {
    TempDir dir;
    const auto r = run_vigil("generate --out " + dir.file("out") + " --days 1 " + args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_EQ(test::count_lines(r.err), 1u) << args << ": " << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << args << ": " << r.err;
    // No output directory and no temporary left beside it.
    EXPECT_TRUE(fs::is_empty(dir.path())) << args;
  }
  const auto no_out = run_vigil("generate --days 1");
  EXPECT_EQ(no_out.code, 2);
  EXPECT_NE(no_out.err.find("--out"), std::string::npos) << no_out.err;
}

TEST(Generate, ParseShapeKeepsColumnOrder) {
  EXPECT_EQ(parse_shape("region=3,metric=2"),
            (std::vector<std::pair<std::string, int>>{{"region", 3}, {"metric", 2}}));
  EXPECT_THROW(parse_shape(""), InputError);
  EXPECT_THROW(parse_shape("a=1,"), InputError);
}

}  // namespace
}  // namespace vigil
