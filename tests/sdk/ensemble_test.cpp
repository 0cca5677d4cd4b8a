#include "nasx/ensemble.hpp"

#include <gtest/gtest.h>

#include "support/ensemble_pools.hpp"

namespace nasx {
namespace {

TEST(Ensemble, SoftVoteCountsTheSummedProbabilitiesArgmax) {
  const EnsemblePool pool = testing::pap_pool();
  EXPECT_EQ(soft_vote_error(pool.probabilities, pool.labels), 1.0);  // 1.95 of 4 for class 0
  EXPECT_EQ(soft_vote_error(pool.probabilities, pool.labels, {0}), 0.0);
  EXPECT_EQ(soft_vote_error(pool.probabilities, pool.labels, {0, 3}), 0.0);
  EXPECT_EQ(soft_vote_error(pool.probabilities, pool.labels, {1, 3}), 1.0);
  EXPECT_EQ(select_members(pool, {3, 0}).members(), 2);
  EXPECT_EQ(all_members(3), (std::vector<int64_t>{0, 1, 2}));
}

}  // namespace
}  // namespace nasx
