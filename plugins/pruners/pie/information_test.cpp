#include "pie/information.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include <nasx/ensemble.hpp>

#include "support/ensemble_pools.hpp"

namespace nasx::pie {
namespace {

using nasx::testing::pie_pool;

TEST(PieInformation, InformationMeasuresBehave) {
  const EnsemblePool pool = pie_pool();
  const at::Tensor h = hard_predictions(pool.probabilities);
  EXPECT_NEAR(normalized_variation_of_information(h[0], h[0]), 0.0, 1e-12);
  for (int64_t a = 0; a < 4; ++a) {
    for (int64_t b = 0; b < 4; ++b) {
      const double vi = normalized_variation_of_information(h[a], h[b]);
      EXPECT_GE(vi, -1e-12);
      EXPECT_LE(vi, 1.0 + 1e-12);
      EXPECT_NEAR(vi, normalized_variation_of_information(h[b], h[a]), 1e-12);
      EXPECT_NEAR(normalized_mutual_information(h[a], h[b]),
                  normalized_mutual_information(h[b], h[a]), 1e-12);
    }
  }
  EXPECT_EQ(tdac(h[0], h[1], pool.labels, 0.5), 0.0);  // A and its copy
  EXPECT_GT(tdac(h[0], h[2], pool.labels, 0.5), 0.0);
  // A direct computation: H of a fair coin is ln 2; independent fair coins have VI 1.
  const at::Tensor x = at::tensor({0, 1, 0, 1}, at::kLong), y = at::tensor({0, 0, 1, 1}, at::kLong);
  EXPECT_NEAR(entropy(x), std::log(2.0), 1e-12);
  EXPECT_NEAR(joint_entropy(x, y), std::log(4.0), 1e-12);
  EXPECT_NEAR(normalized_variation_of_information(x, y), 1.0, 1e-12);
  EXPECT_NEAR(normalized_mutual_information(x, x), 1.0, 1e-12);
}

TEST(PieInformation, PieDropsOneOfTwoIdenticalMembersFromEveryStart) {
  const EnsemblePool pool = pie_pool();
  std::map<int64_t, int> starts;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    std::mt19937_64 rng(seed);
    std::mt19937_64 peek(seed);
    starts[std::uniform_int_distribution<int64_t>(0, 3)(peek)]++;
    const auto kept = prune_entropy(pool, 0.5, rng);
    ASSERT_EQ(kept.size(), 3u);
    const bool has_a = std::count(kept.begin(), kept.end(), 0) > 0;
    const bool has_copy = std::count(kept.begin(), kept.end(), 1) > 0;
    EXPECT_NE(has_a, has_copy) << "seed " << seed;  // exactly one of A, A' is kept
  }
  EXPECT_EQ(starts.size(), 4u);  // every member was a start
}

TEST(PieInformation, PieSizeContractAndDeterminism) {
  const EnsemblePool pool = pie_pool();
  std::mt19937_64 rng(1);
  EXPECT_EQ(prune_entropy(select_members(pool, {0, 2}), 0.5, rng).size(), 2u);
  std::mt19937_64 a(9), b(9);
  EXPECT_EQ(prune_entropy(pool, 0.5, a), prune_entropy(pool, 0.5, b));
}

}  // namespace
}  // namespace nasx::pie
