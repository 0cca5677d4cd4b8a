// nasx::convolve and the thread's convolution precision: float32 is at::conv2d to the bit;
// bfloat16 is the convolution of the inputs rounded to bfloat16, its result rounded to
// bfloat16, forward and backward, checked against the same convolution computed in double
// from the rounded values.

#include <thread>

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "nasx/precision.hpp"

namespace nasx {
namespace {

constexpr auto kChannelsLast = at::MemoryFormat::ChannelsLast;

at::Tensor rounded_to_bfloat16(const at::Tensor& t) {
  return t.detach().to(at::kBFloat16).to(at::kDouble);
}

/// Whether `ours` is `exact` rounded to bfloat16, give or take one unit in its last place
/// (the backend sums in float, `exact` in double, so a value near a rounding boundary may
/// round the other way).
void expect_bfloat16_rounding_of(const at::Tensor& ours, const at::Tensor& exact) {
  const at::Tensor error = (ours.to(at::kDouble) - exact).abs();
  const at::Tensor ulp = exact.abs() * (1.0 / 128) + 1e-6;  // bfloat16 keeps 8 significant bits
  EXPECT_TRUE((error <= ulp).all().item<bool>()) << "largest error " << error.max().item<double>();
}

TEST(ConvolutionPrecision, IsFloat32UnlessAScopeSaysOtherwiseOnThisThread) {
  EXPECT_EQ(convolution_precision(), ConvolutionPrecision::float32);
  {
    const ConvolutionPrecisionScope outer(ConvolutionPrecision::bfloat16);
    EXPECT_EQ(convolution_precision(), ConvolutionPrecision::bfloat16);
    ConvolutionPrecision elsewhere = ConvolutionPrecision::bfloat16;
    std::thread([&] { elsewhere = convolution_precision(); }).join();
    EXPECT_EQ(elsewhere, ConvolutionPrecision::float32) << "another thread's own setting";
    {
      const ConvolutionPrecisionScope inner(ConvolutionPrecision::float32);
      EXPECT_EQ(convolution_precision(), ConvolutionPrecision::float32);
    }
    EXPECT_EQ(convolution_precision(), ConvolutionPrecision::bfloat16);
  }
  EXPECT_EQ(convolution_precision(), ConvolutionPrecision::float32);
  EXPECT_EQ(precision_name(ConvolutionPrecision::bfloat16), "bfloat16");
  EXPECT_EQ(precision_name(ConvolutionPrecision::float32), "float32");
}

TEST(ConvolutionPrecision, Float32IsConv2dToTheBit) {
  at::manual_seed(1);
  const at::Tensor x = at::randn({4, 8, 9, 9}).contiguous(kChannelsLast);
  const at::Tensor w = at::randn({16, 8, 3, 3});
  EXPECT_TRUE(at::equal(convolve(x, w, {2, 2}, {1, 1}), at::conv2d(x, w, {}, 2, 1)));
}

TEST(ConvolutionPrecision, Bfloat16IsTheConvolutionOfRoundedValuesRounded) {
  at::manual_seed(2);
  const ConvolutionPrecisionScope bfloat16(ConvolutionPrecision::bfloat16);
  for (const auto format : {kChannelsLast, at::MemoryFormat::Contiguous})
    for (const int64_t kernel : {1, 3}) {
      const at::Tensor x0 = at::randn({6, 16, 10, 10}).contiguous(format);
      const at::Tensor w0 = at::randn({24, 16, kernel, kernel}) * 0.2;
      const at::Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_();
      const at::Tensor y = convolve(x, w, {1, 1}, {kernel / 2, kernel / 2});
      EXPECT_EQ(y.scalar_type(), at::kFloat);
      EXPECT_TRUE(y.is_contiguous(format)) << "the output in x's layout";

      // The same convolution in double from the rounded input and weight.
      const at::Tensor xd = rounded_to_bfloat16(x0).requires_grad_();
      const at::Tensor wd = rounded_to_bfloat16(w0).requires_grad_();
      const at::Tensor yd = at::conv2d(xd, wd, {}, 1, kernel / 2);
      expect_bfloat16_rounding_of(y, yd);
      EXPECT_TRUE(at::equal(y, y.to(at::kBFloat16).to(at::kFloat))) << "rounded to bfloat16";
      EXPECT_GT((y - at::conv2d(x0, w0, {}, 1, kernel / 2)).abs().max().item<float>(), 1e-4)
          << "float32's result: the convolution did not run in bfloat16";

      // Backward: the float gradient rounded to bfloat16, each gradient rounded again.
      const at::Tensor dy = at::randn(y.sizes());
      const auto g = torch::autograd::grad({y}, {x, w}, {dy});
      const auto gd = torch::autograd::grad({yd}, {xd, wd}, {rounded_to_bfloat16(dy)});
      EXPECT_EQ(g[0].scalar_type(), at::kFloat);
      EXPECT_EQ(g[1].scalar_type(), at::kFloat) << "the weights' gradients reach them as floats";
      expect_bfloat16_rounding_of(g[0], gd[0]);
      expect_bfloat16_rounding_of(g[1], gd[1]);
      for (const at::Tensor& gradient : g)
        EXPECT_TRUE(at::equal(gradient, gradient.to(at::kBFloat16).to(at::kFloat)));
    }
}

TEST(ConvolutionPrecision, AnInputAlreadyRoundedToBfloat16IsTheSameConvolution) {
  at::manual_seed(4);
  const ConvolutionPrecisionScope bfloat16(ConvolutionPrecision::bfloat16);
  const at::Tensor x = at::randn({3, 8, 6, 6}).contiguous(kChannelsLast);
  const at::Tensor w = at::randn({8, 8, 3, 3});
  EXPECT_TRUE(
      at::equal(convolve(x.to(at::kBFloat16), w, {1, 1}, {1, 1}), convolve(x, w, {1, 1}, {1, 1})));
  // In float32 such an input is widened and convolved in float.
  const ConvolutionPrecisionScope float32(ConvolutionPrecision::float32);
  const at::Tensor rounded = x.to(at::kBFloat16);
  const at::Tensor y = convolve(rounded, w, {1, 1}, {1, 1});
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(y, at::conv2d(rounded.to(at::kFloat), w, {}, 1, 1)));
}

TEST(ConvolutionPrecision, LeavesWhatIsNotFloatToConv2d) {
  at::manual_seed(3);
  const ConvolutionPrecisionScope bfloat16(ConvolutionPrecision::bfloat16);
  const at::Tensor x = at::randn({2, 4, 6, 6}, at::kDouble);
  const at::Tensor w = at::randn({4, 4, 3, 3}, at::kDouble);
  const at::Tensor y = convolve(x, w, {1, 1}, {1, 1});
  EXPECT_EQ(y.scalar_type(), at::kDouble);
  EXPECT_TRUE(at::equal(y, at::conv2d(x, w, {}, 1, 1)));
}

}  // namespace
}  // namespace nasx
