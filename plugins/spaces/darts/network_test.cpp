#include "darts/network.hpp"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "darts/supernet.hpp"
#include "nasx/space.hpp"

namespace nasx::darts {
namespace {

// The reference's DARTS_V2 cell (quark0/darts, genotypes.py).
constexpr const char* kDartsV2 =
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
    "('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))";

constexpr const char* kAllSkip =
    "Genotype(normal=[('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 0), "
    "('skip_connect', 1), ('skip_connect', 0), ('skip_connect', 1), ('skip_connect', 0), "
    "('skip_connect', 1)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

// The reference's figures for DARTS_V2 at C=36, 20 cells, 3x32x32 input, 10 classes:
// 3,349,342 parameters without the auxiliary head, 3,825,768 with it.
TEST(DartsEvalNetwork, Darts_V2ParameterCountsMatchTheReference) {
  EvalNetwork net(Genotype::parse(kDartsV2), DataShape{3, 32, 32, 10});
  EXPECT_EQ(count_parameters(net, /*with_auxiliary=*/false), 3349342);
  EXPECT_EQ(count_parameters(net, /*with_auxiliary=*/true), 3825768);
  EvalNetworkOptions no_head;
  no_head.auxiliary = false;
  EXPECT_EQ(
      count_parameters(EvalNetwork(Genotype::parse(kDartsV2), DataShape{3, 32, 32, 10}, no_head)),
      3349342);
}

TEST(DartsEvalNetwork, TheSpaceBuildsTheEvaluationNetwork) {
  SpaceOptions options;
  const auto space = std::make_unique<DartsSpace>(options);
  const auto net = space->build_network(space->parse(kDartsV2), DataShape{3, 32, 32, 10}, 36, 20);
  EXPECT_EQ(count_parameters(*net, false), 3349342);
}

TEST(DartsEvalNetwork, AuxiliaryLogitsOnlyInTrainingOnFashionMnistSizedImages) {
  at::manual_seed(0);
  EvalNetworkOptions options;
  options.channels = 4;
  options.layers = 5;
  EvalNetwork net(Genotype::parse(kDartsV2), DataShape{1, 28, 28, 10}, options);
  const at::Tensor images = at::randn({3, 1, 28, 28});
  net.train();
  auto [logits, aux] = net.forward_with_auxiliary(images);
  EXPECT_EQ(logits.sizes(), (at::IntArrayRef{3, 10}));
  ASSERT_TRUE(aux.defined());
  EXPECT_EQ(aux.sizes(), (at::IntArrayRef{3, 10}));
  net.eval();
  EXPECT_FALSE(net.forward_with_auxiliary(images).second.defined());
}

at::Tensor train_mode_output(EvalNetwork& net, const at::Tensor& images, double drop,
                             uint64_t seed) {
  net.train();
  net.set_drop_path(drop, at::make_generator<at::CPUGeneratorImpl>(seed));
  at::NoGradGuard no_grad;
  return net.forward(images);
}

TEST(DartsEvalNetwork, DropPathSparesIdentitiesAndIsReproducible) {
  at::manual_seed(0);
  EvalNetworkOptions options;
  options.channels = 4;
  options.layers = 3;
  options.auxiliary = false;
  const at::Tensor images = at::randn({8, 1, 8, 8});
  EvalNetwork v2(Genotype::parse(kDartsV2), DataShape{1, 8, 8, 4}, options);
  const at::Tensor plain = train_mode_output(v2, images, 0.0, 1);
  const at::Tensor dropped = train_mode_output(v2, images, 0.5, 1);
  EXPECT_FALSE(at::allclose(plain, dropped));
  EXPECT_TRUE(at::equal(dropped, train_mode_output(v2, images, 0.5, 1)));
  EXPECT_FALSE(at::equal(dropped, train_mode_output(v2, images, 0.5, 2)));
  // Evaluation never drops.
  v2.eval();
  v2.set_drop_path(0.5, at::make_generator<at::CPUGeneratorImpl>(1));
  at::NoGradGuard no_grad;
  const at::Tensor a = v2.forward(images), b = v2.forward(images);
  EXPECT_TRUE(at::equal(a, b));
}

TEST(DartsEvalNetwork, DropPathLeavesIdentitiesAloneAndDropsWholeSamples) {
  at::manual_seed(0);
  const Genotype skip = Genotype::parse(kAllSkip);
  EvalCell identities(skip.normal, skip.normal_concat, 4, 4, 4, false, false);
  identities->train();
  const at::Tensor s0 = at::randn({16, 4, 6, 6}), s1 = at::randn({16, 4, 6, 6});
  at::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(5);
  EXPECT_TRUE(at::equal(identities->forward(s0, s1, 0.9, generator),
                        identities->forward(s0, s1, 0.0, generator)));

  // One pool per node on s0 and an identity on s1 = 0 (its ReLU-conv-BN preprocessing
  // gives exactly 0 with batch statistics): each node is pool(s0') alone, so with drop
  // path it is either 0 (dropped) or twice the undropped value (kept, rescaled by 1/0.5).
  Genotype pools = skip;
  for (size_t k = 0; k < pools.normal.size(); k += 2) pools.normal[k] = {"max_pool_3x3", 0};
  EvalCell pooled(pools.normal, pools.normal_concat, 4, 4, 4, false, false);
  pooled->train();
  const at::Tensor zeros = at::zeros_like(s1);
  const at::Tensor full = pooled->forward(s0, zeros, 0.0, generator);
  const at::Tensor dropped = pooled->forward(s0, zeros, 0.5, generator);
  int64_t dropped_count = 0, kept_count = 0;
  for (int64_t n = 0; n < 16; ++n) {
    for (int64_t node = 0; node < 4; ++node) {
      const at::Tensor f = full[n].narrow(0, node * 4, 4);
      const at::Tensor d = dropped[n].narrow(0, node * 4, 4);
      ASSERT_GT(f.abs().sum().item<double>(), 0);
      if (d.abs().sum().item<double>() == 0) {
        ++dropped_count;
      } else {
        EXPECT_TRUE(at::allclose(d, 2 * f, 1e-5, 1e-6));
        ++kept_count;
      }
    }
  }
  EXPECT_GT(dropped_count, 10);
  EXPECT_GT(kept_count, 10);
}

}  // namespace
}  // namespace nasx::darts
