// The ranking statistics against the values the specs work out by hand.

#include <cmath>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "nasx/core/rank_statistics.hpp"

namespace nasx::core {
namespace {

TEST(RankStatistics, KendallAndSpearmanOfFivePairs) {
  const std::vector<double> x = {1, 2, 3, 4, 5}, y = {3, 1, 2, 5, 4};
  EXPECT_NEAR(kendall_tau(x, y), 0.4, 1e-12);
  EXPECT_NEAR(spearman_rho(x, y), 0.6, 1e-12);
  EXPECT_NEAR(kendall_tau(x, x), 1.0, 1e-12);
  EXPECT_NEAR(kendall_tau(x, {5, 4, 3, 2, 1}), -1.0, 1e-12);
}

TEST(RankStatistics, TauBCorrectsForTies) {
  EXPECT_NEAR(kendall_tau({1, 2, 3, 4}, {1, 1, 2, 3}), 5.0 / std::sqrt(30.0), 1e-12);
  EXPECT_NEAR(kendall_tau({1, 2, 3, 4}, {1, 1, 2, 3}), 0.9128709, 1e-7);
  // Ties share their average rank: x ranks 1.5 1.5 3 4 against 1 2 3 4.
  const double rho = spearman_rho({1, 1, 2, 3}, {1, 2, 3, 4});
  EXPECT_NEAR(rho, 0.9486833, 1e-7);
}

TEST(RankStatistics, UndefinedCorrelationsAreNaNAndLengthsMustAgree) {
  EXPECT_TRUE(std::isnan(kendall_tau({1, 1, 1}, {1, 2, 3})));
  EXPECT_TRUE(std::isnan(kendall_tau({1}, {2})));
  EXPECT_TRUE(std::isnan(spearman_rho({2, 2}, {1, 3})));
  EXPECT_THROW(kendall_tau({1, 2}, {1, 2, 3}), std::invalid_argument);
}

TEST(RankStatistics, STauIsTheMeanOverPairsOfRuns) {
  const PairwiseTau s = pairwise_tau({{1, 2, 3, 4}, {1, 2, 3, 4}, {4, 3, 2, 1}});
  EXPECT_NEAR(s.mean, -1.0 / 3.0, 1e-12);
  EXPECT_NEAR(s.max, 1.0, 1e-12);
  EXPECT_NEAR(s.min, -1.0, 1e-12);
  EXPECT_EQ(s.pairs, 3);
  EXPECT_TRUE(std::isnan(pairwise_tau({{1, 2}}).mean));
}

TEST(RankStatistics, TopNTrueRank) {
  const std::vector<double> shared = {0.5, 0.9, 0.7, 0.6}, truth = {0.8, 0.6, 0.9, 0.7};
  EXPECT_EQ(top_n_true_rank(shared, truth, 1), 4);
  EXPECT_EQ(top_n_true_rank(shared, truth, 3), 1);
  EXPECT_EQ(top_n_true_rank(truth, truth, 1), 1);
}

TEST(RankStatistics, DescendingRanksBreakTiesInIndexOrder) {
  EXPECT_EQ(descending_ranks({0.5, 0.9, 0.5, 0.1}), (std::vector<int64_t>{2, 1, 3, 4}));
}

TEST(RankStatistics, MeanAndSampleStd) {
  const MeanStd m = mean_std({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(m.mean, 2.5);
  EXPECT_NEAR(m.std, std::sqrt(5.0 / 3.0), 1e-12);
  EXPECT_EQ(mean_std({7}).std, 0);
}

TEST(RankStatistics, SimilarityGroupsAreContiguousRunsOfSortedChildren) {
  const auto groups = similarity_groups(64, 8);
  ASSERT_EQ(groups.size(), 8u);
  // Children 111 112 113 114 121 122 123 124: indices 0..7.
  EXPECT_EQ(groups[0], (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(groups[7].back(), 63);
  EXPECT_EQ(similarity_groups(64, 64)[5], (std::vector<int64_t>{5}));
  EXPECT_THROW(similarity_groups(64, 5), std::invalid_argument);
}

TEST(RankStatistics, RandomGroupsPartitionTheChildrenAndAreSeeded) {
  std::mt19937_64 a(3), b(3), c(4);
  const auto groups = random_groups(64, 16, a);
  EXPECT_EQ(groups, random_groups(64, 16, b));
  EXPECT_NE(groups, random_groups(64, 16, c));
  std::set<int64_t> members;
  for (const auto& g : groups) {
    EXPECT_EQ(g.size(), 4u);
    members.insert(g.begin(), g.end());
  }
  EXPECT_EQ(members.size(), 64u);
  EXPECT_NE(groups, similarity_groups(64, 16));
}

}  // namespace
}  // namespace nasx::core
