// The validation layer (core/text_checks.hpp), the message format every InputError shares, and
// the SIGBUS guard of mapped input files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "common/test_util.hpp"
#include "core/text_checks.hpp"
#include "ingest/csv_text.hpp"
#include "vigil/atomic_file.hpp"
#include "vigil/error.hpp"
#include "vigil/limits.hpp"

namespace vigil {
namespace {

TEST(TextChecks, Utf8IsValidatedStrictly) {
  EXPECT_EQ(text_problem("region-\xc3\xa9-\xf0\x9f\x93\xba", 100), nullptr);  // é and a 4-byte emoji
  for (const char* bad : {"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc3", "a\xe2\x82"})
    EXPECT_STREQ(text_problem(bad, 100), "is not valid UTF-8") << bad;
  EXPECT_STREQ(text_problem(std::string("a\0b", 3), 100), "holds a control character");
  EXPECT_STREQ(text_problem("a\tb", 100), "holds a control character");
  EXPECT_STREQ(text_problem(std::string(101, 'x'), 100), "is too long");
}

TEST(TextChecks, InputErrorMessagesAreOnePrintableBoundedLine) {
  std::string message = "f.csv:3: value '";
  message += std::string("a\nb\r\t\f", 6);
  message += '\0';
  message += "\xff\xc3\xa9' is wrong";
  const InputError e(message);
  EXPECT_EQ(std::string(e.what()), "f.csv:3: value 'a\\nb\\r\\t\\x0c\\0\\xff\xc3\xa9' is wrong");
  const InputError huge("f.csv: " + std::string(100000, 'x') + " the problem");
  const std::string text = huge.what();
  EXPECT_LE(text.size(), kMaxMessageBytes + 40);
  EXPECT_EQ(text.rfind("f.csv: ", 0), 0u);
  EXPECT_EQ(text.substr(text.size() - 12), " the problem");
  EXPECT_EQ(in_quotes(std::string(200, 'v')), "'" + std::string(80, 'v') + "'...(200 bytes)");
}

TEST(TextChecks, DimensionNamesAndGrids) {
  EXPECT_NO_THROW(check_dim_names("m", 0, {"region", "stack"}));
  EXPECT_THROW(check_dim_names("m", 0, {"region", "region"}), InputError);
  EXPECT_THROW(check_dim_names("m", 0, {"region", ""}), InputError);
  EXPECT_THROW(check_dim_names("m", 0, std::vector<std::string>(limits::kMaxDims + 1, "d")), InputError);
  EXPECT_NO_THROW(check_grid("m", 1767225600, 300, 1000));
  EXPECT_THROW(check_grid("m", INT64_MAX, 300, 1), InputError);
  EXPECT_THROW(check_grid("m", 0, INT64_MAX, 1), InputError);
  EXPECT_THROW(check_grid("m", 0, 0, 1), InputError);
  EXPECT_THROW(check_grid("m", 253402300000, 3600, 1000), InputError);  // past 9999-12-31
  EXPECT_NO_THROW(check_grid("m", -62167219200, 86400, 10));             // from 0000-01-01
}

// A CSV truncated while it is mapped faults on the pages past its new end: one line naming the
// file, exit code 2, instead of a bare SIGBUS.
TEST(TextChecksDeathTest, AFileTruncatedWhileMappedIsOneLineAndExitTwo) {
  test::TempDir tmp;
  const std::string path = tmp.file("in.csv");
  test::write_file(path, "timestamp,value\n" + std::string(3 * 4096, '1'));
  EXPECT_EXIT(
      {
        install_signal_cleanup("vigil score");
        const csv::FileBytes file(path);
        if (::truncate(path.c_str(), 0) != 0) ::_exit(3);
        volatile char c = file.view()[2 * 4096 + 7];
        (void)c;
        ::_exit(4);  // not reached: the read above faults
      },
      ::testing::ExitedWithCode(2), "vigil score: .*in.csv: changed while being read");
}

}  // namespace
}  // namespace vigil
