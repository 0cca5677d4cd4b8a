// nasx's 1x1 convolution against LibTorch's (oneDNN's): the output and both gradients bit
// for bit, at the shapes the DARTS cells use (the supernet's edges side by side as
// groups, the evaluation network's channels) and at awkward ones (pixel counts that leave
// a remainder after the kernel's blocks, every block width), on one thread and two; NaN
// and zeros; what it leaves to LibTorch; and a second derivative.

#include "darts/pointwise.hpp"

#include <gtest/gtest.h>

#include <array>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "support/thread_count.hpp"

namespace nasx::darts {
namespace {

constexpr auto kChannelsLast = at::MemoryFormat::ChannelsLast;
constexpr std::array<int64_t, 2> kOne = {1, 1}, kZero = {0, 0};

struct Conv {
  int64_t groups, in, out, batch, height, width;  // in, out: channels per group
};

std::string describe(const Conv& c) {
  std::ostringstream out;
  out << c.groups << " groups of " << c.in << " -> " << c.out << " channels, " << c.batch << "x"
      << c.height << "x" << c.width;
  return out.str();
}

at::Tensor libtorch_conv(const at::Tensor& x, const at::Tensor& w, int64_t groups) {
  return at::conv2d(x, w, {}, kOne, kZero, kOne, groups);
}

std::vector<Conv> cases() {
  return {
      {4, 8, 8, 4, 28, 28},    // the supernet's edges: C = 8 in four copies
      {4, 16, 16, 3, 14, 14},  // C = 16
      {3, 16, 16, 3, 14, 14},  // three edges
      {2, 16, 32, 2, 7, 7},    // 32 outputs a group: the widest block
      {1, 16, 16, 2, 28, 28},  // the evaluation network's C = 16
      {1, 16, 48, 2, 9, 9},    // 48: three blocks of sixteen
      {2, 8, 24, 1, 5, 3},     // 24: three blocks of eight; 15 pixels, not a multiple of 8
      {2, 3, 8, 1, 1, 1},      // one pixel, three inputs a group
      {1, 3, 16, 2, 1, 1},     // two images of one pixel
      {5, 1, 8, 2, 3, 7},      // one input a group
      {4, 8, 8, 16, 5, 5},     // a batch of 16: oneDNN (and the kernel) on one thread too
      {2, 16, 32, 1, 3, 3},    // 9 pixels: the widest block's one-pixel remainder
  };
}

class PointwiseConv : public ::testing::Test {
 protected:
  void SetUp() override {
    // A batch of 16: LibTorch runs oneDNN there on any number of threads.
    if (!pointwise_conv_fma_applies(at::zeros({16, 8, 2, 2}).contiguous(kChannelsLast),
                                    at::zeros({8, 8, 1, 1}), 1))
      GTEST_SKIP() << "this CPU has no AVX2 and FMA: LibTorch's convolution runs instead";
  }
};

/// The same bits, the sign of zeros included (at::equal compares values: -0 == +0).
bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() &&
         at::equal(a.contiguous().view(at::kInt), b.contiguous().view(at::kInt));
}

TEST_F(PointwiseConv, IsLibTorchsConvolutionBitForBitOnOneThreadAndTwo) {
  at::manual_seed(0);
  for (const Conv& c : cases()) {
    SCOPED_TRACE(describe(c));
    const at::Tensor x =
        at::randn({c.batch, c.groups * c.in, c.height, c.width}).contiguous(kChannelsLast);
    const at::Tensor w = at::randn({c.groups * c.out, c.in, 1, 1});
    for (const int threads : {1, 2}) {
      const test::ThreadCount scope(threads);
      // LibTorch runs oneDNN on more than one thread or a batch of 16 (else its own loop).
      const bool onednn = threads > 1 || c.batch >= 16;
      ASSERT_EQ(pointwise_conv_fma_applies(x, w, c.groups), onednn) << threads << " threads";
      if (!onednn) continue;
      const at::Tensor want = libtorch_conv(x, w, c.groups);
      const at::Tensor got = pointwise_conv2d(x, w, c.groups);
      EXPECT_TRUE(got.is_contiguous(kChannelsLast));
      EXPECT_TRUE(same_bits(got, want))
          << threads << " threads: largest difference " << (got - want).abs().max().item<float>();
    }
  }
}

// The input gradient is the kernel again, gy's channels its inputs: a convolution with
// each group's weight transposed. That convolution, through the kernel, against
// LibTorch's input gradient; then both gradients through the operation against LibTorch's
// autograd.
TEST_F(PointwiseConv, GradientsAreLibTorchsBitForBit) {
  at::manual_seed(1);
  for (const Conv& c : cases()) {
    SCOPED_TRACE(describe(c));
    const at::Tensor x0 =
        at::randn({c.batch, c.groups * c.in, c.height, c.width}).contiguous(kChannelsLast);
    const at::Tensor w0 = at::randn({c.groups * c.out, c.in, 1, 1});
    const at::Tensor gy =
        at::randn({c.batch, c.groups * c.out, c.height, c.width}).contiguous(kChannelsLast);
    const test::ThreadCount two(2);  // LibTorch's oneDNN at any batch
    const auto want = at::convolution_backward(gy, x0, w0, c10::nullopt, kOne, kZero, kOne, false,
                                               kZero, c.groups, {true, true, false});

    const at::Tensor transposed = w0.reshape({c.groups, c.out, c.in})
                                      .transpose(1, 2)
                                      .reshape({c.groups * c.in, c.out, 1, 1})
                                      .contiguous();
    if (c.in % 8 == 0 && c.out <= 16) {  // the input gradient's inputs are the outputs
      ASSERT_TRUE(pointwise_conv_fma_applies(gy, transposed, c.groups));
      EXPECT_TRUE(same_bits(pointwise_conv2d(gy, transposed, c.groups), std::get<0>(want)))
          << "the input gradient as a convolution";
    }

    const at::Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_();
    const auto grads = torch::autograd::grad({pointwise_conv2d(x, w, c.groups)}, {x, w}, {gy});
    EXPECT_TRUE(same_bits(grads[0], std::get<0>(want))) << "input gradient";
    EXPECT_TRUE(same_bits(grads[1], std::get<1>(want))) << "weight gradient";
  }
}

TEST_F(PointwiseConv, KeepsNaNAndTheSignOfZerosAsLibTorchDoes) {
  const test::ThreadCount two(2);
  at::Tensor x = at::randn({2, 16, 3, 5}).contiguous(kChannelsLast);
  x[1][5][2][3] = std::numeric_limits<float>::quiet_NaN();
  x[0][7][1][1] = std::numeric_limits<float>::infinity();
  x.select(2, 0).select(2, 0).zero_();  // pixels of zeros: each product 0·w, -0 where w < 0
  x[1][0][0][0] = -0.0f;
  const at::Tensor w = -at::rand({16, 8, 1, 1});
  const at::Tensor got = pointwise_conv2d(x, w, 2);
  const at::Tensor want = libtorch_conv(x, w, 2);
  EXPECT_GT(at::isnan(want).sum().item<int64_t>(), 0);
  EXPECT_TRUE(same_bits(got, want));
}

TEST_F(PointwiseConv, LeavesToLibTorchWhatTheKernelDoesNotCompute) {
  const test::ThreadCount two(2);
  const auto cl = [](at::Tensor t) { return t.contiguous(kChannelsLast); };
  const at::Tensor x = cl(at::randn({2, 16, 5, 5}));
  EXPECT_TRUE(pointwise_conv_fma_applies(x, at::randn({16, 16, 1, 1}), 1));
  const std::vector<std::pair<std::string, std::array<at::Tensor, 2>>> refused = {
      {"contiguous", {at::randn({2, 16, 5, 5}), at::randn({16, 16, 1, 1})}},
      {"double", {x.to(at::kDouble), at::randn({16, 16, 1, 1}, at::kDouble)}},
      {"12 outputs: not a multiple of eight", {x, at::randn({12, 16, 1, 1})}},
      {"32 inputs a group: oneDNN is the faster",
       {cl(at::randn({2, 32, 5, 5})), at::randn({16, 32, 1, 1})}},
      {"a 3x3 kernel", {x, at::randn({16, 16, 3, 3})}},
  };
  for (const auto& [why, tensors] : refused) {
    SCOPED_TRACE(why);
    const auto& [input, weight] = tensors;
    EXPECT_FALSE(pointwise_conv_fma_applies(input, weight, 1));
    if (weight.size(2) == 1) {
      EXPECT_TRUE(at::equal(pointwise_conv2d(input, weight), libtorch_conv(input, weight, 1)));
    }
  }
  EXPECT_FALSE(pointwise_conv_fma_applies(x, at::randn({16, 8, 1, 1}), 3)) << "16 not in 3 groups";
  {
    // One thread and a batch under 16: LibTorch multiplies and adds in a loop of its own
    // (separate roundings), and so does the operation then; with 16 it runs oneDNN.
    const test::ThreadCount one(1);
    const at::Tensor w = at::randn({16, 16, 1, 1});
    EXPECT_FALSE(pointwise_conv_fma_applies(x, w, 1));
    EXPECT_TRUE(same_bits(pointwise_conv2d(x, w), libtorch_conv(x, w, 1)));
    EXPECT_TRUE(pointwise_conv_fma_applies(cl(at::randn({16, 16, 5, 5})), w, 1));
  }
  // LibTorch's own error for a weight that does not match the input.
  EXPECT_THROW(pointwise_conv2d(x, at::randn({16, 8, 1, 1}), 1), c10::Error);
}

// create_graph: LibTorch's formula, which is differentiable; a second derivative through
// the operation is LibTorch's.
TEST_F(PointwiseConv, SecondDerivativeIsLibTorchs) {
  const test::ThreadCount two(2);
  at::manual_seed(3);
  const at::Tensor x0 = at::randn({2, 32, 4, 4}).contiguous(kChannelsLast);
  const at::Tensor w0 = at::randn({32, 8, 1, 1});
  const at::Tensor gy = at::randn({2, 32, 4, 4}).contiguous(kChannelsLast);
  const auto second = [&](bool ours) {
    const at::Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_();
    const at::Tensor y = ours ? pointwise_conv2d(x, w, 4) : libtorch_conv(x, w, 4);
    const at::Tensor gx = torch::autograd::grad({y}, {x}, {gy}, true, /*create_graph=*/true)[0];
    return torch::autograd::grad({(gx * gx).sum()}, {w})[0];
  };
  const at::Tensor got = second(true), want = second(false);
  EXPECT_GT(want.abs().sum().item<float>(), 0.0f);
  EXPECT_TRUE(at::equal(got, want));
}

}  // namespace
}  // namespace nasx::darts
