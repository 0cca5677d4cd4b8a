// Single-path forward (weight sharing) against the full supernet with one-hot
// architecture weights, in every shipped space, both modes and both memory formats.

#include <memory>
#include <random>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "nasx/evaluate.hpp"
#include "nasx/space.hpp"
#include "nasx/supernet.hpp"
#include "support/spaces.hpp"

namespace nasx {
namespace {

struct PathCase {
  std::string space;
  std::string memory_format;
};

class SinglePathTest : public ::testing::TestWithParam<PathCase> {
 protected:
  /// The case's space (C=4; 3 cells on darts, else `layers`) and its supernet on 1x8x8
  /// images of 3 classes, built after seeding with `seed`.
  void build(int64_t layers, uint64_t seed) {
    SpaceOptions options;
    options.channels = 4;
    options.layers = GetParam().space == "darts" ? 3 : layers;
    options.memory_format = GetParam().memory_format;
    at::manual_seed(seed);
    space = testing::make_space(GetParam().space, options);
    net = space->build_supernet(DataShape{1, 8, 8, 3});
  }
  std::unique_ptr<SearchSpace> space;
  std::shared_ptr<Supernet> net;
};

TEST_P(SinglePathTest, EqualsTheFullSupernetWithOneHotWeights) {
  build(1, 3);
  net->to(at::kDouble);
  const at::Tensor images = at::randn({6, 1, 8, 8}, at::kDouble);
  std::mt19937_64 rng(5);
  at::NoGradGuard no_grad;
  for (bool training : {false, true}) {
    net->train(training);
    for (int trial = 0; trial < 6; ++trial) {
      const Architecture arch = space->sample(rng);
      const at::Tensor path = net->forward_path(images, arch);
      const at::Tensor full = net->forward_with_weights(images, net->one_hot_weights(arch));
      EXPECT_TRUE(at::allclose(path, full, 1e-9, 1e-10))
          << space->format(arch) << (training ? " (train mode)" : " (eval mode)")
          << "\nmax difference " << (path - full).abs().max().item<double>();
    }
  }
}

/// Children that share work: samples, their neighbours (one operation away) and a repeat.
std::vector<Architecture> related_children(const SearchSpace& space, std::mt19937_64& rng) {
  std::vector<Architecture> archs;
  for (int i = 0; i < 3; ++i) {
    const Architecture arch = space.sample(rng);
    archs.push_back(arch);
    const auto near = space.neighbours(arch);
    for (size_t n = 0; n < near.size() && n < 4; ++n) archs.push_back(near[n]);
  }
  archs.push_back(archs.front());
  return archs;
}

TEST_P(SinglePathTest, ForwardPathsIsForwardPathOfEachBitForBit) {
  build(2, 3);
  const at::Tensor images = at::randn({6, 1, 8, 8});
  std::mt19937_64 rng(7);
  const std::vector<Architecture> archs = related_children(*space, rng);
  at::NoGradGuard no_grad;
  for (bool training : {false, true}) {
    net->train(training);
    const std::vector<at::Tensor> together = net->forward_paths(images, archs);
    ASSERT_EQ(together.size(), archs.size());
    for (size_t i = 0; i < archs.size(); ++i) {
      const at::Tensor alone = net->forward_path(images, archs[i]);
      EXPECT_TRUE(at::equal(together[i], alone))
          << space->format(archs[i]) << (training ? " (train mode)" : " (eval mode)")
          << "\nmax difference " << (together[i] - alone).abs().max().item<double>();
    }
  }
  EXPECT_TRUE(net->forward_paths(images, {}).empty());
}

TEST_P(SinglePathTest, ForwardPathsComputesTheStemOnceForAllChildren) {
  build(1, 0);
  std::mt19937_64 rng(8);
  const std::vector<Architecture> archs = related_children(*space, rng);
  // A BatchNorm in train mode counts its forwards: the stem's once, whatever the count
  // of children; the default (forward_path in turn) would count one per child.
  net->train();
  at::NoGradGuard no_grad;
  net->forward_paths(at::randn({4, 1, 8, 8}), archs);
  int stems = 0;
  for (const auto& buffer : net->named_buffers())
    if (buffer.key().find("stem") != std::string::npos &&
        buffer.key().find("num_batches_tracked") != std::string::npos) {
      EXPECT_EQ(buffer.value().item<int64_t>(), 1) << buffer.key();
      ++stems;
    }
  EXPECT_GE(stems, 1);
}

TEST_P(SinglePathTest, EvaluatePathsGivesEachArchitectureWhatEvaluatePathGives) {
  build(1, 4);
  const TensorDataset data{at::randn({40, 1, 8, 8}), at::randint(3, {40}, at::kLong)};
  std::mt19937_64 rng(9);
  const std::vector<Architecture> archs = related_children(*space, rng);
  net->eval();
  for (bool batch_statistics : {false, true}) {
    std::vector<at::Tensor> before;
    for (const auto& b : net->buffers()) before.push_back(b.clone());
    const std::vector<EvalResult> together =
        evaluate_paths(*net, archs, data, 16, 0, batch_statistics);
    const auto after = net->buffers();
    for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(at::equal(after[i], before[i])) << i;
    EXPECT_FALSE(net->is_training());
    ASSERT_EQ(together.size(), archs.size());
    for (size_t i = 0; i < archs.size(); ++i) {
      const EvalResult alone = evaluate_path(*net, archs[i], data, 16, 0, batch_statistics);
      EXPECT_EQ(together[i].loss, alone.loss) << space->format(archs[i]);
      EXPECT_EQ(together[i].accuracy, alone.accuracy) << space->format(archs[i]);
      EXPECT_EQ(together[i].samples, 40);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Spaces, SinglePathTest,
    ::testing::Values(PathCase{"nb201", "contiguous"}, PathCase{"nb201", "channels_last"},
                      PathCase{"darts", "contiguous"}, PathCase{"darts", "channels_last"},
                      PathCase{"ws64", "contiguous"}, PathCase{"ws64", "channels_last"}),
    [](const auto& info) { return info.param.space + "_" + info.param.memory_format; });

TEST(SinglePath, TrainsOnlyTheOperationsOnThePath) {
  SpaceOptions options;
  options.channels = 4;
  options.layers = 1;
  const auto space = testing::make_space("nb201", options);
  auto net = space->build_supernet(DataShape{1, 8, 8, 3});
  // Every edge skip_connect except edge 0, a 3x3 convolution.
  const Architecture arch = space->parse(
      "|nor_conv_3x3~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|"
      "skip_connect~2|");
  net->forward_path(at::randn({4, 1, 8, 8}), arch).sum().backward();
  for (const auto& item : net->named_parameters()) {
    const bool on_path = item.key().find("cell") == std::string::npos ||
                         item.key().find("edge_0_nor_conv_3x3") != std::string::npos;
    if (item.key() == "alpha") continue;
    EXPECT_EQ(item.value().grad().defined(), on_path) << item.key();
  }
}

/// A small NB-201 space and its supernet in evaluation mode, for the evaluation tests.
struct TinyNb201 {
  std::unique_ptr<SearchSpace> space;
  std::shared_ptr<Supernet> net;
};
TinyNb201 tiny_nb201() {
  SpaceOptions options;
  options.channels = 4;
  options.layers = 1;
  TinyNb201 tiny{testing::make_space("nb201", options), nullptr};
  tiny.net = tiny.space->build_supernet(DataShape{1, 8, 8, 3});
  tiny.net->eval();
  return tiny;
}

TEST(SinglePath, BatchStatisticsEvaluationLeavesTheSupernetAsItWas) {
  const auto [space, net] = tiny_nb201();
  const TensorDataset data{at::randn({32, 1, 8, 8}), at::randint(3, {32}, at::kLong)};
  std::mt19937_64 rng(6);
  const Architecture arch = space->sample(rng);
  std::vector<at::Tensor> before;
  for (const auto& b : net->buffers()) before.push_back(b.clone());
  const EvalResult batch = evaluate_path(*net, arch, data, 16, 0, /*batch_statistics=*/true);
  const auto after = net->buffers();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(at::equal(after[i], before[i])) << i;
  EXPECT_FALSE(net->is_training());
  // The same as train-mode forwards on each minibatch.
  net->train();
  at::NoGradGuard no_grad;
  int64_t correct = 0;
  for (int64_t start = 0; start < 32; start += 16)
    correct += net->forward_path(data.images.narrow(0, start, 16), arch)
                   .argmax(1)
                   .eq(data.labels.narrow(0, start, 16))
                   .sum()
                   .item<int64_t>();
  EXPECT_DOUBLE_EQ(batch.accuracy, correct / 32.0);
}

TEST(SinglePath, EvaluatePathsReportsEachMinibatchAndAStopLeavesTheSupernetAsItWas) {
  // after_batch sees (done, total) after every minibatch; what it throws leaves the
  // evaluation with the running statistics and the mode restored.
  const auto [space, net] = tiny_nb201();
  const TensorDataset data{at::randn({40, 1, 8, 8}), at::randint(3, {40}, at::kLong)};
  std::mt19937_64 rng(7);
  const std::vector<Architecture> archs = {space->sample(rng), space->sample(rng)};
  std::vector<std::pair<int64_t, int64_t>> seen;
  const auto record = [&](int64_t done, int64_t total) { seen.push_back({done, total}); };
  evaluate_paths(*net, archs, data, 16, 0, true, record);  // 16 + 16 + 8 images
  EXPECT_EQ(seen, (std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {2, 3}, {3, 3}}));
  seen.clear();
  evaluate_paths(*net, archs, data, 16, 2, true, record);  // max_batches = 2
  EXPECT_EQ(seen, (std::vector<std::pair<int64_t, int64_t>>{{1, 2}, {2, 2}}));

  std::vector<at::Tensor> before;
  for (const auto& b : net->buffers()) before.push_back(b.clone());
  struct Stop {};
  EXPECT_THROW(evaluate_paths(*net, archs, data, 16, 0, true,
                              [](int64_t done, int64_t) {
                                if (done == 2) throw Stop{};
                              }),
               Stop);
  const auto after = net->buffers();
  ASSERT_EQ(after.size(), before.size());
  // Two minibatches ran in train mode: without the restore the statistics would differ.
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(at::equal(after[i], before[i])) << i;
  EXPECT_FALSE(net->is_training());
}

}  // namespace
}  // namespace nasx
