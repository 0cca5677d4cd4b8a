#include "nasx/ensemble.hpp"

#include <gtest/gtest.h>

#include <map>

#include <ATen/ATen.h>

#include "nasx/error.hpp"

namespace nasx {
namespace {

/// One-hot probabilities of hard predictions [members, samples] over `classes`.
at::Tensor one_hot_probabilities(const at::Tensor& hard, int64_t classes) {
  return at::one_hot(hard, classes).to(at::kDouble);
}

/// saep.md's PIE pool: A, an exact copy A', and two independently corrupted copies of
/// the labels, over 200 samples and 4 classes.
EnsemblePool pie_pool() {
  at::manual_seed(3);
  const at::Tensor labels = at::randint(0, 4, {200}, at::kLong);
  auto corrupt = [&](double rate) {
    const at::Tensor flip = at::rand({200}).lt(rate);
    return at::where(flip, at::randint(0, 4, {200}, at::kLong), labels);
  };
  const at::Tensor a = corrupt(0.3);
  const at::Tensor hard = at::stack({a, a.clone(), corrupt(0.3), corrupt(0.3)});
  return {one_hot_probabilities(hard, 4), labels};
}

TEST(Ensemble, InformationMeasuresBehave) {
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

TEST(Ensemble, PieDropsOneOfTwoIdenticalMembersFromEveryStart) {
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

TEST(Ensemble, PieSizeContractAndDeterminism) {
  const EnsemblePool pool = pie_pool();
  std::mt19937_64 rng(1);
  EXPECT_EQ(prune_entropy(select_members(pool, {0, 2}), 0.5, rng).size(), 2u);
  std::mt19937_64 a(9), b(9);
  EXPECT_EQ(prune_entropy(pool, 0.5, a), prune_entropy(pool, 0.5, b));
}

/// saep.md's PAP case: 6 samples of class 0, 2 classes; members output p0 = 0.9 (G),
/// 0.2 (D1), 0.3 (D2), 0.55 (N).
EnsemblePool pap_pool() {
  const std::vector<double> p0 = {0.9, 0.2, 0.3, 0.55};
  at::Tensor probabilities = at::empty({4, 6, 2}, at::kDouble);
  for (int64_t m = 0; m < 4; ++m) {
    probabilities[m].select(1, 0).fill_(p0[m]);
    probabilities[m].select(1, 1).fill_(1 - p0[m]);
  }
  return {probabilities, at::zeros({6}, at::kLong)};
}

TEST(Ensemble, PapKeepsWhatHurtsToRemoveAndTheReferenceSignDoesTheOpposite) {
  const EnsemblePool pool = pap_pool();
  EXPECT_EQ(soft_vote_error(pool.probabilities, pool.labels), 1.0);  // the full vote errs on all
  // Δ = 0, -1, -1, 0: nothing has Δ > 0, the fallback keeps the two largest, G and N.
  EXPECT_EQ(prune_accuracy(pool, false), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(prune_accuracy(pool, true), (std::vector<int64_t>{1, 2}));
  // A member whose removal turns correct samples wrong is always kept: G with the two
  // helpers N and a copy of N, where the vote is right only thanks to G.
  at::Tensor p = at::empty({3, 6, 2}, at::kDouble);
  const std::vector<double> p0 = {0.9, 0.45, 0.45};
  for (int64_t m = 0; m < 3; ++m) {
    p[m].select(1, 0).fill_(p0[m]);
    p[m].select(1, 1).fill_(1 - p0[m]);
  }
  const auto kept = prune_accuracy({p, at::zeros({6}, at::kLong)}, false);
  EXPECT_NE(std::find(kept.begin(), kept.end(), 0), kept.end());
}

TEST(Ensemble, PrsPrunesOneHalfTheTimeUniformly) {
  std::mt19937_64 rng(0);
  int pruned = 0;
  std::vector<int> dropped(5, 0);
  for (int trial = 0; trial < 10000; ++trial) {
    const auto kept = prune_random(5, rng);
    if (kept.size() == 4) {
      ++pruned;
      for (int64_t m = 0; m < 5; ++m)
        if (std::find(kept.begin(), kept.end(), m) == kept.end()) ++dropped[m];
    } else {
      ASSERT_EQ(kept.size(), 5u);
    }
  }
  EXPECT_NEAR(pruned / 10000.0, 0.5, 0.02);
  for (int m = 0; m < 5; ++m) EXPECT_NEAR(dropped[m] / 10000.0, 0.1, 0.015) << m;
  EXPECT_EQ(prune_random(2, rng).size(), 2u);
}

TEST(Ensemble, TopKKeepsTheMostAccurateAndRefusesATooSmallPool) {
  const EnsemblePool pool = pap_pool();  // individual accuracy: G and N right, D1 and D2 wrong
  EXPECT_EQ(keep_top_k(pool, 2), (std::vector<int64_t>{0, 3}));
  try {
    keep_top_k(pool, 5);
    FAIL() << "kept 5 of 4";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("has only 4"), std::string::npos) << e.what();
  }
}

TEST(Ensemble, OnlineScheduleNeverPrunesTheNewcomerOnArrival) {
  const EnsemblePool pool = pie_pool();
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
}  // namespace nasx
