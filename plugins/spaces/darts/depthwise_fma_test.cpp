// nasx's depthwise convolution kernel against LibTorch's (oneDNN's) convolution of the
// ReLU's output and its copies: the same bits, at the shapes the DARTS cells use and at the
// awkward ones (images smaller than the kernel's reach, widths that leave columns over
// after the kernel's blocks of four), on one thread and two; its mask against
// threshold_backward; and the operation's gradients through it against the formula it
// replaced, bit for bit.

#include "darts/depthwise_fma.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "darts/depthwise.hpp"
#include "support/thread_count.hpp"

namespace nasx::darts {
namespace {

constexpr auto kChannelsLast = at::MemoryFormat::ChannelsLast;

struct Conv {
  int64_t channels, copies, kernel, stride, dilation, height, width;
  int64_t padding() const { return dilation * (kernel - 1) / 2; }
};

std::string describe(const Conv& c, bool relu) {
  std::ostringstream out;
  out << c.copies << "x" << c.channels << " channels, kernel " << c.kernel << ", stride "
      << c.stride << ", dilation " << c.dilation << ", " << c.height << "x" << c.width
      << (relu ? ", ReLU" : "");
  return out.str();
}

/// What the kernel replaces: LibTorch's convolution of relu(x) repeated.
at::Tensor libtorch_conv(const at::Tensor& x, const at::Tensor& w, const Conv& c, bool relu) {
  const at::Tensor a = relu ? at::relu(x) : x;
  const at::Tensor input =
      c.copies == 1 ? a : a.repeat({1, c.copies, 1, 1}).contiguous(kChannelsLast);
  return at::conv2d(input, w, {}, c.stride, c.padding(), c.dilation, c.copies * c.channels);
}

std::vector<Conv> cases() {
  std::vector<Conv> all;
  // The evaluation network's (C = 16, 32, 64; reduction cells at stride 2) and the
  // supernet's edge groups (C = 8.. with 2-4 copies), 3x3 and 5x5, dilation 1 and 2.
  for (const int64_t kernel : {3, 5})
    for (const int64_t dilation : {1, 2})
      for (const int64_t stride : {1, 2}) {
        all.push_back({16, 1, kernel, stride, dilation, 28, 28});
        all.push_back({64, 1, kernel, stride, dilation, 7, 7});
        all.push_back({8, 4, kernel, stride, dilation, 14, 14});
        all.push_back({24, 2, kernel, stride, dilation, 9, 13});  // 13: columns past the blocks
        all.push_back({8, 3, kernel, stride, dilation, 3, 2});    // smaller than the reach
        all.push_back({8, 3, kernel, stride, dilation, 14, 14});  // a pair, then a block alone
        all.push_back({16, 1, kernel, stride, dilation, 1, 1});
      }
  return all;
}

class DepthwiseConvFma : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!depthwise_conv_fma_reads(at::zeros({1, 8, 3, 3}).contiguous(kChannelsLast)))
      GTEST_SKIP() << "this CPU has no AVX2 and FMA: LibTorch's convolution runs instead";
  }
};

/// The same bits, the sign of zeros included (at::equal compares values: -0 == +0).
bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() &&
         at::equal(a.contiguous().view(at::kInt), b.contiguous().view(at::kInt));
}

TEST_F(DepthwiseConvFma, IsLibTorchsConvolutionBitForBitOnOneThreadAndTwo) {
  at::manual_seed(0);
  for (const Conv& c : cases())
    for (const bool relu : {true, false}) {
      SCOPED_TRACE(describe(c, relu));
      const at::Tensor x = at::randn({3, c.channels, c.height, c.width}).contiguous(kChannelsLast);
      const at::Tensor w = at::randn({c.copies * c.channels, 1, c.kernel, c.kernel});
      const at::Tensor want = libtorch_conv(x, w, c, relu);
      for (const int threads : {1, 2}) {
        const test::ThreadCount scope(threads);
        const at::Tensor got =
            depthwise_conv_fma(x, w, c.stride, c.padding(), c.dilation, c.copies, relu);
        ASSERT_EQ(got.sizes(), want.sizes());
        EXPECT_TRUE(got.is_contiguous(kChannelsLast));
        EXPECT_TRUE(same_bits(got, want))
            << threads << " threads: largest difference " << (got - want).abs().max().item<float>();
      }
    }
}

TEST_F(DepthwiseConvFma, KeepsNaNAsTheReLUAndTheConvolutionDo) {
  const Conv c{16, 2, 3, 1, 1, 6, 7};
  at::Tensor x = at::randn({2, 16, 6, 7}).contiguous(kChannelsLast);
  x[1][5][2][3] = std::numeric_limits<float>::quiet_NaN();
  x[0][0][0][0] = -0.0f;
  const at::Tensor w = at::randn({32, 1, 3, 3});
  const at::Tensor got = depthwise_conv_fma(x, w, 1, 1, 1, 2, true);
  const at::Tensor want = libtorch_conv(x, w, c, true);
  EXPECT_GT(at::isnan(want).sum().item<int64_t>(), 0);
  EXPECT_TRUE(at::equal(at::isnan(got), at::isnan(want)));
  EXPECT_TRUE(at::equal(at::nan_to_num(got), at::nan_to_num(want)));
}

TEST_F(DepthwiseConvFma, MaskedOutputIsThresholdBackwardOfTheConvolution) {
  at::manual_seed(1);
  for (const Conv& c :
       {Conv{16, 1, 3, 1, 1, 28, 28}, Conv{32, 1, 5, 1, 2, 14, 14}, Conv{8, 1, 5, 1, 1, 5, 9}}) {
    SCOPED_TRACE(describe(c, false));
    const at::Tensor g = at::randn({2, c.channels, c.height, c.width}).contiguous(kChannelsLast);
    const at::Tensor w = at::randn({c.channels, 1, c.kernel, c.kernel});
    at::Tensor mask = at::randn_like(g);
    mask.index_put_({0, at::indexing::Slice(), 0}, 0.0f);        // exactly zero: masked
    mask[1][1][1][1] = std::numeric_limits<float>::quiet_NaN();  // NaN: passed on
    const at::Tensor got = depthwise_conv_fma(g, w, 1, c.padding(), c.dilation, 1, false, mask);
    const at::Tensor want = at::threshold_backward(libtorch_conv(g, w, c, false), mask, 0);
    EXPECT_TRUE(same_bits(got, want)) << (got - want).abs().max().item<float>();
  }
}

TEST_F(DepthwiseConvFma, RefusesWhatItDoesNotCompute) {
  const auto cl = [](at::Tensor t) { return t.contiguous(kChannelsLast); };
  const at::Tensor x = cl(at::randn({2, 16, 5, 5})), w = at::randn({16, 1, 3, 3});
  EXPECT_TRUE(depthwise_conv_fma_applies(x, w, 1, 1, 1));
  EXPECT_FALSE(
      depthwise_conv_fma_applies(cl(at::randn({2, 12, 5, 5})), at::randn({12, 1, 3, 3}), 1, 1, 1))
      << "12 channels: not a multiple of eight";
  EXPECT_FALSE(depthwise_conv_fma_applies(at::randn({2, 16, 5, 5}), w, 1, 1, 1)) << "contiguous";
  EXPECT_FALSE(depthwise_conv_fma_applies(cl(at::randn({2, 16, 5, 5}, at::kDouble)),
                                          w.to(at::kDouble), 1, 1, 1))
      << "double";
  EXPECT_FALSE(depthwise_conv_fma_applies(x, at::randn({16, 1, 7, 7}), 1, 3, 1)) << "7x7 kernel";
  EXPECT_FALSE(depthwise_conv_fma_applies(x, at::randn({16, 1, 3, 5}), 1, 1, 1)) << "3x5 kernel";
  EXPECT_FALSE(depthwise_conv_fma_applies(x, w.to(at::kDouble), 1, 1, 1)) << "double weight";
  EXPECT_FALSE(depthwise_conv_fma_applies(x, at::randn({24, 1, 3, 3}), 1, 1, 1))
      << "24 channels of weight for 16 of input";
  // A kernel that does not fit the image: no output, which LibTorch refuses with its error.
  const at::Tensor small = cl(at::randn({1, 16, 2, 2}));
  EXPECT_FALSE(depthwise_conv_fma_applies(small, w, 2, 0, 1));
  EXPECT_THROW(
      at::conv2d(small, w, at::Tensor(), std::vector<int64_t>{2, 2}, std::vector<int64_t>{0, 0}),
      c10::Error);
  EXPECT_THROW(depthwise_conv2d(small, w, 2, 0, 1), c10::Error);
  EXPECT_THROW(depthwise_conv_fma(small, w, 2, 0, 1, 1, true), c10::Error);
}

// Through the operation: the output and both gradients are what the formula it replaced
// gives (LibTorch's convolution of the activation forward; backward, the convolution with
// the kernel flipped, summed over copies, then the ReLU's mask), bit for bit.
TEST_F(DepthwiseConvFma, TheOperationsGradientsAreTheFormerFormulasBits) {
  at::manual_seed(2);
  for (const Conv& c : {Conv{16, 1, 3, 1, 1, 28, 28}, Conv{16, 1, 3, 1, 2, 28, 28},
                        Conv{8, 4, 5, 1, 1, 14, 14}, Conv{64, 1, 5, 1, 2, 7, 7}}) {
    for (const bool relu : {true, false}) {
      SCOPED_TRACE(describe(c, relu));
      const at::Tensor x0 = at::randn({4, c.channels, c.height, c.width}).contiguous(kChannelsLast);
      const at::Tensor w0 = at::randn({c.copies * c.channels, 1, c.kernel, c.kernel});
      const at::Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_();
      const at::Tensor y =
          depthwise_conv2d_of_relu(x, w, c.stride, c.padding(), c.dilation, c.copies, relu);
      const at::Tensor gy = at::randn_like(y);
      const auto grads = torch::autograd::grad({y}, {x, w}, {gy});

      EXPECT_TRUE(same_bits(y, libtorch_conv(x0, w0, c, relu))) << "output";
      const int64_t transposed_padding = c.dilation * (c.kernel - 1) - c.padding();
      at::Tensor gx = at::conv2d(gy, w0.flip({2, 3}), {}, 1, transposed_padding, c.dilation,
                                 c.copies * c.channels);
      if (c.copies > 1) {
        at::Tensor sum = gx.narrow(1, 0, c.channels).clone();
        for (int64_t k = 1; k < c.copies; ++k) sum.add_(gx.narrow(1, k * c.channels, c.channels));
        gx = sum;
      }
      if (relu) gx = at::threshold_backward(gx, x0, 0);
      EXPECT_TRUE(same_bits(grads[0], gx))
          << "input gradient: largest difference " << (grads[0] - gx).abs().max().item<float>();
      EXPECT_TRUE(
          at::equal(grads[1], depthwise_conv2d_weight_grad(x0, gy, c.kernel, c.stride, c.padding(),
                                                           c.dilation, c.copies, relu)))
          << "weight gradient";
    }
  }
}

}  // namespace
}  // namespace nasx::darts
