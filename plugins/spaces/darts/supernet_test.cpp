#include "darts/supernet.hpp"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "nasx/space.hpp"

namespace nasx::darts {
namespace {

int64_t count_weights(Supernet& net) {
  int64_t total = 0;
  for (const auto& w : net.weight_parameters()) total += w.numel();
  return total;
}

TEST(DartsSupernet, HasTheReferenceWeightCount) {
  // quark0/darts model_search.Network(C=16, num_classes=10, layers=8) on CIFAR-shaped
  // input: 1,930,618 weights besides the alphas.
  SpaceOptions options;
  options.channels = 16;
  options.layers = 8;
  const auto space = std::make_unique<DartsSpace>(options);
  auto net = space->build_supernet(DataShape{3, 32, 32, 10});
  EXPECT_EQ(count_weights(*net), 1930618);
  const auto alphas = net->arch_parameters();
  ASSERT_EQ(alphas.size(), 2u);
  for (const auto& alpha : alphas) {
    EXPECT_EQ(alpha.size(0), 14);
    EXPECT_EQ(alpha.size(1), 8);
    EXPECT_TRUE(alpha.requires_grad());
    // 1e-3 * N(0, 1): small, not all equal.
    EXPECT_LT(alpha.abs().max().item<double>(), 1e-2);
    EXPECT_GT(alpha.std().item<double>(), 1e-4);
  }
}

TEST(DartsSupernet, WeightsAndAlphasPartitionTheParameters) {
  SpaceOptions options;
  options.channels = 4;
  options.layers = 3;
  const auto space = std::make_unique<DartsSpace>(options);
  auto net = space->build_supernet(DataShape{1, 8, 8, 3});
  int64_t all = 0;
  for (const auto& p : net->parameters()) all += p.numel();
  EXPECT_EQ(all, count_weights(*net) + 2 * 14 * 8);
}

TEST(DartsSupernet, ForwardGivesLogitsInBothMemoryFormats) {
  for (const std::string format : {"contiguous", "channels_last"}) {
    SpaceOptions options;
    options.channels = 4;
    options.layers = 3;
    options.memory_format = format;
    at::manual_seed(1);
    const auto space = std::make_unique<DartsSpace>(options);
    auto net = space->build_supernet(DataShape{1, 12, 12, 5});
    const at::Tensor logits = net->forward(at::randn({6, 1, 12, 12}));
    EXPECT_EQ(logits.sizes(), (at::IntArrayRef{6, 5})) << format;
    EXPECT_TRUE(logits.isfinite().all().item<bool>()) << format;
  }
}

TEST(DartsSupernet, BothMemoryFormatsComputeTheSameFunction) {
  auto build = [](const std::string& format) {
    SpaceOptions options;
    options.channels = 4;
    options.layers = 3;
    options.memory_format = format;
    at::manual_seed(7);
    return std::make_unique<DartsSpace>(options)->build_supernet(DataShape{2, 12, 12, 3});
  };
  auto a = build("contiguous");
  auto b = build("channels_last");
  at::manual_seed(3);
  const at::Tensor x = at::randn({4, 2, 12, 12});
  EXPECT_TRUE(at::allclose(a->forward(x), b->forward(x), 1e-4, 1e-5));
}

TEST(DeriveGenotype, KeepsTheTwoStrongestEdgesAndIgnoresNone) {
  // Build weights where the answer is known: for node i, the edge from input
  // (i + 1) carries sep_conv_5x5 strongly and the edge from input 0 carries
  // max_pool_3x3 a bit less; `none` is the largest entry everywhere and must
  // not count.
  at::Tensor w = at::full({14, 8}, 0.01, at::kDouble);
  w.select(1, operation_index("none")).fill_(0.9);
  int64_t start = 0;
  for (int64_t node = 0; node < 4; ++node) {
    w[start + node + 1][operation_index("sep_conv_5x5")] = 0.5;
    w[start + 0][operation_index("max_pool_3x3")] = 0.3;
    start += node + 2;
  }
  const Genotype g = derive_genotype(w, w);
  ASSERT_EQ(g.normal.size(), 8u);
  for (int node = 0; node < 4; ++node) {
    EXPECT_EQ(g.normal[2 * node], (GenotypeEdge{"sep_conv_5x5", node + 1})) << node;
    EXPECT_EQ(g.normal[2 * node + 1], (GenotypeEdge{"max_pool_3x3", 0})) << node;
  }
  EXPECT_EQ(g.reduce, g.normal);
  EXPECT_EQ(g.normal_concat, (std::vector<int>{2, 3, 4, 5}));
}

TEST(DeriveGenotype, TiesKeepTheLowerInputFirstLikeTheReference) {
  const at::Tensor w = at::full({14, 8}, 0.125, at::kDouble);
  const Genotype g = derive_genotype(w, w);
  for (int node = 0; node < 4; ++node) {
    EXPECT_EQ(g.normal[2 * node].input, 0);
    EXPECT_EQ(g.normal[2 * node + 1].input, 1);
    EXPECT_EQ(g.normal[2 * node].op, "max_pool_3x3");  // first non-none column
  }
}

}  // namespace
}  // namespace nasx::darts
