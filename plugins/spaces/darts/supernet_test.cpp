#include "darts/supernet.hpp"

#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "nasx/error.hpp"
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
  // One image channel too: there channels-last needs more than .contiguous(ChannelsLast).
  for (const int64_t in_channels : {1, 2}) {
    auto build = [&](const std::string& format) {
      SpaceOptions options;
      options.channels = 4;
      options.layers = 3;
      options.memory_format = format;
      at::manual_seed(7);
      return std::make_unique<DartsSpace>(options)->build_supernet(
          DataShape{in_channels, 12, 12, 3});
    };
    auto a = build("contiguous");
    auto b = build("channels_last");
    at::manual_seed(3);
    const at::Tensor x = at::randn({4, in_channels, 12, 12});
    EXPECT_TRUE(at::allclose(a->forward(x), b->forward(x), 1e-4, 1e-5)) << in_channels;
  }
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

namespace nasx::darts {
namespace {

std::unique_ptr<DartsSpace> space_with(const std::string& operations) {
  DartsSpaceOptions options;
  options.channels = 4;
  options.layers = 3;
  options.operations = operations;
  return std::make_unique<DartsSpace>(options);
}

TEST(DartsOperations, WithoutNoneTheSupernetIsTheSameFunctionOnSevenColumns) {
  // DARTS-PT's space: the eight operations but `none`. `none` has no weights and adds
  // zeros, so with the same initial weights the supernet computes what the full one
  // computes with a zero `none` column.
  const auto full = space_with("");
  const auto seven = space_with(
      "max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, "
      "dil_conv_5x5");
  EXPECT_EQ(seven->operations().size(), 7u);
  EXPECT_EQ(seven->operations()[0], "max_pool_3x3");
  EXPECT_EQ(seven->decisions()[0].operations, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  const DataShape shape{1, 8, 8, 10};
  at::manual_seed(1);
  auto a = full->build_supernet(shape);
  at::manual_seed(1);
  auto b = seven->build_supernet(shape);
  EXPECT_EQ(count_weights(*a), count_weights(*b));
  ASSERT_EQ(b->arch_parameters()[0].size(1), 7);
  at::manual_seed(2);
  const at::Tensor images = at::randn({4, 1, 8, 8});
  std::vector<at::Tensor> w7, w8;
  for (int c = 0; c < 2; ++c) {
    at::Tensor w = at::softmax(at::randn({14, 7}), -1);
    w7.push_back(w);
    w8.push_back(at::cat({at::zeros({14, 1}), w}, 1));
  }
  // Copy the weights: the same parameters under the same names.
  {
    at::NoGradGuard no_grad;
    auto from = a->named_parameters();
    for (auto& p : b->named_parameters())
      if (p.key().rfind("alpha_", 0) != 0) p.value().copy_(from[p.key()]);
  }
  a->train();
  b->train();
  EXPECT_TRUE(at::allclose(a->forward_with_weights(images, w8), b->forward_with_weights(images, w7),
                           1e-5, 1e-6));
  // Texts name the operations, whatever their columns.
  std::mt19937_64 rng(4);
  for (int i = 0; i < 20; ++i) {
    const Architecture arch = seven->sample(rng);
    const Architecture same = full->parse(seven->format(arch));
    EXPECT_EQ(seven->format(arch), full->format(same));
    EXPECT_EQ(seven->parse(seven->format(arch)), arch);
  }
}

TEST(DartsOperations, ASubsetBuildsOnlyItsOperationsAndChoosesAmongThem) {
  // RobustDARTS' S2: skip_connect and sep_conv_3x3 on every edge.
  const auto s2 = space_with("sep_conv_3x3,skip_connect");  // any order, canonical columns
  EXPECT_EQ(s2->operations(), (std::vector<std::string>{"skip_connect", "sep_conv_3x3"}));
  const DataShape shape{1, 8, 8, 10};
  auto full_net = space_with("")->build_supernet(shape);
  auto net = s2->build_supernet(shape);
  // Its weights: the full supernet's without the other operations' (counted by name).
  int64_t expected = 0;
  for (const auto& p : full_net->named_parameters()) {
    const std::string& name = p.key();
    if (name.rfind("alpha_", 0) == 0) continue;
    bool other = false;
    for (const char* op : {"sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "max_pool", "avg_pool"})
      other |= name.find(op) != std::string::npos;
    if (!other) expected += p.value().numel();
  }
  EXPECT_EQ(count_weights(*net), expected);
  EXPECT_LT(expected, count_weights(*full_net));
  // Single paths equal the mixture with one-hot rows.
  std::mt19937_64 rng(9);
  const at::Tensor images = at::randn({2, 1, 8, 8});
  net->eval();
  for (int i = 0; i < 3; ++i) {
    const Architecture arch = s2->sample(rng);
    for (const auto& ops : arch.cells)
      for (int op : ops) EXPECT_TRUE(op == Architecture::kNoEdge || op == 0 || op == 1);
    std::vector<at::Tensor> onehot;
    for (const auto& ops : arch.cells) {
      at::Tensor w = at::zeros({14, 2});
      for (size_t e = 0; e < ops.size(); ++e)
        if (ops[e] != Architecture::kNoEdge) w[static_cast<int64_t>(e)][ops[e]] = 1.0;
      onehot.push_back(w);
    }
    EXPECT_TRUE(at::allclose(net->forward_path(images, arch),
                             net->forward_with_weights(images, onehot), 1e-5, 1e-6));
    EXPECT_NO_THROW(s2->check(s2->mutate(arch, rng)));
    EXPECT_EQ(s2->neighbours(arch).size(), 16u);  // 2 cells x 8 edges x 1 other operation
  }
  // Derivation picks among its columns; texts with other operations are refused.
  const std::vector<at::Tensor> weights = {at::rand({14, 2}), at::rand({14, 2})};
  EXPECT_NO_THROW(s2->check(s2->derive(weights)));
  try {
    s2->parse(
        "Genotype(normal=[('max_pool_3x3', 0), ('skip_connect', 1), ('skip_connect', 0), "
        "('skip_connect', 1), ('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 0), "
        "('skip_connect', 1)], normal_concat=range(2, 6), reduce=[('skip_connect', 0), "
        "('skip_connect', 1), ('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 0), "
        "('skip_connect', 1), ('skip_connect', 0), ('skip_connect', 1)], "
        "reduce_concat=range(2, 6))");
    FAIL() << "no error";
  } catch (const GenotypeError& e) {
    EXPECT_NE(std::string(e.what()).find("is not in this space"), std::string::npos) << e.what();
  }
}

TEST(DartsOperations, UnknownRepeatedOrEmptyListsAreRefused) {
  for (const auto& [list, message] : std::vector<std::pair<std::string, std::string>>{
           {"sep_conv_3x3, sep_conv_9x9", "'sep_conv_9x9' is not a DARTS operation"},
           {"skip_connect, skip_connect", "names 'skip_connect' twice"},
           {"none", "leaves no operation an edge could keep"}}) {
    try {
      space_with(list);
      FAIL() << list;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace nasx::darts
