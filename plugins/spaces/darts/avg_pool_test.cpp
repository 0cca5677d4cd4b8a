// The spaces' 3x3 average pooling against LibTorch's own: the same bits forward and
// backward (the same sums in the same order), at every channel count around the kernel's
// block of eight, both strides, odd sizes, and LibTorch's path where the kernel is not used.

#include <string>
#include <utility>

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "darts/avg_pool.hpp"

namespace nasx::darts {
namespace {

at::Tensor reference(const at::Tensor& x, int64_t stride) {
  return at::avg_pool2d(x, {3, 3}, {stride, stride}, {1, 1}, false, false);
}

TEST(AvgPool3x3, IsLibTorchsPoolingBitForBitForwardAndBackward) {
  at::manual_seed(0);
  for (const int64_t channels : {1, 3, 8, 13, 16, 24, 40})
    for (const int64_t stride : {1, 2})
      for (const auto& [height, width] :
           {std::pair<int64_t, int64_t>{7, 9}, {28, 28}, {3, 3}, {1, 2}}) {
        const at::Tensor x = at::randn({3, channels, height, width})
                                 .contiguous(at::MemoryFormat::ChannelsLast)
                                 .requires_grad_();
        const at::Tensor expected = reference(x, stride);
        const at::Tensor got = avg_pool_3x3(x, stride);
        SCOPED_TRACE(testing::Message()
                     << "C=" << channels << " stride " << stride << " " << height << "x" << width);
        ASSERT_EQ(got.sizes(), expected.sizes());
        if (channels > 1) {  // one channel is both layouts: LibTorch's
          ASSERT_NE(got.grad_fn()->name().find("AvgPool3x3"), std::string::npos)
              << "the kernel did not run: " << got.grad_fn()->name();
        }
        EXPECT_TRUE(got.is_contiguous(at::MemoryFormat::ChannelsLast));
        EXPECT_TRUE(at::equal(got, expected));
        const at::Tensor grad = at::randn_like(expected);
        const at::Tensor gx = torch::autograd::grad({got}, {x}, {grad})[0];
        const at::Tensor gx_expected = torch::autograd::grad({expected}, {x}, {grad})[0];
        EXPECT_TRUE(at::equal(gx, gx_expected));
        // A gradient in the other layout is read as its values, not its memory.
        const at::Tensor gx_contiguous =
            torch::autograd::grad({avg_pool_3x3(x, stride)}, {x}, {grad.contiguous()})[0];
        EXPECT_TRUE(at::equal(gx_contiguous, gx_expected));
      }
}

TEST(AvgPool3x3, KeepsNothingOfItsInputForTheBackward) {
  // The backward needs only sizes: the input is not kept (LibTorch's node keeps it), so a
  // cell's node that nothing else keeps is freed after the forward.
  const at::Tensor leaf =
      at::randn({2, 8, 6, 6}).contiguous(at::MemoryFormat::ChannelsLast).requires_grad_();
  const at::Tensor x = leaf * 2;  // an intermediate, as a cell's node is
  const auto before = x.use_count();
  const at::Tensor ours = avg_pool_3x3(x, 1);
  EXPECT_EQ(x.use_count(), before);
  const at::Tensor theirs = reference(x, 1);
  EXPECT_GT(x.use_count(), before);  // the check can see a kept input
}

TEST(AvgPool3x3, OtherTensorsAndDoubleBackwardTakeLibTorchsPath) {
  at::manual_seed(1);
  const auto libtorch_ran = [](const at::Tensor& y) {
    return y.grad_fn()->name().find("AvgPool2D") != std::string::npos;
  };
  // Contiguous, double, ambiguous ([N, C, 1, 1] is both layouts) and empty tensors:
  // LibTorch's pooling itself.
  const at::Tensor contiguous = at::randn({2, 8, 5, 5}).requires_grad_();
  const at::Tensor dbl = at::randn({2, 8, 5, 5}, at::kDouble)
                             .contiguous(at::MemoryFormat::ChannelsLast)
                             .requires_grad_();
  const at::Tensor pixel = at::randn({2, 8, 1, 1}).requires_grad_();
  for (const at::Tensor& x : {contiguous, dbl, pixel}) {
    const at::Tensor y = avg_pool_3x3(x, 2);
    EXPECT_TRUE(libtorch_ran(y)) << y.grad_fn()->name();
    EXPECT_TRUE(at::equal(y, reference(x, 2)));
  }
  const at::Tensor empty = at::randn({0, 8, 5, 5}).contiguous(at::MemoryFormat::ChannelsLast);
  EXPECT_EQ(avg_pool_3x3(empty, 1).sizes(), reference(empty, 1).sizes());
  // Without gradients the kernel still runs, to the same bits.
  const at::Tensor x =
      at::randn({2, 8, 5, 5}).contiguous(at::MemoryFormat::ChannelsLast).requires_grad_();
  {
    const at::NoGradGuard no_grad;
    EXPECT_TRUE(at::equal(avg_pool_3x3(x, 1), reference(x, 1)));
  }
  // A gradient of the gradient (create_graph) goes through LibTorch's differentiable
  // formula, with LibTorch's layout: d/dv of |dx|^2 where dx = pool^T v, the same bits.
  const at::Tensor v = at::randn({2, 8, 5, 5}).requires_grad_();
  const auto first_and_second = [&](const at::Tensor& y) {
    const at::Tensor g = torch::autograd::grad({y}, {x}, {v}, true, true)[0];
    return std::pair{g, torch::autograd::grad({(g * g).sum()}, {v})[0]};
  };
  const auto [g_ours, gv_ours] = first_and_second(avg_pool_3x3(x, 1));
  const auto [g_theirs, gv_theirs] = first_and_second(reference(x, 1));
  EXPECT_TRUE(g_ours.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(at::equal(g_ours, g_theirs));
  EXPECT_TRUE(at::equal(gv_ours, gv_theirs));
}

}  // namespace
}  // namespace nasx::darts
