// The architecture operations of both spaces: text round trips, uniform sampling,
// mutation by one edit, neighbourhoods, derivation, and rejection of what a space
// cannot hold.

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "nasx/enumerate.hpp"
#include "nasx/error.hpp"
#include "nasx/space.hpp"
#include "support/spaces.hpp"

namespace nasx {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<SearchSpace> space_named(const std::string& name) {
  SpaceOptions options;
  return testing::make_space(name, options);
}

/// Nodes of one DARTS cell type whose (input, op) pairs differ between a and b.
int differing_darts_nodes(const Architecture& a, const Architecture& b) {
  int nodes = 0;
  for (size_t c = 0; c < 2; ++c) {
    size_t start = 0;
    for (size_t node = 0; node < 4; ++node) {
      const size_t inputs = node + 2;
      bool differs = false;
      for (size_t e = start; e < start + inputs; ++e) differs |= a.cells[c][e] != b.cells[c][e];
      nodes += differs;
      start += inputs;
    }
  }
  return nodes;
}

TEST(Nb201Space, EveryCellRoundTripsThroughItsText) {
  const auto space = space_named("nb201");
  std::set<std::string> texts;
  for (int64_t i = 0; i < 15625; ++i) {
    Architecture arch{{{static_cast<int>(i / 3125 % 5), static_cast<int>(i / 625 % 5),
                        static_cast<int>(i / 125 % 5), static_cast<int>(i / 25 % 5),
                        static_cast<int>(i / 5 % 5), static_cast<int>(i % 5)}}};
    const std::string text = space->format(arch);
    ASSERT_EQ(space->parse(text), arch) << text;
    texts.insert(text);
  }
  EXPECT_EQ(texts.size(), 15625u);
}

TEST(Nb201Space, SamplesEachOperationOnEachEdgeUniformly) {
  const auto space = space_named("nb201");
  std::mt19937_64 rng(0);
  std::vector<std::vector<int>> counts(6, std::vector<int>(5, 0));
  const int samples = 10000;
  for (int i = 0; i < samples; ++i) {
    const Architecture arch = space->sample(rng);
    for (size_t e = 0; e < 6; ++e) ++counts[e][static_cast<size_t>(arch.cells[0][e])];
  }
  for (size_t e = 0; e < 6; ++e)
    for (size_t op = 0; op < 5; ++op)
      EXPECT_NEAR(counts[e][op] / double(samples), 0.2, 0.02) << "edge " << e << " op " << op;
}

TEST(Nb201Space, MutationChangesExactlyOneEdgeToAnotherOperation) {
  const auto space = space_named("nb201");
  std::mt19937_64 rng(1);
  for (int i = 0; i < 500; ++i) {
    const Architecture parent = space->sample(rng);
    EXPECT_EQ(space->mutate(parent, rng).distance(parent), 1);
  }
}

TEST(Nb201Space, NeighbourhoodIsTwentyFourDistinctCellsOneOperationAway) {
  const auto space = space_named("nb201");
  const Architecture arch =
      space->parse("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|");
  const auto neighbours = space->neighbours(arch);
  ASSERT_EQ(neighbours.size(), 24u);
  EXPECT_EQ(std::set<Architecture>(neighbours.begin(), neighbours.end()).size(), 24u);
  for (const auto& n : neighbours) EXPECT_EQ(n.distance(arch), 1);
}

TEST(Nb201Space, DerivationTakesTheArgmaxOfEveryEdgeNoneIncluded) {
  const auto space = space_named("nb201");
  at::Tensor w = at::zeros({6, 5});
  const std::vector<int> best = {0, 3, 4, 1, 2, 0};
  for (int64_t e = 0; e < 6; ++e) w[e][best[static_cast<size_t>(e)]] = 1.0;
  EXPECT_EQ(space->derive({w}), Architecture{{best}});
}

TEST(DartsSpace, SamplesAreValidWithTwoDistinctInputsAndNoNone) {
  const auto space = space_named("darts");
  std::mt19937_64 rng(2);
  std::map<int, int> op_counts;
  for (int i = 0; i < 2000; ++i) {
    const Architecture arch = space->sample(rng);
    ASSERT_NO_THROW(space->check(arch));
    for (const auto& cell : arch.cells)
      for (int op : cell)
        if (op != Architecture::kNoEdge) ++op_counts[op];
    ASSERT_EQ(space->parse(space->format(arch)), arch) << space->format(arch);
  }
  EXPECT_EQ(op_counts.count(0), 0u);  // `none` is never chosen
  EXPECT_EQ(op_counts.size(), 7u);
  for (const auto& [op, count] : op_counts) EXPECT_NEAR(count / 32000.0, 1.0 / 7, 0.02) << op;
}

TEST(DartsSpace, MutationChangesOneOperationOrOneInputOfOneNode) {
  const auto space = space_named("darts");
  std::mt19937_64 rng(3);
  int op_edits = 0, input_edits = 0;
  for (int i = 0; i < 1000; ++i) {
    const Architecture parent = space->sample(rng);
    const Architecture child = space->mutate(parent, rng);
    ASSERT_NO_THROW(space->check(child));
    EXPECT_EQ(differing_darts_nodes(parent, child), 1);
    const int distance = child.distance(parent);
    ASSERT_TRUE(distance == 1 || distance == 2) << distance;
    (distance == 1 ? op_edits : input_edits) += 1;
  }
  EXPECT_GT(op_edits, 400);
  EXPECT_GT(input_edits, 300);
}

TEST(DartsSpace, NeighbourhoodChangesOneOperationOfOneKeptEdge) {
  const auto space = space_named("darts");
  std::mt19937_64 rng(4);
  const Architecture arch = space->sample(rng);
  const auto neighbours = space->neighbours(arch);
  ASSERT_EQ(neighbours.size(), 96u);  // 2 cells x 8 edges x 6 other operations
  EXPECT_EQ(std::set<Architecture>(neighbours.begin(), neighbours.end()).size(), 96u);
  for (const auto& n : neighbours) {
    EXPECT_EQ(n.distance(arch), 1);
    EXPECT_NO_THROW(space->check(n));
  }
}

TEST(DartsSpace, RejectsWhatTheSpaceCannotHold) {
  const auto space = space_named("darts");
  const std::string cell =
      "[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
      "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), "
      "('skip_connect', 0), ('dil_conv_3x3', 2)]";
  const std::string good = "Genotype(normal=" + cell +
                           ", normal_concat=[2, 3, 4, 5], reduce=" + cell +
                           ", reduce_concat=[2, 3, 4, 5])";
  EXPECT_NO_THROW(space->parse(good));
  auto message = [&](const std::string& text) {
    try {
      space->parse(text);
    } catch (const GenotypeError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string twice = good;
  twice.replace(twice.find("('sep_conv_3x3', 1)"), 19, "('sep_conv_3x3', 0)");
  EXPECT_THAT(message(twice), HasSubstr("takes input 0 twice"));
  std::string none = good;
  none.replace(none.find("'sep_conv_3x3'"), 14, "'none'");
  EXPECT_THAT(message(none), HasSubstr("column 19: 'none' is not an operation of the DARTS space"));
  std::string concat = good;
  concat.replace(concat.find("[2, 3, 4, 5]"), 12, "[2, 3]");
  EXPECT_THAT(message(concat), HasSubstr("concatenates nodes 2..5"));
}

TEST(Enumeration, CountsAndListsEveryArchitectureOfAFiniteSpace) {
  const auto nb201 = space_named("nb201");
  EXPECT_EQ(count_architectures(*nb201), 15625);
  const auto all = enumerate_architectures(*nb201);
  ASSERT_EQ(all.size(), 15625u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(std::set<Architecture>(all.begin(), all.end()).size(), 15625u);
  for (const Architecture& arch : all) nb201->check(arch);
  EXPECT_EQ(nb201->format(all.front()),
            "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|");
}

TEST(Enumeration, TheDartsSpaceIsCountedNotListed) {
  // Per cell type: node k keeps 2 of its k + 2 inputs, 7 operations each:
  // (1 * 3 * 6 * 10) * 7^8 = 1,037,664,180 cells; two cell types.
  const auto darts = space_named("darts");
  EXPECT_EQ(count_architectures(*darts), 1037664180LL * 1037664180LL);
  try {
    enumerate_architectures(*darts);
    FAIL() << "the DARTS space was enumerated";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("1076746950455072400 architectures"));
    EXPECT_THAT(e.what(), HasSubstr("sample"));
  }
}

}  // namespace
}  // namespace nasx
