// The shipped pruner plugins, loaded from their .so files, on saep.md's hand-made pools.

#include <gtest/gtest.h>

#include <algorithm>

#include "nasx/core/registry.hpp"
#include "nasx/ensemble.hpp"
#include "nasx/error.hpp"
#include "support/ensemble_pools.hpp"

namespace nasx {
namespace {

/// The shipped pruner `name`, set up with its defaults overridden by `params`.
std::unique_ptr<EnsemblePruner> pruner(const std::string& name, ParamValues params = {}) {
  static core::PluginRegistry registry;
  static const bool loaded = [] {
    for (const auto& dir : core::PluginRegistry::default_directories())
      registry.add_directory(dir, false);
    return true;
  }();
  (void)loaded;
  const core::PluginInfo& info = registry.find(NASX_KIND_PRUNER, name);
  for (const ParamSpec& spec : info.schema.specs()) params.emplace(spec.name, spec.default_value);
  auto plugin = core::create_plugin<EnsemblePruner>(registry, info);
  plugin->setup(params);
  return plugin;
}

TEST(ShippedPruners, PapKeepsWhatHurtsToRemoveAndTheReferenceSignDoesTheOpposite) {
  std::mt19937_64 rng(0);
  const EnsemblePool pool = testing::pap_pool();
  EXPECT_EQ(soft_vote_error(pool.probabilities, pool.labels), 1.0);  // the full vote errs on all
  // Δ = 0, -1, -1, 0: nothing has Δ > 0, the fallback keeps the two largest, G and N.
  EXPECT_EQ(pruner("pap")->prune(pool, rng), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(pruner("pap", {{"reference_sign", true}})->prune(pool, rng),
            (std::vector<int64_t>{1, 2}));
  // A member whose removal turns correct samples wrong is always kept: G with the two
  // helpers N and a copy of N, where the vote is right only thanks to G.
  const auto kept = pruner("pap")->prune(testing::constant_pool({0.9, 0.45, 0.45}), rng);
  EXPECT_NE(std::find(kept.begin(), kept.end(), 0), kept.end());
}

TEST(ShippedPruners, PrsPrunesOneHalfTheTimeUniformly) {
  std::mt19937_64 rng(0);
  const auto prs = pruner("prs");
  const EnsemblePool five = testing::constant_pool({.1, .2, .3, .4, .5});
  int pruned = 0;
  std::vector<int> dropped(5, 0);
  for (int trial = 0; trial < 10000; ++trial) {
    const auto kept = prs->prune(five, rng);
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
  EXPECT_EQ(prs->prune(testing::constant_pool({.1, .2}), rng).size(), 2u);
}

TEST(ShippedPruners, TopKKeepsTheMostAccurateAndRefusesATooSmallPool) {
  std::mt19937_64 rng(0);
  const EnsemblePool pool =
      testing::pap_pool();  // individual accuracy: G and N right, D1 and D2 wrong
  EXPECT_EQ(pruner("top_k", {{"k", int64_t{2}}})->prune(pool, rng), (std::vector<int64_t>{0, 3}));
  try {
    pruner("top_k", {{"k", int64_t{5}}})->prune(pool, rng);
    FAIL() << "kept 5 of 4";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("has only 4"), std::string::npos) << e.what();
  }
}

TEST(ShippedPruners, KeepAllKeepsEveryMemberAtOnce) {
  std::mt19937_64 rng(0);
  const auto keep_all = pruner("keep_all");
  EXPECT_TRUE(keep_all->one_shot());
  EXPECT_EQ(keep_all->prune(testing::pap_pool(), rng), (std::vector<int64_t>{0, 1, 2, 3}));
}

}  // namespace
}  // namespace nasx
