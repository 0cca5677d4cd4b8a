#include "nasx/probe.hpp"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "nasx/error.hpp"
#include "nb201/network.hpp"

namespace nasx {
namespace {

TEST(Probe, CountsConvolutionAndLinearMultiplyAccumulates) {
  const at::Tensor x = at::randn({1, 3, 8, 8});
  const at::Tensor conv = at::randn({4, 3, 3, 3}), depthwise = at::randn({4, 1, 3, 3});
  const at::Tensor linear = at::randn({10, 64});
  const int64_t macs = count_macs([&] {
    at::Tensor y = at::conv2d(x, conv, {}, 1, 1);  // 8*8 * 4 * 3*9 = 6912
    y = at::conv2d(y, depthwise, {}, 2, 1, 1, 4);  // 4*4 * 4 * 1*9 = 576
    y = at::conv2d(y, depthwise, {}, 1, 2, 2, 4);  // dilated: 4*4*4*9 = 576
    at::linear(y.flatten(1), linear);              // 64 * 10 = 640
  });
  EXPECT_EQ(macs, 6912 + 576 + 576 + 640);
}

TEST(Probe, ReluObserverSeesEveryCallWithItsInput) {
  std::vector<double> sums;
  const at::Tensor x = at::tensor({-1.0, 2.0, 3.0});
  {
    ReluObserver observer(
        [&](const at::Tensor& input) { sums.push_back(input.sum().item<double>()); });
    at::Tensor y = at::relu(x);  // input sum 4
    y = at::relu(y);             // again: 5
    at::Tensor z = x.clone();
    z.relu_();  // in place: sees the pre-activation, 4
  }
  at::relu(x);  // after the observer: not seen
  EXPECT_EQ(sums, (std::vector<double>{4.0, 5.0, 4.0}));
}

TEST(Probe, ProbesDoNotNest) {
  ReluObserver observer([](const at::Tensor&) {});
  EXPECT_THROW(count_macs([] {}), Error);
}

// Hand count for NAS-Bench-201 at C=16, N=5 on 3x32x32: stem 3x3 conv 3->16 at 32x32
// (442,368); residual blocks 16->32 at 16x16 (1,179,648 + 2,359,296 + 131,072) and
// 32->64 at 8x8 (the same three figures); classifier 64*10 = 640: 7,783,040 for a
// parameter-free cell (the benchmark's smallest, 7.78 MFLOPs). Each 3x3 conv edge adds
// 14,155,776 / 6 per cell in every stage (channels double as the map shrinks 4x).
TEST(Probe, Nb201NetworkMacsMatchAHandCount) {
  const int64_t base = 7783040, per_conv3x3_edge_and_stage = 5 * 2359296;
  nb201::Network empty(
      nb201::Arch::parse("|none~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|"),
      DataShape{3, 32, 32, 10});
  EXPECT_EQ(network_macs(empty, DataShape{3, 32, 32, 10}), base);
  nb201::Network full(nb201::Arch::parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_"
                                         "conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"),
                      DataShape{3, 32, 32, 10});
  EXPECT_EQ(network_macs(full, DataShape{3, 32, 32, 10}), base + 18 * per_conv3x3_edge_and_stage);
  EXPECT_TRUE(full.is_training());  // mode restored
}

}  // namespace
}  // namespace nasx
