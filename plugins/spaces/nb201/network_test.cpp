#include "nb201/network.hpp"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

namespace nasx::nb201 {
namespace {

int64_t parameters_of(const std::string& arch) {
  Network net(Arch::parse(arch), DataShape{3, 32, 32, 10});
  return count_parameters(net);
}

// The benchmark's figures (C=16, N=5, 3 input channels, 10 classes).
TEST(Nb201Network, ParameterCountsMatchTheBenchmark) {
  EXPECT_EQ(
      parameters_of("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"),
      559386);
  // The space's minimum (parameter-free cells) and maximum (all conv 3x3).
  EXPECT_EQ(
      parameters_of("|none~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|"),
      73306);
  EXPECT_EQ(parameters_of("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|"
                          "nor_conv_3x3~1|nor_conv_3x3~2|"),
            1531546);
  int64_t smallest = INT64_MAX, largest = 0;
  for (int64_t i = 0; i < kCells; i += 97) {
    const int64_t n = parameters_of(Arch::from_index(i).str());
    smallest = std::min(smallest, n);
    largest = std::max(largest, n);
  }
  EXPECT_GE(smallest, 73306);
  EXPECT_LE(largest, 1531546);
}

TEST(Nb201Network, ForwardGivesLogitsAndAllNoneCellsGiveConstantFeatures) {
  at::manual_seed(0);
  Network net(Arch::parse("|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|none~0|nor_conv_3x3~1|"
                          "avg_pool_3x3~2|"),
              DataShape{1, 28, 28, 10});
  const at::Tensor logits = net.forward(at::randn({4, 1, 28, 28}));
  EXPECT_EQ(logits.sizes(), (at::IntArrayRef{4, 10}));
  // A cell whose output node only has `none` inputs outputs zeros: after the first
  // stage every image looks the same, so all logits agree.
  Network dead(
      Arch::parse("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|none~1|none~2|"),
      DataShape{1, 28, 28, 10});
  dead.eval();
  const at::Tensor out = dead.forward(at::randn({3, 1, 28, 28}));
  EXPECT_TRUE(at::allclose(out[0], out[1]));
  EXPECT_TRUE(at::allclose(out[1], out[2]));
}

}  // namespace
}  // namespace nasx::nb201
