// Ingest: timestamps, the long CSV reader, the cube, the event schedule and `vigil convert`.
#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "common/test_util.hpp"
#include "vigil/atomic_file.hpp"
#include "vigil/error.hpp"
#include "vigil/events.hpp"
#include "vigil/ingest.hpp"
#include "vigil/value_source.hpp"
#include "vigil/timeutil.hpp"

namespace {

using namespace vigil;
using test::TempDir;
using test::write_file;

constexpr int64_t kMar2 = 1772409600;  // 2026-03-02T00:00:00Z

Dataset read_text(const TempDir& dir, const std::string& text, const IngestOptions& options = {}) {
  const std::string path = dir.file("data.csv");
  write_file(path, text);
  return read_csv(path, options);
}

// The message of the InputError that `f` throws; "" when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::string read_error(const TempDir& dir, const std::string& text, const IngestOptions& options = {}) {
  return error_of([&] { read_text(dir, text, options); });
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void expect_same_values(const Dataset& a, const Dataset& b) {
  ASSERT_EQ(a.N(), b.N());
  ASSERT_EQ(a.T, b.T);
  EXPECT_EQ(a.start, b.start);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.keys.dims, b.keys.dims);
  for (size_t s = 0; s < a.N(); ++s) EXPECT_EQ(a.keys.describe(s), b.keys.describe(s));
  size_t differing = 0;
  for (size_t i = 0; i < a.values.size(); ++i) differing += !same_bits(a.values[i], b.values[i]);
  EXPECT_EQ(differing, 0u);
}

std::string to_text(float value) {
  char text[32];
  return std::string(text, std::to_chars(text, text + sizeof text, value).ptr);
}

// ---------------------------------------------------------------------------------------------
// Timestamps and durations

TEST(TimeUtil, ParsesIsoForms) {
  EXPECT_EQ(parse_timestamp("2026-03-02T00:15:00Z"), kMar2 + 900);
  EXPECT_EQ(parse_timestamp("2026-03-02 00:15:00"), kMar2 + 900);  // no offset = UTC
  EXPECT_EQ(parse_timestamp("2026-03-02t00:15:00z"), kMar2 + 900);
  EXPECT_EQ(parse_timestamp("2026-03-02T00:15"), kMar2 + 900);
  EXPECT_EQ(parse_timestamp("2026-03-02"), kMar2);
  EXPECT_EQ(parse_timestamp("  2026-03-02T00:15:00Z "), kMar2 + 900);
  EXPECT_EQ(parse_timestamp("2024-02-29T12:30:00Z"), 1709209800);  // leap day
  EXPECT_EQ(parse_timestamp("1969-12-31T23:59:59Z"), -1);
}

TEST(TimeUtil, FractionalSecondsRoundToNearest) {
  EXPECT_EQ(parse_timestamp("2026-03-02T00:15:00.000Z"), kMar2 + 900);
  EXPECT_EQ(parse_timestamp("2026-03-02T00:14:59.999Z"), kMar2 + 900);
  EXPECT_EQ(parse_timestamp("2026-03-02T00:15:00.4+00:00"), kMar2 + 900);
}

TEST(TimeUtil, OffsetsConvertToUtc) {
  EXPECT_EQ(parse_timestamp("2026-03-02T01:15:00+01:00"), kMar2 + 900);
  EXPECT_EQ(parse_timestamp("2026-03-02T01:15:00+0100"), kMar2 + 900);
  EXPECT_EQ(parse_timestamp("2026-03-02T01:15:00+01"), kMar2 + 900);
  EXPECT_EQ(parse_timestamp("2026-03-01T18:45:00-05:30"), kMar2 + 900);
}

TEST(TimeUtil, ParsesUnixSeconds) {
  EXPECT_EQ(parse_timestamp("1772409600"), kMar2);
  EXPECT_EQ(parse_timestamp("1772409600.0"), kMar2);
  EXPECT_EQ(parse_timestamp("1772409599.6"), kMar2);
  EXPECT_EQ(parse_timestamp("0"), 0);
}

TEST(TimeUtil, RejectsMalformedTimestamps) {
  for (const char* bad : {"", "abc", "2026-02-30", "2026-13-01", "2026-03-02T24:00:00", "2026-03-02T00:60:00",
                          "2026-03-02T00:15:00+25:00", "2026-03-02X00:15:00", "2026-03-02T00:15:00Q", "12x",
                          "1772409600x", "2026-3-2", "99999999999999" /* beyond year 9999 */})
    EXPECT_FALSE(parse_timestamp(bad).has_value()) << bad;
}

TEST(TimeUtil, FormatsIsoUtcAndRoundTrips) {
  EXPECT_EQ(format_iso(kMar2 + 900), "2026-03-02T00:15:00Z");
  EXPECT_EQ(format_iso(-1), "1969-12-31T23:59:59Z");
  for (int64_t t : {int64_t{0}, kMar2, int64_t{951782400} /* 2000-02-29 */, int64_t{4102444799}})
    EXPECT_EQ(parse_timestamp(format_iso(t)), t);
}

TEST(TimeUtil, ParsesDurations) {
  EXPECT_EQ(parse_duration("5m"), 300);
  EXPECT_EQ(parse_duration("15min"), 900);
  EXPECT_EQ(parse_duration("1h"), 3600);
  EXPECT_EQ(parse_duration("2d"), 172800);
  EXPECT_EQ(parse_duration("300s"), 300);
  EXPECT_EQ(parse_duration("300"), 300);
  EXPECT_EQ(parse_duration("1w"), 604800);
  for (const char* bad : {"", "0", "-5m", "5x", "m", "5 parsecs", "1.5h"})
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  EXPECT_EQ(format_duration(300), "5m");
  EXPECT_EQ(format_duration(7200), "2h");
  EXPECT_EQ(format_duration(86400), "1d");
  EXPECT_EQ(format_duration(90), "90s");
}

// ---------------------------------------------------------------------------------------------
// Keys

TEST(IngestKeys, InternsAndDescribes) {
  Keys keys;
  keys.dims = {"region", "stack"};
  EXPECT_EQ(keys.dim_index("stack"), 1);
  EXPECT_EQ(keys.dim_index("device"), -1);
  EXPECT_EQ(keys.intern(0, "br"), 0u);
  EXPECT_EQ(keys.intern(0, "uk"), 1u);
  EXPECT_EQ(keys.intern(0, "br"), 0u);
  EXPECT_EQ(keys.intern(1, "web"), 0u);
  EXPECT_EQ(keys.find_code(0, "uk"), 1);
  EXPECT_EQ(keys.find_code(0, "de"), -1);
  keys.codes = {1, 0};
  EXPECT_EQ(keys.num_series(), 1u);
  EXPECT_EQ(keys.describe(0), "region=uk,stack=web");

  // Keys filled without the index (as a generator might) still look values up.
  Keys direct;
  direct.dims = {"region"};
  direct.dictionary = {{"br", "uk"}};
  EXPECT_EQ(direct.find_code(0, "uk"), 1);
  EXPECT_EQ(direct.intern(0, "uk"), 1u);
  EXPECT_EQ(direct.intern(0, "de"), 2u);
}

// ---------------------------------------------------------------------------------------------
// Long CSV

TEST(CsvIngest, ReadsLongCsvIntoSortedSeriesOnTheGrid) {
  TempDir dir;
  const Dataset data = read_text(dir,
                                 "timestamp,stack,region,value\n"
                                 "2026-03-02T00:10:00Z,web,uk,7\n"
                                 "2026-03-02T00:00:00Z,web,br,1\n"
                                 "2026-03-02T00:00:00Z,mobile,uk,3\n"
                                 "2026-03-02T00:05:00Z,web,br,2\n"
                                 "2026-03-02T00:00:00Z,web,uk,5\n");
  EXPECT_EQ(data.keys.dims, (std::vector<std::string>{"stack", "region"}));
  ASSERT_EQ(data.N(), 3u);
  // Sorted by stack first (header order), then region.
  EXPECT_EQ(data.keys.describe(0), "stack=mobile,region=uk");
  EXPECT_EQ(data.keys.describe(1), "stack=web,region=br");
  EXPECT_EQ(data.keys.describe(2), "stack=web,region=uk");
  EXPECT_EQ(data.start, kMar2);
  EXPECT_EQ(data.step, 300);
  ASSERT_EQ(data.T, 3u);
  EXPECT_EQ(data.at(0, 1), 1.f);
  EXPECT_EQ(data.at(1, 1), 2.f);
  EXPECT_EQ(data.at(2, 2), 7.f);
  // Points the file did not have are NaN and marked unobserved.
  EXPECT_TRUE(std::isnan(data.at(1, 2)));
  EXPECT_FALSE(data.was_observed(1, 2));
  EXPECT_TRUE(std::isnan(data.at(2, 1)));
  EXPECT_FALSE(data.was_observed(2, 1));
  EXPECT_TRUE(data.was_observed(0, 2));
  EXPECT_EQ(data.source, dir.file("data.csv"));
}

TEST(CsvIngest, InfersTheMostCommonGapAndFillsGapsWithNaN) {
  TempDir dir;
  // 5-minute data with a 15-minute hole: the hole is two missing points, not a coarser grid.
  const Dataset data = read_text(dir,
                                 "timestamp,value\n"
                                 "2026-03-02T00:00:00Z,1\n2026-03-02T00:05:00Z,2\n2026-03-02T00:10:00Z,3\n"
                                 "2026-03-02T00:25:00Z,6\n2026-03-02T00:30:00Z,7\n");
  EXPECT_EQ(data.step, 300);
  ASSERT_EQ(data.T, 7u);
  const std::vector<bool> observed = {true, true, true, false, false, true, true};
  for (size_t t = 0; t < data.T; ++t) {
    EXPECT_EQ(data.was_observed(t, 0), observed[t]) << t;
    EXPECT_EQ(std::isnan(data.at(t, 0)), !observed[t]) << t;
  }
  EXPECT_EQ(data.at(5, 0), 6.f);
}

TEST(CsvIngest, ExplicitStepRefinesTheGrid) {
  TempDir dir;
  IngestOptions options;
  options.step = 300;
  const Dataset data = read_text(
      dir, "timestamp,value\n2026-03-02T00:00:00Z,1\n2026-03-02T00:10:00Z,2\n2026-03-02T00:20:00Z,3\n",
      options);
  EXPECT_EQ(data.step, 300);
  ASSERT_EQ(data.T, 5u);
  EXPECT_FALSE(data.was_observed(1, 0));
  EXPECT_EQ(data.at(4, 0), 3.f);
}

TEST(CsvIngest, SingleSeriesWithoutDimensions) {
  TempDir dir;
  const Dataset data = read_text(dir, "value,timestamp\n1.5,1772409600\n2.5,1772409660\n");
  EXPECT_TRUE(data.keys.dims.empty());
  EXPECT_EQ(data.N(), 1u);
  EXPECT_EQ(data.keys.describe(0), "*");
  EXPECT_EQ(data.step, 60);
  ASSERT_EQ(data.T, 2u);
  EXPECT_EQ(data.at(1, 0), 2.5f);
}

TEST(CsvIngest, ColumnsInAnyOrder) {
  TempDir dir;
  const Dataset data = read_text(dir,
                                 "region,timestamp,value,stack\n"
                                 "uk,2026-03-02T00:05:00Z,2,web\n"
                                 "uk,2026-03-02T00:00:00Z,1,web\n"
                                 "br,2026-03-02T00:00:00Z,3,\"web\"\n");
  EXPECT_EQ(data.keys.dims, (std::vector<std::string>{"region", "stack"}));
  ASSERT_EQ(data.N(), 2u);
  EXPECT_EQ(data.keys.describe(0), "region=br,stack=web");
  EXPECT_EQ(data.at(0, 1), 1.f);
  EXPECT_EQ(data.at(1, 1), 2.f);
  EXPECT_EQ(data.at(0, 0), 3.f);
}

TEST(CsvIngest, TimestampFormatsMixInOneFile) {
  TempDir dir;
  // One instant written four ways is one point; --duplicates sum shows they met.
  IngestOptions options;
  options.duplicates = DuplicatePolicy::Sum;
  const Dataset data = read_text(dir,
                                 "timestamp,value\n"
                                 "2026-03-02T00:00:00Z,1\n"
                                 "2026-03-02 01:00:00+01:00,2\n"
                                 "1772409600,4\n"
                                 "2026-03-01T19:00:00-0500,8\n"
                                 "2026-03-02 00:05:00,16\n",
                                 options);
  ASSERT_EQ(data.T, 2u);
  EXPECT_EQ(data.at(0, 0), 15.f);
  EXPECT_EQ(data.at(1, 0), 16.f);
}

TEST(CsvIngest, QuotedFieldsCrlfBomAndBlankLines) {
  TempDir dir;
  const Dataset data = read_text(dir,
                                 "\xEF\xBB\xBFtimestamp,\"region\",value\r\n"
                                 "2026-03-02T00:00:00Z,\"u,k\",1\r\n"
                                 "\r\n"
                                 "2026-03-02T00:05:00Z,\"say \"\"hi\"\"\",2\r\n"
                                 "2026-03-02T00:05:00Z,u\"k,3\r\n"
                                 "\"2026-03-02T00:00:00Z\",\"say \"\"hi\"\"\",\"4\"\r\n"
                                 "2026-03-02T00:00:00Z,\"zz\",5\r\n"
                                 "2026-03-02T00:05:00Z,zz,6\r\n"
                                 "\r\n\r\n");
  EXPECT_EQ(data.keys.dims, std::vector<std::string>{"region"});
  ASSERT_EQ(data.N(), 4u);  // "zz" quoted and unquoted is one series
  EXPECT_EQ(data.at(0, 3), 5.f);
  EXPECT_EQ(data.at(1, 3), 6.f);
  EXPECT_EQ(data.keys.value(0, 0), "say \"hi\"");
  EXPECT_EQ(data.keys.value(1, 0), "u\"k");  // a quote inside an unquoted field is text
  EXPECT_EQ(data.keys.value(2, 0), "u,k");
  EXPECT_EQ(data.at(0, 0), 4.f);
  EXPECT_EQ(data.at(1, 0), 2.f);
  EXPECT_EQ(data.at(1, 1), 3.f);
  EXPECT_EQ(data.at(0, 2), 1.f);
}

TEST(CsvIngest, MissingValuesAreObservedNaN) {
  TempDir dir;
  const Dataset data =
      read_text(dir,
                "timestamp,value\n"
                "2026-03-02T00:00:00Z,\n2026-03-02T00:05:00Z,nan\n2026-03-02T00:10:00Z,NaN\n"
                "2026-03-02T00:15:00Z,inf\n2026-03-02T00:20:00Z,-inf\n2026-03-02T00:25:00Z, 1e-50\n"
                "2026-03-02T00:30:00Z,+2.5\n");
  ASSERT_EQ(data.T, 7u);
  for (size_t t = 0; t < 5; ++t) {
    EXPECT_TRUE(std::isnan(data.at(t, 0))) << t;
    EXPECT_TRUE(data.was_observed(t, 0)) << t;
  }
  EXPECT_EQ(data.at(5, 0), 0.f);  // below float32 range: zero, not an error
  EXPECT_EQ(data.at(6, 0), 2.5f);
}

// A few thousand series over a day, shuffled: big enough to be cut into several chunks.
std::string make_long_csv(std::mt19937& rng, std::vector<std::string>& rows, bool shuffle) {
  std::uniform_real_distribution<float> value(-1000.f, 1000.f);
  rows.clear();
  for (int t = 0; t < 288; t += 2)
    for (const char* region : {"br", "de", "uk", "us"})
      for (int device = 0; device < 60; ++device) {
        if ((t * 7 + device) % 11 == 0) continue;  // gaps
        rows.push_back(format_iso(kMar2 + t * 300) + ",android_" + std::to_string(device) + "," + region +
                       "," + to_text(value(rng)));
      }
  if (shuffle) std::shuffle(rows.begin(), rows.end(), rng);
  std::string text = "timestamp,device,region,value\n";
  for (const std::string& row : rows) text += row + "\n";
  return text;
}

TEST(CsvIngest, RowOrderAndThreadCountDoNotChangeTheDataset) {
  TempDir dir;
  std::mt19937 rng(7);
  std::vector<std::string> rows;
  const std::string ordered = make_long_csv(rng, rows, false);
  rng.seed(7);
  const std::string shuffled = make_long_csv(rng, rows, true);
  ASSERT_GT(shuffled.size(), 1000000u);  // several chunks at 256 KiB each

  IngestOptions one, four;
  one.threads = 1;
  four.threads = 4;
  const Dataset reference = read_text(dir, ordered, one);
  EXPECT_EQ(reference.N(), 240u);
  EXPECT_EQ(reference.step, 600);
  const Dataset shuffled_one = read_text(dir, shuffled, one);
  IngestStats stats;
  write_file(dir.file("shuffled.csv"), shuffled);
  const Dataset shuffled_four = read_csv(dir.file("shuffled.csv"), four, &stats);
  EXPECT_EQ(stats.threads, 4);
  EXPECT_EQ(stats.rows, rows.size());
  EXPECT_EQ(stats.bytes, shuffled.size());
  expect_same_values(reference, shuffled_one);
  expect_same_values(reference, shuffled_four);
  EXPECT_EQ(reference.observed, shuffled_four.observed);
}

TEST(CsvIngest, LineNumbersAreExactAcrossChunks) {
  TempDir dir;
  std::mt19937 rng(3);
  std::vector<std::string> rows;
  make_long_csv(rng, rows, true);
  // Blank and CRLF lines early on shift every later line; the bad row sits in the last chunk.
  std::string text = "timestamp,device,region,value\r\n\r\n";
  const size_t bad = rows.size() - 10;
  for (size_t i = 0; i < rows.size(); ++i) {
    text += (i == bad ? "2026-03-02T00:00:00Z,x,y,oops" : rows[i]) + (i < 100 ? "\r\n" : "\n");
    if (i == 50) text += "\n";
  }
  IngestOptions options;
  options.threads = 4;
  // header + blank + rows before it + the blank after row 50, 1-based.
  const size_t line = 1 + 1 + bad + 1 + 1;
  EXPECT_EQ(read_error(dir, text, options),
            dir.file("data.csv") + ":" + std::to_string(line) + ": value 'oops' is not a number");
}

TEST(CsvIngest, ParallelReadKeepsFileOrderForDuplicates) {
  TempDir dir;
  std::mt19937 rng(5);
  std::vector<std::string> rows;
  std::string text = make_long_csv(rng, rows, true);
  // Rows 10 and 20 again at the end (the last chunk), with other values: the first of the
  // pair sits in the first chunk, and each later row must win or add in file order.
  const std::string again10 = rows[10].substr(0, rows[10].rfind(',')) + ",1.5";
  const std::string again20 = rows[20].substr(0, rows[20].rfind(',')) + ",";
  text += again10 + "\n" + again20 + "\n" + again10 + "\n";
  const size_t first_duplicate_line = rows.size() + 2;

  for (DuplicatePolicy policy : {DuplicatePolicy::Last, DuplicatePolicy::Sum}) {
    IngestOptions one, four;
    one.duplicates = four.duplicates = policy;
    one.threads = 1;
    four.threads = 4;
    expect_same_values(read_text(dir, text, one), read_text(dir, text, four));
  }
  IngestOptions four;
  four.threads = 4;
  const std::string message = read_error(dir, text, four);
  EXPECT_EQ(message.substr(0, message.find(" for series")),
            dir.file("data.csv") + ":" + std::to_string(first_duplicate_line) + ": duplicate point");
  EXPECT_TRUE(contains(message, "(first at line 12)"));  // rows[10]: after the header, 1-based

  // An off-grid row early in the file is reported before a duplicate later on.
  text.insert(text.find('\n') + 1, "2026-03-02T00:01:00Z,android_1,br,1\n");
  const std::string off_grid = dir.file("data.csv") + ":2: timestamp 2026-03-02T00:01:00Z is not on the grid";
  EXPECT_EQ(read_error(dir, text, four).substr(0, off_grid.size()), off_grid);
}

TEST(CsvIngest, DuplicateIsAnErrorNamingBothLines) {
  TempDir dir;
  const std::string text =
      "timestamp,region,stack,value\n"
      "2026-03-02T00:00:00Z,br,web,1\n"
      "2026-03-02T00:15:00Z,br,web,2\n"
      "2026-03-02T00:15:00Z,br,tv,3\n"
      "2026-03-02T00:05:00Z,br,web,4\n"
      "2026-03-02T00:10:00Z,br,web,5\n"
      "2026-03-02T00:15:00Z,br,web,6\n";
  EXPECT_EQ(
      read_error(dir, text),
      dir.file("data.csv") +
          ":7: duplicate point for series region=br,stack=web at 2026-03-02T00:15:00Z (first at line 3); "
          "use --duplicates last|sum");
}

TEST(CsvIngest, DuplicatePoliciesLastAndSum) {
  TempDir dir;
  const std::string text =
      "timestamp,value\n"
      "2026-03-02T00:00:00Z,1\n"
      "2026-03-02T00:05:00Z,2\n"
      "2026-03-02T00:00:00Z,10\n"
      "2026-03-02T00:05:00Z,\n"
      "2026-03-02T00:00:00Z,100\n";
  IngestOptions last;
  last.duplicates = DuplicatePolicy::Last;
  const Dataset kept = read_text(dir, text, last);
  EXPECT_EQ(kept.at(0, 0), 100.f);
  EXPECT_TRUE(std::isnan(kept.at(1, 0)));  // the later row wins, even when it is empty

  IngestOptions sum;
  sum.duplicates = DuplicatePolicy::Sum;
  const Dataset summed = read_text(dir, text, sum);
  EXPECT_EQ(summed.at(0, 0), 111.f);
  EXPECT_EQ(summed.at(1, 0), 2.f);  // a missing value adds nothing
}

TEST(CsvIngest, BadInputsNameFileAndLine) {
  TempDir dir;
  const std::string file = dir.file("data.csv");
  const std::string ok_row = "2026-03-02T00:00:00Z,br,1\n";
  const std::string header = "timestamp,region,value\n";
  struct Case {
    std::string text, message;
  };
  const std::vector<Case> cases = {
      {"", file + ": empty file"},
      {"\n\n", file + ": empty file"},
      {"time,region,value\n" + ok_row,
       file + ":1: header has no 'timestamp' column (columns: time, region, value)"},
      {"timestamp,region,val\n" + ok_row, file + ":1: header has no 'value' column"},
      {"timestamp,region,region,value\n", file + ":1: header: column 'region' appears twice"},
      {"timestamp,,value\n", file + ":1: header: column 2 has no name"},
      {header, file + ": has a header but no data rows"},
      {header + ok_row + "2026-03-02T00:05:00Z,br\n",
       file + ":3: expected 3 fields (timestamp,region,value), found 2"},
      {header + ok_row + "2026-03-02T00:05:00Z,br,1,9\n", file + ":3: expected 3 fields"},
      {header + ok_row + "2026-03-02T00:05:00Z,\"br,1\n", file + ":3: unterminated quoted field"},
      {header + ok_row + "2026-03-02T00:05:00Z,br,abc\n", file + ":3: value 'abc' is not a number"},
      {header + ok_row + "2026-03-02T00:05:00Z,br,1e50\n",
       file + ":3: value '1e50' is out of range for float32"},
      {header + ok_row + "yesterday,br,1\n",
       file + ":3: timestamp 'yesterday' is not ISO-8601 or unix seconds"},
      {header + ok_row + "2026-03-02T00:05:00Z,br,1\n2026-03-02T00:10:00Z,br,1\n2026-03-02T00:12:00Z,br,1\n",
       file + ":5: timestamp 2026-03-02T00:12:00Z is not on the grid (start 2026-03-02T00:00:00Z, step 5m"},
      {header + ok_row + "2026-03-02T00:05:00Z,br,1\n" + ok_row,
       file + ":4: duplicate point for series region=br"},
      {header + ok_row + "2026-03-02T00:00:00Z,uk,1\n", file + ": every row has the same timestamp"},
  };
  for (const Case& c : cases) {
    const std::string message = read_error(dir, c.text);
    EXPECT_EQ(message.substr(0, c.message.size()), c.message) << c.text;
  }
  EXPECT_EQ(error_of([&] { read_csv(dir.file("missing.csv"), {}); }),
            dir.file("missing.csv") + ": cannot read: No such file or directory");
  EXPECT_TRUE(contains(error_of([&] { read_csv(dir.path().string(), {}); }), "is a directory"));
}

TEST(CsvIngest, OffGridRowWithExplicitStep) {
  TempDir dir;
  IngestOptions options;
  options.step = 600;
  EXPECT_EQ(
      read_error(dir, "timestamp,value\n2026-03-02T00:00:00Z,1\n2026-03-02T00:05:00Z,1\n", options),
      dir.file("data.csv") +
          ":3: timestamp 2026-03-02T00:05:00Z is not on the grid (start 2026-03-02T00:00:00Z, step 10m); "
          "--off-grid snap places such rows on the nearest grid point");
  // Snapped, 00:05 lies half way: it rounds up to 00:10, a second grid point.
  options.snap_to_grid = true;
  test::write_file(dir.file("data.csv"), "timestamp,value\n2026-03-02T00:00:00Z,1\n2026-03-02T00:05:00Z,2\n");
  const Dataset d = read_csv(dir.file("data.csv"), options);
  ASSERT_EQ(d.T, 2u);
  EXPECT_EQ(d.values[1], 2.0f);
}

TEST(CsvIngest, ImplausiblyLargeGridIsRefused) {
  TempDir dir;
  // One row typed in 1970 would stretch 5-minute data over 56 years.
  std::string text = "timestamp,device,value\n0,a,1\n";
  for (int d = 0; d < 100; ++d) text += "2026-03-02T00:00:00Z," + std::to_string(d) + ",1\n";
  for (int d = 0; d < 100; ++d) text += "2026-03-02T00:05:00Z," + std::to_string(d) + ",1\n";
  EXPECT_TRUE(contains(read_error(dir, text), "is a timestamp or --step wrong?"));
}

// ---------------------------------------------------------------------------------------------
// Roles

TEST(CsvIngest, ResolveRolesChecksNamedColumns) {
  TempDir dir;
  const std::string text =
      "timestamp,metric,stack,region,value\n2026-03-02T00:00:00Z,m,web,br,1\n"
      "2026-03-02T00:05:00Z,m,web,br,1\n";
  Dataset data = read_text(dir, text);
  resolve_roles(data, false, false);
  EXPECT_EQ(data.group_dim, "region");
  EXPECT_EQ(data.stack_dim, "stack");

  IngestOptions country;
  country.group_dim = "country";
  Dataset named = read_text(dir, text, country);
  EXPECT_EQ(
      error_of([&] { resolve_roles(named, true, false); }),
      dir.file("data.csv") + ": --group-dim 'country' is not a column (columns: metric, stack, region)");

  // A default role the data lacks is simply off.
  Dataset single = read_text(dir, "timestamp,value\n1,1\n2,2\n");
  resolve_roles(single, false, false);
  EXPECT_EQ(single.group_dim, "");
  EXPECT_EQ(single.stack_dim, "");

  IngestOptions same;
  same.stack_dim = "region";
  Dataset both = read_text(dir, text, same);
  EXPECT_TRUE(contains(error_of([&] { resolve_roles(both, false, true); }), "both name 'region'"));
}

// ---------------------------------------------------------------------------------------------
// Cube

Dataset sample_dataset(const TempDir& dir) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(-1e6f, 1e6f);
  std::string text = "timestamp,metric,region,value\n";
  // Values whose shortest text needs all nine digits, denormals, extremes and gaps.
  const std::vector<float> special = {0.1f,  1.0f / 3.0f,   16777217.0f,     1e-40f,
                                      -0.0f, 3.4028235e38f, -1.17549435e-38f};
  for (int t = 0; t < 50; ++t)
    for (const char* region : {"br", "u,k", "de"}) {
      if ((t + region[0]) % 7 == 0) continue;
      const float v = t < static_cast<int>(special.size()) ? special[t] : uniform(rng);
      text += format_iso(kMar2 + t * 3600) + ",play_starts," + (region[1] == ',' ? "\"u,k\"" : region) + "," +
              (t == 20 ? "" : to_text(v)) + "\n";
    }
  return read_text(dir, text);
}

TEST(Cube, CsvToCubeToCsvRoundTripIsExact) {
  TempDir dir;
  const Dataset original = sample_dataset(dir);
  write_cube(original, dir.file("cube"));
  const Dataset cube = read_cube(dir.file("cube"), {});
  expect_same_values(original, cube);
  EXPECT_TRUE(cube.observed.empty());
  EXPECT_EQ(cube.source, dir.file("cube"));

  write_csv(cube, dir.file("back.csv"));
  const Dataset back = read_csv(dir.file("back.csv"), {});
  expect_same_values(original, back);

  // The CSV writer leaves out points the input never had.
  write_csv(original, dir.file("direct.csv"));
  const Dataset direct = read_csv(dir.file("direct.csv"), {});
  expect_same_values(original, direct);
  EXPECT_EQ(direct.observed, original.observed);
}

TEST(Cube, WritesNumpyLoadableFiles) {
  TempDir dir;
  const Dataset data = sample_dataset(dir);
  write_cube(data, dir.file("cube"));
  const std::string npy = test::read_file(dir.file("cube/values.npy"));
  ASSERT_GT(npy.size(), 10u);
  EXPECT_EQ(npy.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t header_length = static_cast<unsigned char>(npy[8]) | static_cast<unsigned char>(npy[9]) << 8;
  EXPECT_EQ((10 + header_length) % 64, 0u);  // data aligned as NumPy writes it
  EXPECT_TRUE(contains(npy.substr(10, header_length), "'shape': (50, 3)"));
  EXPECT_EQ(npy.size(), 10 + header_length + 50 * 3 * 4);
  EXPECT_EQ(test::read_file(dir.file("cube/keys.csv")),
            "metric,region\nplay_starts,br\nplay_starts,de\nplay_starts,\"u,k\"\n");
  const std::string meta = test::read_file(dir.file("cube/meta.json"));
  EXPECT_TRUE(contains(meta, "\"start\": \"2026-03-02T00:00:00Z\""));
  EXPECT_TRUE(contains(meta, "\"step_seconds\": 3600"));
}

// A small cube written by hand, as NumPy and a user would.
void write_small_cube(
    const TempDir& dir, const std::string& npy_dict, const std::string& data_bytes,
    const std::string& keys = "region\nbr\nuk\n",
    const std::string& meta = R"({"start": 1772409600, "step_seconds": 300, "dims": ["region"],
                                                     "group_dim": "region", "stack_dim": null})",
    int version = 1) {
  std::filesystem::create_directories(dir.file("cube"));
  std::string npy = "\x93NUMPY";
  npy += static_cast<char>(version);
  npy += '\0';
  if (version == 1) {
    npy += static_cast<char>(npy_dict.size() & 0xff);
    npy += static_cast<char>(npy_dict.size() >> 8);
  } else {
    for (int i = 0; i < 4; ++i) npy += static_cast<char>((npy_dict.size() >> (8 * i)) & 0xff);
  }
  write_file(dir.file("cube/values.npy"), npy + npy_dict + data_bytes);
  write_file(dir.file("cube/keys.csv"), keys);
  write_file(dir.file("cube/meta.json"), meta);
}

std::string float_bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

TEST(Cube, ReadsHandWrittenCubeAndTurnsInfIntoNaN) {
  TempDir dir;
  write_small_cube(
      dir, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }\n",
      float_bytes({1, INFINITY, -2, NAN}), "region\nbr\nuk\n",
      R"({"start": 1772409600, "step_seconds": 300, "dims": ["region"], "group_dim": "region", "stack_dim": null})",
      2);
  const Dataset data = read_cube(dir.file("cube"), {});
  EXPECT_EQ(data.start, kMar2);
  EXPECT_EQ(data.step, 300);
  ASSERT_EQ(data.T, 2u);
  ASSERT_EQ(data.N(), 2u);
  EXPECT_EQ(data.keys.describe(1), "region=uk");
  EXPECT_EQ(data.at(0, 0), 1.f);
  EXPECT_TRUE(std::isnan(data.at(0, 1)));
  EXPECT_EQ(data.at(1, 0), -2.f);
  EXPECT_TRUE(std::isnan(data.at(1, 1)));
  EXPECT_EQ(data.group_dim, "region");
  EXPECT_EQ(data.stack_dim, "");  // the cube says it has none

  // Explicit roles from the command line win over the cube's.
  IngestOptions options;
  options.group_dim = "";
  options.stack_dim = "region";
  const Dataset overridden = read_cube(dir.file("cube"), options);
  EXPECT_EQ(overridden.group_dim, "");
  EXPECT_EQ(overridden.stack_dim, "region");
  // read_input tells a cube from a CSV by the directory.
  EXPECT_EQ(read_input(dir.file("cube"), {}).N(), 2u);
}

TEST(Cube, RejectsBrokenCubes) {
  const std::string good_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }\n";
  const std::string good_data = float_bytes({1, 2, 3, 4});
  struct Case {
    std::string dict, data, keys, meta, message;
  };
  const std::string meta = R"({"start": "2026-03-02T00:00:00Z", "step_seconds": 300, "dims": ["region"]})";
  const std::vector<Case> cases = {
      {good_dict, good_data.substr(0, 12), "region\nbr\nuk\n", meta,
       "values.npy: truncated: expected 16 bytes of data, found 12"},
      {good_dict, good_data + "xxxx", "region\nbr\nuk\n", meta, "values.npy: expected 16 bytes of data"},
      {good_dict, good_data, "region\nbr\nuk\nus\n", meta,
       ": keys.csv has 3 series but values.npy has 2 columns"},
      {good_dict, good_data, "country\nbr\nuk\n", meta,
       "keys.csv:1: header (country) does not match the dims of meta.json (region)"},
      {good_dict, good_data, "region\nbr\nbr\n", meta,
       "keys.csv:3: series region=br appears twice (first at line 2)"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }\n", good_data, "region\nbr\nuk\n", meta,
       "values.npy: dtype '<f8' is not supported"},
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", good_data, "region\nbr\nuk\n", meta,
       "values.npy: the array is not in C order"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }\n", good_data, "region\nbr\nuk\n", meta,
       "values.npy: shape has 1 dimensions"},
      {good_dict, good_data, "region\nbr\nuk\n", "{\"start\": 1}",
       "meta.json: 'step_seconds' must be a positive integer"},
      {good_dict, good_data, "region\nbr\nuk\n", "{not json", "meta.json: is not valid JSON"},
  };
  for (const Case& c : cases) {
    TempDir dir;
    write_small_cube(dir, c.dict, c.data, c.keys, c.meta);
    EXPECT_TRUE(contains(error_of([&] { read_cube(dir.file("cube"), {}); }), c.message)) << c.message;
    // The streaming path (`vigil score` on a cube) checks the same before reading a value.
    EXPECT_TRUE(contains(error_of([&] { open_cube(dir.file("cube"), {}); }), c.message)) << c.message;
  }
  TempDir dir;
  write_small_cube(dir, good_dict, good_data);
  write_file(dir.file("cube/values.npy"), "PK\x03\x04 a zip file");
  EXPECT_TRUE(contains(error_of([&] { read_cube(dir.file("cube"), {}); }), "not a NumPy .npy file"));
  std::filesystem::remove(dir.file("cube/meta.json"));
  EXPECT_EQ(
      error_of([&] { read_cube(dir.file("cube"), {}); }),
      dir.file("cube/meta.json") + ": missing; a cube directory holds keys.csv, values.npy and meta.json");
}

TEST(Cube, SingleSeriesCubeRoundTrips) {
  TempDir dir;
  const Dataset data = read_text(dir, "timestamp,value\n1772409600,1\n1772409900,2\n");
  write_cube(data, dir.file("cube"));
  const Dataset back = read_cube(dir.file("cube"), {});
  EXPECT_EQ(back.N(), 1u);
  expect_same_values(data, back);
}

TEST(Cube, ReplacesAnEarlierCubeButNeverForeignFiles) {
  TempDir dir;
  const Dataset data = sample_dataset(dir);
  write_cube(data, dir.file("cube"));
  write_cube(data, dir.file("cube"));  // an earlier cube is replaced
  expect_same_values(data, read_cube(dir.file("cube"), {}));

  std::filesystem::create_directories(dir.file("mine"));
  write_file(dir.file("mine/notes.txt"), "precious");
  EXPECT_TRUE(contains(error_of([&] { write_cube(data, dir.file("mine")); }), "holds 'notes.txt'"));
  EXPECT_EQ(test::read_file(dir.file("mine/notes.txt")), "precious");
  // No temporary directory is left beside it.
  size_t entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    entries += entry.path().filename().string().rfind(".mine", 0) == 0;
  EXPECT_EQ(entries, 0u);
}

TEST(IngestAtomicFile, CommitsOrLeavesNothing) {
  TempDir dir;
  {
    AtomicFile file(dir.file("out.txt"));
    file.write("half");
  }  // abandoned: no output, no temporary
  EXPECT_EQ(
      std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()),
      0);
  {
    AtomicFile file(dir.file("out.txt"));
    file.write("whole\n");
    EXPECT_FALSE(std::filesystem::exists(dir.file("out.txt")));  // invisible until committed
    file.commit();
  }
  EXPECT_EQ(test::read_file(dir.file("out.txt")), "whole\n");
  EXPECT_EQ(error_of([&] { AtomicFile file(dir.file("no/such/dir/out.txt")); }),
            dir.file("no/such/dir/out.txt") + ": cannot write: No such file or directory");
}

// ---------------------------------------------------------------------------------------------
// Event schedule

TEST(EventSchedule, ParsesRowsInAnyColumnOrder) {
  TempDir dir;
  write_file(dir.file("events.csv"),
             "scope,event,expected_impact,start,end\n"
             "region=uk;region=de;stack=web,final,-0.35,2026-03-02T18:00:00Z,2026-03-02T20:00:00Z\n"
             "\n"
             "*,launch,,2026-03-03T00:00:00Z,2026-03-04T00:00:00Z\n"
             "\" stack = tv \",\"derby, north\",0.2,1772409600,1772413200\n");
  const EventSchedule schedule = read_events(dir.file("events.csv"));
  EXPECT_EQ(schedule.source, dir.file("events.csv"));
  ASSERT_EQ(schedule.events.size(), 3u);
  const Event& final_match = schedule.events[0];
  EXPECT_EQ(final_match.name, "final");
  EXPECT_EQ(final_match.start, kMar2 + 18 * 3600);
  EXPECT_EQ(final_match.end, kMar2 + 20 * 3600);
  EXPECT_FLOAT_EQ(final_match.expected_impact, -0.35f);
  EXPECT_EQ(final_match.line, 2);
  EXPECT_EQ(final_match.scope.text(), "region=de;region=uk;stack=web");
  EXPECT_TRUE(std::isnan(schedule.events[1].expected_impact));  // learned from history
  EXPECT_EQ(schedule.events[1].scope.text(), "*");
  EXPECT_EQ(schedule.events[1].line, 4);
  EXPECT_EQ(schedule.events[2].name, "derby, north");
  EXPECT_EQ(schedule.events[2].scope.text(), "stack=tv");
}

TEST(EventSchedule, ScopeIsOrWithinADimensionAndAcrossDimensions) {
  TempDir dir;
  const Dataset data = read_text(dir,
                                 "timestamp,region,stack,value\n"
                                 "1,uk,web,1\n1,de,web,1\n1,fr,web,1\n1,uk,tv,1\n2,uk,web,1\n");
  // Series: de/web, fr/web, uk/tv, uk/web.
  const Scope scope = parse_scope("region=uk; region=de ;stack=web", "events.csv", 2);
  std::vector<bool> matched;
  for (size_t s = 0; s < data.N(); ++s) matched.push_back(scope.matches(data.keys, s));
  EXPECT_EQ(matched, (std::vector<bool>{true, false, false, true}));
  const Scope everything = parse_scope("*", "events.csv", 2);
  EXPECT_TRUE(everything.terms.empty());
  for (size_t s = 0; s < data.N(); ++s) EXPECT_TRUE(everything.matches(data.keys, s));
  EXPECT_EQ(parse_scope(scope.text(), "events.csv", 2).text(), scope.text());
}

TEST(EventSchedule, RejectsMalformedScopes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "events.csv:9: scope is empty; use * for every series"},
      {"region=uk;;stack=web", "events.csv:9: scope 'region=uk;;stack=web' has an empty term"},
      {"region=uk;", "has an empty term"},
      {"region", "events.csv:9: scope term 'region' is not dim=value"},
      {"=uk", "has no dimension before '='"},
      {"region=", "has no value after '='"},
      {"*;region=uk", "'*' cannot be combined"},
  };
  for (const auto& [text, message] : cases)
    EXPECT_TRUE(contains(error_of([&] { parse_scope(text, "events.csv", 9); }), message)) << text;
}

TEST(EventSchedule, BadRowsAreRejectedWithTheirLine) {
  TempDir dir;
  const std::string header = "event,start,end,scope,expected_impact\n";
  const std::string good = "final,2026-03-02T18:00:00Z,2026-03-02T20:00:00Z,*,\n";
  const std::string file = dir.file("events.csv");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", file + ": empty file"},
      {"event,start,end,scope\n", file + ":1: missing column 'expected_impact'"},
      {"event,start,end,scope,expected_impact,notes\n", file + ":1: unknown column 'notes'"},
      {"event,start,start,scope,expected_impact\n", file + ":1: column 'start' appears twice"},
      {header + good + "final,2026-03-02T18:00:00Z,2026-03-02T18:00:00Z,*,\n",
       file + ":3: end 2026-03-02T18:00:00Z is not after start 2026-03-02T18:00:00Z"},
      {header + good + "final,soon,2026-03-02T18:00:00Z,*,\n", file + ":3: start 'soon' is not ISO-8601"},
      {header + good + "final,2026-03-02T18:00:00Z,later,*,\n", file + ":3: end 'later' is not ISO-8601"},
      {header + good + "final,2026-03-02T18:00:00Z,2026-03-02T20:00:00Z,region,\n",
       file + ":3: scope term 'region' is not dim=value"},
      {header + good + "final,2026-03-02T18:00:00Z,2026-03-02T20:00:00Z,*,big\n",
       file + ":3: expected_impact 'big' is not a number"},
      {header + good + "final,2026-03-02T18:00:00Z,2026-03-02T20:00:00Z,*,-1.5\n",
       file + ":3: expected_impact -1.5 is below -1"},
      {header + good + ",2026-03-02T18:00:00Z,2026-03-02T20:00:00Z,*,\n", file + ":3: event name is empty"},
      {header + good + "final,2026-03-02T18:00:00Z,*,\n", file + ":3: expected 5 fields, found 4"},
  };
  for (const auto& [text, message] : cases) {
    write_file(file, text);
    const std::string error = error_of([&] { read_events(file); });
    EXPECT_EQ(error.substr(0, message.size()), message) << text;
  }
  EXPECT_TRUE(contains(error_of([&] { read_events(dir.file("missing.csv")); }), "cannot read"));
}

TEST(EventSchedule, ValidationNamesUnknownDimensionsAndValues) {
  TempDir dir;
  const Dataset data =
      read_text(dir, "timestamp,region,value\n2026-03-02T00:00:00Z,uk,1\n2026-03-02T01:00:00Z,uk,1\n");
  const std::string events = dir.file("events.csv");
  const std::string header = "event,start,end,scope,expected_impact\n";
  write_file(events, header +
                         "a,2026-03-02T00:00:00Z,2026-03-02T00:30:00Z,region=uk,\n"
                         "b,2026-03-09T00:00:00Z,2026-03-09T01:00:00Z,*,\n"
                         "c,2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,*,\n");
  EXPECT_EQ(validate_events(read_events(events), data), 2u);  // b after the data, c ends as it starts

  write_file(events, header +
                         "a,2026-03-02T00:00:00Z,2026-03-02T00:30:00Z,region=uk,\n\n"
                         "b,2026-03-02T00:00:00Z,2026-03-02T00:30:00Z,country=uk,\n");
  EXPECT_EQ(error_of([&] { validate_events(read_events(events), data); }),
            events + ":4: scope names dimension 'country', which the data lacks (dimensions: region)");
  write_file(events, header + "a,2026-03-02T00:00:00Z,2026-03-02T00:30:00Z,region=uk;region=xx,\n");
  EXPECT_EQ(error_of([&] { validate_events(read_events(events), data); }),
            events + ":2: scope names region=xx, which the data lacks");
}

// ---------------------------------------------------------------------------------------------
// vigil convert

TEST(ConvertCli, WritesACube) {
  TempDir dir;
  write_file(dir.file("data.csv"),
             "timestamp,region,stack,value\n2026-03-02T00:00:00Z,br,web,1\n2026-03-02T00:05:00Z,br,web,2\n"
             "2026-03-02T00:00:00Z,br,web,3\n");
  const test::RunResult r = test::run_vigil("convert --input " + dir.file("data.csv") + " --out " +
                                            dir.file("cube") + " --duplicates sum --stack-dim ''");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(test::count_lines(r.out), 1u);
  EXPECT_TRUE(contains(r.out, "3 rows, 1 series x 2 points, step 5m"));
  const Dataset cube = read_cube(dir.file("cube"), {});
  EXPECT_EQ(cube.at(0, 0), 4.f);
  EXPECT_EQ(cube.group_dim, "region");
  EXPECT_EQ(cube.stack_dim, "");  // turned off on the command line, recorded in the cube
}

TEST(ConvertCli, BadInputExitsTwoAndLeavesNoOutput) {
  TempDir dir;
  write_file(dir.file("data.csv"),
             "timestamp,region,value\n2026-03-02T00:00:00Z,br,1\n2026-03-02T00:05:00Z,br,x\n");
  const test::RunResult r =
      test::run_vigil("convert --input " + dir.file("data.csv") + " --out " + dir.file("cube"));
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(test::count_lines(r.err), 1u);
  EXPECT_TRUE(contains(r.err, dir.file("data.csv") + ":3: value 'x' is not a number"));
  // Nothing but the input is left in the directory: no cube, no temporary.
  EXPECT_EQ(
      std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator()),
      1);
}

TEST(ConvertCli, BadOptionsExitTwo) {
  TempDir dir;
  write_file(dir.file("data.csv"),
             "timestamp,region,value\n2026-03-02T00:00:00Z,br,1\n2026-03-02T00:05:00Z,br,2\n");
  const std::string io = " --input " + dir.file("data.csv") + " --out " + dir.file("cube");
  for (const std::string& args :
       {io + " --duplicates first", io + " --step 5x", io + " --group-dim country",
        std::string(" --out ") + dir.file("cube"), io + " --threads -1", io + " --bogus"}) {
    const test::RunResult r = test::run_vigil("convert" + args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_EQ(test::count_lines(r.err), 1u) << args << ": " << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("cube"))) << args;
  }
  EXPECT_TRUE(
      contains(test::run_vigil("convert --input x --out y --group-dim country").err, "x: cannot read"));
  EXPECT_TRUE(contains(test::run_vigil("convert" + io + " --group-dim country").err,
                       "--group-dim 'country' is not a column (columns: region)"));
}

}  // namespace
