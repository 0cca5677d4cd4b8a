// The bench's time profile as text: what OpProfile::print writes is read back operator
// by operator (names with spaces and shapes included), cut to its first rows, and two
// profiles set side by side by how much each operator changed (nasx bench --against).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/record_function.h>

#include "../../core/src/cli/op_profile.hpp"

namespace {

using nasx::cli::bench::cut_printed_profile;
using nasx::cli::bench::OpProfile;
using nasx::cli::bench::print_profile_change;
using nasx::cli::bench::PrintedProfile;
using nasx::cli::bench::read_printed_profile;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(OpProfileText, ReadsBackEveryOperatorThatPrintWrote) {
  std::ostringstream text;
  {
    OpProfile profile(/*by_shapes=*/true);
    const at::Tensor a = at::randn({64, 64}), b = at::randn({64, 64});
    for (int unit = 0; unit < 3; ++unit) {
      RECORD_FUNCTION("nasx_test::unit", std::vector<c10::IValue>());
      at::Tensor c = at::mm(a, b);
      c = at::relu(c);
    }
    text << "figures before\n";
    profile.print(text, 3, /*top=*/1000);
    text << "median_s=0.1\n";
  }
  const PrintedProfile read = read_printed_profile(text.str());
  ASSERT_TRUE(read.found) << text.str();
  std::vector<std::string> names;
  double sum = 0;
  for (const auto& [name, ms] : read.rows) {
    names.push_back(name);
    sum += ms;
    EXPECT_GE(ms, 0.0);
  }
  EXPECT_THAT(names, ::testing::Contains("nasx_test::unit"));
  // A name split by shapes keeps its spaces: "aten::mm [64,64] [64,64]".
  EXPECT_THAT(names, ::testing::Contains(::testing::StartsWith("aten::mm [64,64] [64,64]")))
      << text.str();
  // In the printed order (by self time), and summing to the total (each row rounded to
  // 0.01 ms).
  for (size_t i = 1; i < read.rows.size(); ++i)
    EXPECT_GE(read.rows[i - 1].second, read.rows[i].second);
  EXPECT_NEAR(sum, read.total, 0.005 * static_cast<double>(read.rows.size()) + 0.01);
  EXPECT_GT(read.total, 0.0);

  EXPECT_FALSE(read_printed_profile("median_s=0.1 min_s=0.1\n").found);
}

TEST(OpProfileText, ReadsBackANameCutToTheColumnAndOneEndingInANumber) {
  const std::string long_name =
      "nasx_test::an_operator_whose_name_is_longer_than_the_sixty_four_columns_of_the_table";
  std::ostringstream text;
  {
    OpProfile profile;
    {
      RECORD_FUNCTION(long_name.c_str(), std::vector<c10::IValue>());
      { RECORD_FUNCTION("nasx_test::step 1", std::vector<c10::IValue>()); }
    }
    profile.print(text, 1);
  }
  const PrintedProfile read = read_printed_profile(text.str());
  std::vector<std::string> names;
  for (const auto& row : read.rows) names.push_back(row.first);
  EXPECT_THAT(names, ::testing::UnorderedElementsAre(long_name.substr(0, 63), "nasx_test::step 1"))
      << text.str();
  // A stray line in the table (another process's message) is no row.
  const PrintedProfile stray = read_printed_profile(
      "operator  calls  self ms  total ms  self %\nwarning: 1 2 3abc 4\nall operators 1.00\n");
  EXPECT_TRUE(stray.found);
  EXPECT_TRUE(stray.rows.empty());
}

constexpr const char* kPrinted =
    "median_s=0.5\n"
    "\n"
    "operators by self time, per unit (2 units recorded; self: ...)\n"
    "operator                   calls    self ms   total ms  self %\n"
    "aten::convolution_backward    10      30.00      31.00    60.0\n"
    "aten::add [4,8] [4,8] 1       20      15.00      15.00    30.0\n"
    "nasx::darts::avg_pool_3x3      5       5.00       5.00    10.0\n"
    "all operators                         50.00\n"
    "median_s=0.5 min_s=0.4\n";

TEST(OpProfileText, CutKeepsTheFirstRowsTheTotalAndTheRest) {
  const std::string cut = cut_printed_profile(kPrinted, 2);
  EXPECT_THAT(cut, HasSubstr("aten::convolution_backward"));
  EXPECT_THAT(cut, HasSubstr("aten::add [4,8] [4,8] 1"));
  EXPECT_THAT(cut, Not(HasSubstr("avg_pool_3x3")));
  EXPECT_THAT(cut, HasSubstr("all operators                         50.00\n"
                             "median_s=0.5 min_s=0.4\n"));
  EXPECT_EQ(cut_printed_profile(kPrinted, 100), kPrinted);
  const PrintedProfile read = read_printed_profile(kPrinted);
  ASSERT_EQ(read.rows.size(), 3u);
  EXPECT_EQ(read.rows[1].first, "aten::add [4,8] [4,8] 1");
  EXPECT_DOUBLE_EQ(read.rows[1].second, 15.0);
  EXPECT_DOUBLE_EQ(read.total, 50.0);
}

TEST(OpProfileText, MedianProfileTakesEachOperatorsMedianAMissingOneAsZero) {
  PrintedProfile one, two, three;
  one.found = two.found = three.found = true;
  one.rows = {{"b", 5}, {"a", 1}};
  one.total = 10;
  two.rows = {{"c", 9}, {"b", 4}, {"a", 3}};
  two.total = 20;
  three.rows = {{"a", 2}};
  three.total = 15;
  const PrintedProfile median = nasx::cli::bench::median_profile({one, two, three});
  EXPECT_TRUE(median.found);
  // b: 5, 4, 0 -> 4; a: 1, 3, 2 -> 2; c: 0, 9, 0 -> 0; by the median, largest first.
  EXPECT_EQ(median.rows,
            (std::vector<std::pair<std::string, double>>{{"b", 4}, {"a", 2}, {"c", 0}}));
  EXPECT_DOUBLE_EQ(median.total, 15);
  EXPECT_DOUBLE_EQ(nasx::cli::bench::median_profile({one, two}).total, 15);  // (10 + 20) / 2
  PrintedProfile none;
  EXPECT_FALSE(nasx::cli::bench::median_profile({one, none}).found);
  EXPECT_FALSE(nasx::cli::bench::median_profile({}).found);
}

/// The numbers after `name` on its line of `table`.
std::vector<double> change_row(const std::string& table, const std::string& name) {
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + " ", 0) != 0) continue;
    std::istringstream words(line.substr(name.size()));
    std::vector<double> values;
    for (double v; words >> v;) values.push_back(v);
    return values;
  }
  return {};
}

TEST(OpProfileText, ChangeListsTheOperatorsThatChangedMostFirstAMissingOneAsZero) {
  PrintedProfile before, after;
  before.found = after.found = true;
  before.rows = {{"op a", 10}, {"op b", 5}, {"op c", 1}};
  before.total = 16;
  after.rows = {{"op a", 9}, {"op b", 8}, {"op d", 2}};
  after.total = 19;
  std::ostringstream out;
  print_profile_change(out, "nasx [B]", before, "nasx", after, /*top=*/3);
  const std::string table = out.str();
  EXPECT_THAT(table, HasSubstr("nasx against nasx [B]"));
  EXPECT_EQ(change_row(table, "op b"), (std::vector<double>{5, 8, 3}));
  EXPECT_EQ(change_row(table, "op d"), (std::vector<double>{0, 2, 2}));
  EXPECT_EQ(change_row(table, "op a"), (std::vector<double>{10, 9, -1}));
  EXPECT_TRUE(change_row(table, "op c").empty()) << "only the top 3: " << table;
  EXPECT_EQ(change_row(table, "all operators"), (std::vector<double>{16, 19, 3}));
  // Biggest change first: b (+3), d (+2), then a (-1).
  EXPECT_LT(table.find("op b"), table.find("op d"));
  EXPECT_LT(table.find("op d"), table.find("op a"));
  EXPECT_THAT(table, HasSubstr("+3.00"));
  EXPECT_THAT(table, HasSubstr("-1.00"));
}

}  // namespace
