// nasx::batch_norm on an affine layer in training over channels-last floats (the trained
// networks' layers): the SDK's kernels, pinned against LibTorch's own BatchNorm2d bit for
// bit — output, running statistics, the input's, weight's and bias's gradients — and its
// second derivative.

#include <vector>

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn/modules/batchnorm.h>

#include "nasx/distributed.hpp"
#include "support/batch_norm_kernels.hpp"
#include "support/thread_count.hpp"

namespace nasx {
namespace {

using test::KernelCalls;

/// A trained network's layer with weights and biases away from 1 and 0 and running
/// statistics away from their start, so that every term of the arithmetic counts.
torch::nn::BatchNorm2d affine_layer(int64_t channels, double momentum) {
  torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(channels).momentum(momentum));
  const at::NoGradGuard no_grad;
  bn->weight.uniform_(0.5, 1.5);
  bn->bias.uniform_(-1, 1);
  bn->running_mean.uniform_(-1, 1);
  bn->running_var.uniform_(0.5, 2);
  return bn;
}

torch::nn::BatchNorm2d copy_of(const torch::nn::BatchNorm2d& bn) {
  return std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(bn->clone());
}

// At channel counts around the kernels' vector of eight and block of four vectors, and the
// trained networks' 16-96, on one thread and two.
TEST(AffineBatchNorm, ChannelsLastFloatIsLibTorchsArithmeticBitForBit) {
  if (!test::lib_torch_fuses_multiply_adds()) GTEST_SKIP() << "LibTorch's own kernels run here";
  at::manual_seed(21);
  const auto cl = at::MemoryFormat::ChannelsLast;
  for (const int threads : {1, 2}) {
    const test::ThreadCount thread_count(threads);
    for (const double momentum : {0.1, 0.9})
      for (const int64_t channels : {3, 8, 13, 16, 32, 59, 64, 96})
        for (const auto& shape :
             {std::vector<int64_t>{6, channels, 5, 7}, {16, channels, 14, 14}}) {
          SCOPED_TRACE(testing::Message() << threads << " threads, momentum " << momentum << ", "
                                          << at::IntArrayRef(shape));
          const at::Tensor x = (at::randn(shape) * 3 + 2).contiguous(cl);
          const at::Tensor dy = at::randn(shape).contiguous(cl);
          torch::nn::BatchNorm2d reference = affine_layer(channels, momentum);
          torch::nn::BatchNorm2d ours = copy_of(reference);

          const at::Tensor xr = x.clone().requires_grad_();
          const at::Tensor y_expected = reference->forward(xr);
          const auto expected =
              torch::autograd::grad({y_expected}, {xr, reference->weight, reference->bias}, {dy});

          KernelCalls calls;
          const int forward_before = KernelCalls::forward_;
          const int backward_before = KernelCalls::backward_;
          const at::Tensor xo = x.clone().requires_grad_();
          const at::Tensor y = batch_norm(ours, xo);
          const auto got = torch::autograd::grad({y}, {xo, ours->weight, ours->bias}, {dy});
          EXPECT_EQ(KernelCalls::forward_ - forward_before, 1);
          EXPECT_EQ(KernelCalls::backward_ - backward_before, 1);

          EXPECT_TRUE(at::equal(y, y_expected));
          EXPECT_TRUE(y.is_contiguous(cl));
          EXPECT_TRUE(at::equal(ours->running_mean, reference->running_mean));
          EXPECT_TRUE(at::equal(ours->running_var, reference->running_var));
          EXPECT_EQ(ours->num_batches_tracked.item<int64_t>(),
                    reference->num_batches_tracked.item<int64_t>());
          EXPECT_TRUE(at::equal(got[0], expected[0])) << "the input's gradient";
          EXPECT_TRUE(got[0].is_contiguous(cl));
          EXPECT_TRUE(at::equal(got[1], expected[1])) << "the weight's gradient";
          EXPECT_TRUE(at::equal(got[2], expected[2])) << "the bias's gradient";
        }
  }
}

// A frozen layer (weight and bias without gradients) and an input without one: only what
// is asked for is computed, with the same bits.
TEST(AffineBatchNorm, OnlyTheGradientsAskedForAreComputed) {
  if (!test::lib_torch_fuses_multiply_adds()) GTEST_SKIP() << "LibTorch's own kernels run here";
  at::manual_seed(22);
  const auto cl = at::MemoryFormat::ChannelsLast;
  const at::Tensor x = (at::randn({8, 16, 6, 6}) * 2 - 1).contiguous(cl);
  const at::Tensor dy = at::randn({8, 16, 6, 6}).contiguous(cl);
  torch::nn::BatchNorm2d reference = affine_layer(16, 0.1), ours = copy_of(reference);
  for (auto* bn : {&reference, &ours}) {
    (*bn)->weight.requires_grad_(false);
    (*bn)->bias.requires_grad_(false);
  }
  const at::Tensor xr = x.clone().requires_grad_(), xo = x.clone().requires_grad_();
  const at::Tensor expected = torch::autograd::grad({reference->forward(xr)}, {xr}, {dy})[0];
  EXPECT_TRUE(at::equal(torch::autograd::grad({batch_norm(ours, xo)}, {xo}, {dy})[0], expected));

  // Parameters only: the input is an image, not a variable.
  torch::nn::BatchNorm2d reference2 = affine_layer(16, 0.1), ours2 = copy_of(reference2);
  const auto want =
      torch::autograd::grad({reference2->forward(x)}, {reference2->weight, reference2->bias}, {dy});
  const auto got =
      torch::autograd::grad({batch_norm(ours2, x)}, {ours2->weight, ours2->bias}, {dy});
  EXPECT_TRUE(at::equal(got[0], want[0]));
  EXPECT_TRUE(at::equal(got[1], want[1]));
}

// A gradient of the gradient (create_graph) goes through LibTorch's differentiable layer:
// the layer's second derivatives, to float precision.
TEST(AffineBatchNorm, SecondDerivativesMatchTheLayer) {
  at::manual_seed(23);
  const auto cl = at::MemoryFormat::ChannelsLast;
  const at::Tensor x = (at::randn({4, 16, 5, 6}) * 2 + 1).contiguous(cl);
  const at::Tensor dy = at::randn({4, 16, 5, 6}).contiguous(cl);
  const at::Tensor v = at::randn({4, 16, 5, 6});
  const auto penalty_gradients = [&](torch::nn::BatchNorm2d bn, bool ours) {
    const at::Tensor xr = x.clone().requires_grad_();
    const at::Tensor y = ours ? batch_norm(bn, xr) : bn->forward(xr);
    const auto g = torch::autograd::grad({y}, {xr, bn->weight}, {dy}, true, /*create_graph=*/true);
    return torch::autograd::grad({(g[0] * v).sum() + g[1].square().sum()}, {xr, bn->weight});
  };
  torch::nn::BatchNorm2d reference = affine_layer(16, 0.1), ours = copy_of(reference);
  const auto expected = penalty_gradients(reference, false);
  const auto got = penalty_gradients(ours, true);
  for (size_t i = 0; i < 2; ++i)
    EXPECT_TRUE(at::allclose(got[i], expected[i], 1e-4, 1e-4))
        << i << ": " << (got[i] - expected[i]).abs().max().item<double>();
}

// Outside training, and on contiguous input, the layer's own forward runs.
TEST(AffineBatchNorm, EvaluationAndContiguousInputTakeTheLayersForward) {
  at::manual_seed(24);
  KernelCalls calls;
  const int before = KernelCalls::forward_;
  torch::nn::BatchNorm2d bn = affine_layer(16, 0.1);
  batch_norm(bn, at::randn({4, 16, 5, 5}));  // contiguous
  bn->eval();
  batch_norm(bn, at::randn({4, 16, 5, 5}).contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_EQ(KernelCalls::forward_, before);
}

}  // namespace
}  // namespace nasx
