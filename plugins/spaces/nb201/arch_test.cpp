#include "nb201/arch.hpp"

#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nasx/error.hpp"

namespace nasx::nb201 {
namespace {

using ::testing::HasSubstr;

std::string message_of(const std::string& text) {
  try {
    Arch::parse(text);
  } catch (const GenotypeError& e) {
    return e.what();
  }
  return "(parsed)";
}

TEST(Nb201Arch, ParsesTheDocumentedExample) {
  const Arch arch = Arch::parse(
      "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_"
      "3x3~2|");
  EXPECT_EQ(arch.ops, (std::array<int, 6>{3, 3, 3, 1, 3, 3}));
}

TEST(Nb201Arch, EnumeratesAll15625DistinctCellsAndEachStringRoundTrips) {
  const auto all = Arch::enumerate();
  ASSERT_EQ(all.size(), 15625u);
  std::set<std::string> strings;
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string text = all[i].str();
    strings.insert(text);
    const Arch back = Arch::parse(text);
    ASSERT_EQ(back, all[i]) << text;
    ASSERT_EQ(back.str(), text);
    ASSERT_EQ(back.index(), static_cast<int64_t>(i));
  }
  EXPECT_EQ(strings.size(), 15625u);
}

TEST(Nb201Arch, NeighbourhoodHas24CellsEachOneOperationAway) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    const Arch arch = Arch::sample(rng);
    const auto neighbours = arch.neighbours();
    ASSERT_EQ(neighbours.size(), 24u);
    std::set<int64_t> distinct;
    for (const Arch& n : neighbours) {
      int differences = 0;
      for (int e = 0; e < kEdges; ++e) differences += n.ops[e] != arch.ops[e];
      EXPECT_EQ(differences, 1);
      distinct.insert(n.index());
    }
    EXPECT_EQ(distinct.size(), 24u);
    const Arch mutated = arch.mutate(rng);
    EXPECT_NE(std::find(neighbours.begin(), neighbours.end(), mutated), neighbours.end());
  }
}

TEST(Nb201Arch, SamplingCoversTheSpaceUniformly) {
  std::mt19937_64 rng(3);
  std::array<int, kOperations> counts{};
  for (int i = 0; i < 5000; ++i) counts[static_cast<size_t>(Arch::sample(rng).ops[0])]++;
  for (int c : counts) EXPECT_NEAR(c, 1000, 150);
}

TEST(Nb201Arch, RejectsMalformedStringsNamingTokenAndPosition) {
  EXPECT_THAT(message_of("|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
              HasSubstr("column 2: unknown operation 'conv_9x9'"));
  EXPECT_THAT(message_of("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|"),
              HasSubstr("node 2 cannot take input from node 2"));
  EXPECT_THAT(message_of("|none~0|+|none~0|none~1|"), HasSubstr("needs 3"));
  EXPECT_THAT(message_of("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|"),
              HasSubstr("more than 3 groups"));
  EXPECT_THAT(message_of("|none~0+|none~0|none~1|+|none~0|none~1|none~2|"),
              HasSubstr("column 7: expected source 0 for token 1 of node 1, found '0+'"));
  EXPECT_THAT(message_of("none~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
              HasSubstr("column 1: expected '|'"));
  EXPECT_THAT(message_of("|none~0|+|none~0|none~1|+|none~0|none~1|none~2"),
              HasSubstr("missing '|'"));
  const std::string text = "|none~0|+|skip~0|none~1|+|none~0|none~1|none~2|";
  EXPECT_THAT(message_of(text), HasSubstr("\n  " + text + "\n  " + std::string(10, ' ') + "^"));
}

}  // namespace
}  // namespace nasx::nb201
