// nasx::batch_norm on an affine layer in training over channels-last floats (the trained
// networks' layers): the SDK's kernels, pinned against LibTorch's own BatchNorm2d bit for
// bit — output, running statistics, the input's, weight's and bias's gradients — and its
// second derivative.

#include <vector>

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn/modules/batchnorm.h>

#include "nasx/batch_norm_blocks.hpp"
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
        // 45 rows: slices of 23 and 22 on two threads.
        for (const auto& shape : {std::vector<int64_t>{6, channels, 5, 7},
                                  {5, channels, 3, 3},
                                  {16, channels, 14, 14}}) {
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

// Only what is asked for is computed, with the same bits: a frozen layer, the weight or
// the bias alone, and parameters only (the input an image, not a variable).
TEST(AffineBatchNorm, OnlyTheGradientsAskedForAreComputed) {
  if (!test::lib_torch_fuses_multiply_adds()) GTEST_SKIP() << "LibTorch's own kernels run here";
  at::manual_seed(22);
  const auto cl = at::MemoryFormat::ChannelsLast;
  const at::Tensor x = (at::randn({8, 16, 6, 6}) * 2 - 1).contiguous(cl);
  const at::Tensor dy = at::randn({8, 16, 6, 6}).contiguous(cl);
  struct Wanted {
    bool input, weight, bias;
  };
  for (const Wanted w : {Wanted{true, false, false}, Wanted{true, true, false},
                         Wanted{false, false, true}, Wanted{false, true, true}}) {
    SCOPED_TRACE(testing::Message()
                 << "input " << w.input << ", weight " << w.weight << ", bias " << w.bias);
    torch::nn::BatchNorm2d reference = affine_layer(16, 0.1), ours = copy_of(reference);
    auto wanted = [&](torch::nn::BatchNorm2d& bn, at::Tensor& input) {
      bn->weight.requires_grad_(w.weight);
      bn->bias.requires_grad_(w.bias);
      input = w.input ? x.clone().requires_grad_() : x;
      std::vector<at::Tensor> of;
      if (w.input) of.push_back(input);
      if (w.weight) of.push_back(bn->weight);
      if (w.bias) of.push_back(bn->bias);
      return of;
    };
    at::Tensor xr, xo;
    const auto of_reference = wanted(reference, xr);
    const auto expected = torch::autograd::grad({reference->forward(xr)}, of_reference, {dy});
    const auto of_ours = wanted(ours, xo);
    KernelCalls calls;
    const int backward_before = KernelCalls::backward_;
    const auto got = torch::autograd::grad({batch_norm(ours, xo)}, of_ours, {dy});
    EXPECT_EQ(KernelCalls::backward_ - backward_before, 1);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(at::equal(got[i], expected[i])) << i;
  }
}

// A gradient in another layout than the input's takes LibTorch's kernel for that layout,
// as the layer's own backward does: the same bits.
TEST(AffineBatchNorm, AGradientInAnotherLayoutTakesLibTorchsBackward) {
  if (!test::lib_torch_fuses_multiply_adds()) GTEST_SKIP() << "LibTorch's own kernels run here";
  at::manual_seed(25);
  const at::Tensor x = (at::randn({4, 16, 6, 6}) + 1).contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor dy = at::randn({4, 16, 6, 6});  // contiguous
  torch::nn::BatchNorm2d reference = affine_layer(16, 0.1), ours = copy_of(reference);
  const at::Tensor xr = x.clone().requires_grad_(), xo = x.clone().requires_grad_();
  const auto expected = torch::autograd::grad({reference->forward(xr)},
                                              {xr, reference->weight, reference->bias}, {dy});
  KernelCalls calls;
  const int backward_before = KernelCalls::backward_;
  const auto got =
      torch::autograd::grad({batch_norm(ours, xo)}, {xo, ours->weight, ours->bias}, {dy});
  EXPECT_EQ(KernelCalls::backward_, backward_before);
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(at::equal(got[i], expected[i])) << i;
}

// Layers normalised together (nasx::batch_norm_blocks, the evaluation networks' side by
// side convolutions): each layer's own output, statistics and gradients, bit for bit.
TEST(AffineBatchNorm, LayersNormalisedTogetherAreEachLayerBitForBit) {
  if (!test::lib_torch_fuses_multiply_adds()) GTEST_SKIP() << "LibTorch's own kernels run here";
  at::manual_seed(26);
  const auto cl = at::MemoryFormat::ChannelsLast;
  const at::Tensor x = (at::randn({6, 40, 7, 7}) * 2 + 1).contiguous(cl);
  const at::Tensor dy = at::randn({6, 40, 7, 7}).contiguous(cl);
  std::vector<torch::nn::BatchNorm2d> layers = {affine_layer(16, 0.1), affine_layer(24, 0.1)};
  std::vector<torch::nn::BatchNorm2d> alone = {copy_of(layers[0]), copy_of(layers[1])};
  const at::Tensor xt = x.clone().requires_grad_();
  KernelCalls calls;
  const int forward_before = KernelCalls::forward_;
  const at::Tensor together = batch_norm_blocks(layers, xt);
  EXPECT_EQ(KernelCalls::forward_ - forward_before, 1);
  const auto got = torch::autograd::grad(
      {together}, {xt, layers[0]->weight, layers[0]->bias, layers[1]->weight, layers[1]->bias},
      {dy});
  // Each layer on its own channels and their gradient, channels-last as the kernels see
  // them (narrowed views would take LibTorch's kernels for strided tensors, which round
  // otherwise).
  std::vector<at::Tensor> outputs, input_grads, want;
  for (size_t l = 0; l < 2; ++l) {
    const int64_t first = l == 0 ? 0 : 16, channels = l == 0 ? 16 : 24;
    const at::Tensor xl = x.narrow(1, first, channels).contiguous(cl).requires_grad_();
    outputs.push_back(alone[l]->forward(xl));
    const auto g = torch::autograd::grad({outputs.back()}, {xl, alone[l]->weight, alone[l]->bias},
                                         {dy.narrow(1, first, channels).contiguous(cl)});
    input_grads.push_back(g[0]);
    want.push_back(g[1]);
    want.push_back(g[2]);
  }
  want.insert(want.begin(), at::cat(input_grads, 1));
  EXPECT_TRUE(at::equal(together, at::cat(outputs, 1)));
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(at::equal(got[i], want[i])) << i;
  for (size_t l = 0; l < 2; ++l) {
    EXPECT_TRUE(at::equal(layers[l]->running_mean, alone[l]->running_mean)) << l;
    EXPECT_TRUE(at::equal(layers[l]->running_var, alone[l]->running_var)) << l;
    EXPECT_EQ(layers[l]->num_batches_tracked.item<int64_t>(), 1) << l;
  }
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
    const auto g = torch::autograd::grad({y}, {xr, bn->weight, bn->bias}, {dy}, true,
                                         /*create_graph=*/true);
    auto second = torch::autograd::grad({(g[0] * v).sum() + g[1].square().sum()}, {xr, bn->weight});
    second.push_back(g[2].detach());  // the bias's gradient, Σdy
    return second;
  };
  torch::nn::BatchNorm2d reference = affine_layer(16, 0.1), ours = copy_of(reference);
  const auto expected = penalty_gradients(reference, false);
  KernelCalls calls;
  const int forward_before = KernelCalls::forward_;
  const auto got = penalty_gradients(ours, true);
  if (test::lib_torch_fuses_multiply_adds()) {
    EXPECT_EQ(KernelCalls::forward_ - forward_before, 1);
  }
  for (size_t i = 0; i < 3; ++i)
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
