// NA-RS's neighbourhood score on a synthetic accuracy table over NB201: a sharp
// architecture (high alone, low neighbours) against a flat one.

#include <random>

#include <gtest/gtest.h>

#include "nasx/sampling_search.hpp"
#include "nasx/space.hpp"
#include "support/spaces.hpp"

namespace nasx {
namespace {

TEST(NeighbourhoodScore, PrefersTheFlatArchitectureWherePlainRankingPrefersTheSharpOne) {
  SpaceOptions options;
  const auto space = testing::make_space("nb201", options);
  const Architecture sharp = space->parse(
      "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
      "nor_conv_3x3~2|");
  const Architecture flat = space->parse(
      "|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|"
      "avg_pool_3x3~2|");
  const auto sharp_neighbours = space->neighbours(sharp);
  auto accuracy = [&](const Architecture& a) {
    if (a == sharp) return 10.0;
    for (const auto& n : sharp_neighbours)
      if (a == n) return -10.0;
    return 5.0;  // the flat one and its neighbourhood
  };
  std::mt19937_64 rng(0);
  const auto s = neighbourhood_score(*space, sharp, accuracy, 0, false, true, rng);
  const auto f = neighbourhood_score(*space, flat, accuracy, 0, false, true, rng);
  EXPECT_EQ(s.members, 25);
  EXPECT_DOUBLE_EQ(s.score, (10.0 - 24 * 10.0) / 25);  // hand-computed mean over 25
  EXPECT_DOUBLE_EQ(f.score, 5.0);
  EXPECT_GT(s.own, f.own);      // plain random search picks the sharp one
  EXPECT_GT(f.score, s.score);  // NA-RS the flat one
  const auto worst = neighbourhood_score(*space, sharp, accuracy, 0, true, true, rng);
  EXPECT_DOUBLE_EQ(worst.score, -10.0);
  const auto sampled = neighbourhood_score(*space, sharp, accuracy, 5, false, false, rng);
  EXPECT_EQ(sampled.members, 5);
  EXPECT_DOUBLE_EQ(sampled.score, -10.0);
}

}  // namespace
}  // namespace nasx
