// nasx::global_average_pool against x.mean({2, 3}): the same bits forward and backward,
// with the gradient in the input's layout; twice differentiated the same to rounding (it
// divides before the sum, mean after).

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "nasx/global_average_pool.hpp"

namespace nasx {
namespace {

TEST(GlobalAveragePool, IsTheMeanToTheBitWithItsGradientInTheInputsLayout) {
  at::manual_seed(3);
  for (const auto dtype : {at::kFloat, at::kDouble})
    for (const auto format : {at::MemoryFormat::ChannelsLast, at::MemoryFormat::Contiguous})
      for (const int64_t size : {1, 7, 28}) {
        const at::Tensor x0 = at::randn({5, 24, size, size}, dtype).contiguous(format);
        const at::Tensor dy = at::randn({5, 24}, dtype);
        const at::Tensor ours = x0.clone().requires_grad_(), theirs = x0.clone().requires_grad_();
        const at::Tensor y = global_average_pool(ours), expected = theirs.mean({2, 3});
        const at::Tensor g = torch::autograd::grad({y}, {ours}, {dy})[0];
        const at::Tensor expected_g = torch::autograd::grad({expected}, {theirs}, {dy})[0];
        EXPECT_TRUE(at::equal(y, expected));
        EXPECT_TRUE(at::equal(g, expected_g));
        EXPECT_TRUE(g.is_contiguous(format)) << "the gradient in the input's layout";
        EXPECT_FALSE(expected_g.is_contiguous(at::MemoryFormat::ChannelsLast) &&
                     format == at::MemoryFormat::ChannelsLast && size > 1)
            << "mean's own gradient is channels-last now: global_average_pool is not needed";
      }
}

TEST(GlobalAveragePool, DifferentiatesTwiceAsTheMean) {
  at::manual_seed(4);
  const at::Tensor x0 = at::randn({3, 8, 5, 5}).contiguous(at::MemoryFormat::ChannelsLast);
  const auto second = [&](bool ours) {
    const at::Tensor x = x0.clone().requires_grad_();
    const at::Tensor y = ours ? global_average_pool(x) : x.mean({2, 3});
    const at::Tensor g = torch::autograd::grad({y.pow(3).sum()}, {x}, {}, true, true)[0];
    return torch::autograd::grad({(g * x).sum()}, {x})[0];
  };
  EXPECT_TRUE(at::allclose(second(true), second(false), 1e-6, 1e-6));
}

TEST(GlobalAveragePool, RefusesWhatIsNotAnImageBatch) {
  EXPECT_THROW(global_average_pool(at::zeros({2, 3})), c10::Error);
}

}  // namespace
}  // namespace nasx
