#include "nasx/core/pruning_schedule.hpp"

#include <gtest/gtest.h>

#include "support/ensemble_pools.hpp"

namespace nasx::core {
namespace {

TEST(PruningSchedule, OnlineScheduleNeverPrunesTheNewcomerOnArrival) {
  const EnsemblePool pool = testing::pie_pool();
  std::vector<std::vector<int64_t>> seen;
  // A step that always drops the newest member of what it is given: the online schedule
  // hands it only members that arrived before, so the last arrival survives.
  const PruneStep drop_last = [&](const EnsemblePool& p, std::mt19937_64&) {
    std::vector<int64_t> kept;
    for (int64_t i = 0; i + 1 < p.members(); ++i) kept.push_back(i);
    seen.push_back(kept);
    return kept;
  };
  std::mt19937_64 rng(0);
  const auto kept = prune_online(pool, drop_last, rng);
  EXPECT_EQ(kept.back(), pool.members() - 1);
  EXPECT_EQ(seen.size(), 1u);  // pruning starts once 3 members are kept
  // Offline with the same step shrinks to the target.
  std::mt19937_64 rng2(0);
  EXPECT_EQ(prune_offline(pool, drop_last, 2, 1.0, rng2), (std::vector<int64_t>{0, 1}));
}

}  // namespace
}  // namespace nasx::core
