// nasx::batch_norm on one rank: a search network's layer (no affine parameters, training,
// on the way to a backward pass) keeps its output instead of its input. Pinned against
// LibTorch's own BatchNorm2d: output, running statistics, first and second derivatives;
// and that the input really is released.

#include <string>
#include <tuple>

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/intrusive_ptr.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn/modules/batchnorm.h>

#include "nasx/distributed.hpp"
#include "support/batch_norm_kernels.hpp"
#include "support/thread_count.hpp"

namespace nasx {
namespace {

torch::nn::BatchNorm2d search_layer(int64_t channels, at::ScalarType type) {
  torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(channels).affine(false));
  bn->to(type);
  return bn;
}

torch::nn::BatchNorm2d copy_of(const torch::nn::BatchNorm2d& bn) {
  return std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(bn->clone());
}

using Case = std::tuple<at::ScalarType, at::MemoryFormat>;

class OutputSavingBatchNorm : public ::testing::TestWithParam<Case> {};

TEST_P(OutputSavingBatchNorm, MatchesTheLayerForwardAndBackward) {
  const auto [type, format] = GetParam();
  at::manual_seed(3);
  // Far from zero mean and unit variance, so a formula that assumed either would show.
  const at::Tensor x = (at::randn({6, 8, 5, 7}, type) * 3 + 2).contiguous(format);
  const at::Tensor dy = at::randn({6, 8, 5, 7}, type).contiguous(format);
  torch::nn::BatchNorm2d reference = search_layer(8, type), ours = copy_of(reference);

  const at::Tensor xr = x.clone().requires_grad_(), xo = x.clone().requires_grad_();
  const at::Tensor yr = reference->forward(xr), yo = batch_norm(ours, xo);
  const at::Tensor gr = torch::autograd::grad({yr}, {xr}, {dy})[0];
  const at::Tensor go = torch::autograd::grad({yo}, {xo}, {dy})[0];

  const double tol = type == at::kDouble ? 1e-12 : 1e-5;
  EXPECT_TRUE(at::equal(yo, yr)) << "the same forward kernel";
  EXPECT_TRUE(yo.is_contiguous(format));
  EXPECT_TRUE(go.is_contiguous(format));
  EXPECT_TRUE(at::allclose(go, gr, tol, tol)) << (go - gr).abs().max().item<double>();
  EXPECT_TRUE(at::equal(ours->running_mean, reference->running_mean));
  EXPECT_TRUE(at::equal(ours->running_var, reference->running_var));
  EXPECT_EQ(ours->num_batches_tracked.item<int64_t>(), 1);
}

class OutputSavingBatchNormTwice : public ::testing::TestWithParam<at::MemoryFormat> {};

TEST_P(OutputSavingBatchNormTwice, SecondDerivativesMatchTheLayer) {
  const at::MemoryFormat format = GetParam();
  const at::ScalarType type = at::kDouble;
  at::manual_seed(4);
  const at::Tensor x = (at::randn({4, 3, 4, 5}, type) * 2 + 1).contiguous(format);
  const at::Tensor dy = at::randn({4, 3, 4, 5}, type).contiguous(format);
  const at::Tensor v = at::randn({4, 3, 4, 5}, type);
  // d/dx and d/d(dy) of Σ (dL/dx)·v (plus Σ (dL/dx)² so the product of two gradients
  // appears): what a gradient penalty or an exact hypergradient asks for.
  const auto penalty_gradient = [&](torch::nn::BatchNorm2d bn, bool ours) {
    const at::Tensor xr = x.clone().requires_grad_(), dyr = dy.clone().requires_grad_();
    const at::Tensor y = ours ? batch_norm(bn, xr) : bn->forward(xr);
    const at::Tensor gx = torch::autograd::grad({y}, {xr}, {dyr}, true, /*create_graph=*/true)[0];
    return torch::autograd::grad({(gx * v).sum() + gx.pow(2).sum()}, {xr, dyr});
  };
  torch::nn::BatchNorm2d reference = search_layer(3, type), ours = copy_of(reference);
  const auto expected = penalty_gradient(reference, false);
  const auto got = penalty_gradient(ours, true);
  EXPECT_TRUE(at::allclose(got[0], expected[0], 1e-10, 1e-10))
      << "through x: " << (got[0] - expected[0]).abs().max().item<double>();
  EXPECT_TRUE(at::allclose(got[1], expected[1], 1e-10, 1e-10)) << "through dy";
}

INSTANTIATE_TEST_SUITE_P(TypesAndLayouts, OutputSavingBatchNorm,
                         ::testing::Combine(::testing::Values(at::kFloat, at::kDouble),
                                            ::testing::Values(at::MemoryFormat::Contiguous,
                                                              at::MemoryFormat::ChannelsLast)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == at::kFloat ? "Float"
                                                                                    : "Double") +
                                  (std::get<1>(info.param) == at::MemoryFormat::ChannelsLast
                                       ? "ChannelsLast"
                                       : "Contiguous");
                         });

INSTANTIATE_TEST_SUITE_P(Layouts, OutputSavingBatchNormTwice,
                         ::testing::Values(at::MemoryFormat::Contiguous,
                                           at::MemoryFormat::ChannelsLast));

using test::KernelCalls;
using test::lib_torch_fuses_multiply_adds;

// The search layer on channels-last float tensors runs the SDK's own kernels (LibTorch's
// take the channels past a multiple of their vector width through partial loads, row by
// row): the same bits as LibTorch's, forward (output, statistics, running statistics at
// two momenta) and backward (the call the node made before), at channel counts around the
// kernels' vector of eight and their blocks of four vectors (59: a block, three vectors and
// three channels alone; 96: three blocks), with one and two threads (the statistics' sums
// are split by thread as LibTorch splits them).
TEST(OutputSavingBatchNorm, ChannelsLastFloatIsLibTorchsArithmeticBitForBit) {
  if (!lib_torch_fuses_multiply_adds()) GTEST_SKIP() << "LibTorch's own kernels run here";
  at::manual_seed(9);
  const auto cl = at::MemoryFormat::ChannelsLast;
  for (const int threads : {1, 2}) {
    const test::ThreadCount thread_count(threads);
    for (const double momentum : {0.1, 0.9})
      for (const int64_t channels : {2, 3, 8, 13, 16, 24, 40, 59, 96})
        for (const auto& shape : {std::vector<int64_t>{6, channels, 5, 7},
                                  {3, channels, 1, 1},
                                  {16, channels, 14, 14}}) {
          SCOPED_TRACE(testing::Message() << threads << " threads, momentum " << momentum << ", "
                                          << at::IntArrayRef(shape));
          const at::Tensor x = (at::randn(shape) * 3 + 2).contiguous(cl);
          const at::Tensor dy = at::randn(shape).contiguous(cl);
          torch::nn::BatchNorm2d reference(
              torch::nn::BatchNorm2dOptions(channels).affine(false).momentum(momentum));
          {
            const at::NoGradGuard no_grad;
            reference->running_mean.uniform_(-1, 1);
            reference->running_var.uniform_(0.5, 2);
          }
          torch::nn::BatchNorm2d ours = copy_of(reference);
          const auto [y_expected, mean, invstd] = at::native_batch_norm(
              x, {}, {}, reference->running_mean, reference->running_var, true, momentum, 1e-5);
          const at::Tensor xo = x.clone().requires_grad_();
          KernelCalls calls;
          const int forward_before = KernelCalls::forward_;
          const int backward_before = KernelCalls::backward_;
          const at::Tensor y = batch_norm(ours, xo);
          const at::Tensor gx = torch::autograd::grad({y}, {xo}, {dy})[0];
          const bool kernel = shape[2] * shape[3] > 1;  // [N, C, 1, 1] is both layouts
          EXPECT_EQ(KernelCalls::forward_ - forward_before, kernel ? 1 : 0);
          EXPECT_EQ(KernelCalls::backward_ - backward_before, kernel ? 1 : 0);
          EXPECT_TRUE(at::equal(y, y_expected));
          EXPECT_TRUE(y.is_contiguous(cl));
          EXPECT_TRUE(at::equal(ours->running_mean, reference->running_mean));
          EXPECT_TRUE(at::equal(ours->running_var, reference->running_var));
          const at::Tensor gx_expected = std::get<0>(at::native_batch_norm_backward(
              dy, y_expected, invstd, {}, {}, at::zeros_like(invstd), at::ones_like(invstd), true,
              1e-5, {true, false, false}));
          EXPECT_TRUE(at::equal(gx, gx_expected));
          EXPECT_TRUE(gx.is_contiguous(cl));
        }
  }
  // No more rows than threads: LibTorch's own path (it reduces otherwise there).
  const test::ThreadCount two(2);
  KernelCalls calls;
  const int before = KernelCalls::forward_;
  const at::Tensor x = at::randn({1, 8, 1, 2}).contiguous(cl);
  const at::Tensor y = batch_norm(search_layer(8, at::kFloat), x.clone().requires_grad_());
  EXPECT_EQ(KernelCalls::forward_, before);
  EXPECT_TRUE(at::allclose(y, at::batch_norm(x, {}, {}, {}, {}, true, 0.1, 1e-5, false)));
}

// A gradient in another layout than the output's takes LibTorch's backward kernel, as
// before the SDK's own; the same values either way.
TEST(OutputSavingBatchNorm, AGradientInAnotherLayoutTakesLibTorchsBackward) {
  if (!lib_torch_fuses_multiply_adds()) GTEST_SKIP() << "LibTorch's own kernels run here";
  at::manual_seed(10);
  const auto cl = at::MemoryFormat::ChannelsLast;
  const at::Tensor x = (at::randn({4, 8, 6, 6}) * 2 + 1).contiguous(cl).requires_grad_();
  const at::Tensor dy = at::randn({4, 8, 6, 6});  // contiguous
  KernelCalls calls;
  const int before = KernelCalls::backward_;
  const at::Tensor y = batch_norm(search_layer(8, at::kFloat), x);
  const at::Tensor by_lib_torch = torch::autograd::grad({y}, {x}, {dy}, /*retain_graph=*/true)[0];
  EXPECT_EQ(KernelCalls::backward_, before);
  const at::Tensor by_sdk = torch::autograd::grad({y}, {x}, {dy.contiguous(cl)})[0];
  EXPECT_EQ(KernelCalls::backward_, before + 1);
  EXPECT_TRUE(at::allclose(by_sdk, by_lib_torch, 1e-5, 1e-5));
}

// A second derivative through the float channels-last forward (the SDK's kernel) and the
// differentiable backward: the layer's, to float precision.
TEST(OutputSavingBatchNorm, FloatChannelsLastSecondDerivativesMatchTheLayer) {
  at::manual_seed(11);
  const auto cl = at::MemoryFormat::ChannelsLast;
  const at::Tensor x = (at::randn({4, 8, 5, 6}) * 2 + 1).contiguous(cl);
  const at::Tensor dy = at::randn({4, 8, 5, 6}).contiguous(cl);
  const at::Tensor v = at::randn({4, 8, 5, 6});
  const auto penalty_gradient = [&](torch::nn::BatchNorm2d bn, bool ours) {
    const at::Tensor xr = x.clone().requires_grad_();
    const at::Tensor y = ours ? batch_norm(bn, xr) : bn->forward(xr);
    const at::Tensor gx = torch::autograd::grad({y}, {xr}, {dy}, true, /*create_graph=*/true)[0];
    return torch::autograd::grad({(gx * v).sum()}, {xr})[0];
  };
  torch::nn::BatchNorm2d reference = search_layer(8, at::kFloat), ours = copy_of(reference);
  const at::Tensor expected = penalty_gradient(reference, false);
  const at::Tensor got = penalty_gradient(ours, true);
  EXPECT_TRUE(at::allclose(got, expected, 1e-4, 1e-4))
      << (got - expected).abs().max().item<double>();
}

// The point of the layer: once the forward pass has moved on, nothing holds its input.
// LibTorch's layer keeps it (saved for its backward) — the same check on it must fail.
TEST(OutputSavingBatchNorm, ReleasesItsInputAfterTheForwardPass) {
  const auto input_outlives_forward = [](bool ours) {
    torch::nn::BatchNorm2d bn = search_layer(4, at::kFloat);
    const at::Tensor w = at::randn({4, 4, 1, 1}).requires_grad_();
    at::Tensor y;
    // The layer's input as in a network: an intermediate result, not a leaf.
    const auto input = [&] {
      const at::Tensor x = at::conv2d(at::randn({2, 4, 6, 6}), w);
      y = ours ? batch_norm(bn, x) : bn->forward(x);
      return x.storage().getWeakStorageImpl();
    }();
    const bool alive = !input.expired();
    y.sum().backward();  // and the backward still works without it
    EXPECT_TRUE(w.grad().defined());
    return alive;
  };
  EXPECT_TRUE(input_outlives_forward(false)) << "LibTorch's layer saves its input";
  EXPECT_FALSE(input_outlives_forward(true));
}

// What docs/plugins.md tells space authors: the kept output must stay as it was; an
// in-place change to it is refused at the backward pass, not silently wrong.
TEST(OutputSavingBatchNorm, AnInPlaceChangeToTheOutputIsRefusedAtTheBackward) {
  torch::nn::BatchNorm2d bn = search_layer(4, at::kFloat);
  const at::Tensor x = at::randn({3, 4, 5, 5}).requires_grad_();
  const at::Tensor y = batch_norm(bn, x);
  y.relu_();
  EXPECT_THROW(y.sum().backward(), c10::Error);
}

bool keeps_output(const at::Tensor& y) {
  return y.grad_fn() && y.grad_fn()->name().find("OutputSavingBatchNorm") != std::string::npos;
}

// Only a search network's layer on the way to a backward pass takes the new path; every
// other layer (affine, evaluation, no running statistics or a cumulative average, nothing
// to differentiate) is the layer's own forward, as before.
TEST(OutputSavingBatchNorm, OnlyASearchLayerInTrainingOnTheWayToABackwardPassTakesIt) {
  const at::Tensor x = at::randn({3, 4, 5, 5}).requires_grad_();
  using Options = torch::nn::BatchNorm2dOptions;
  EXPECT_TRUE(keeps_output(batch_norm(torch::nn::BatchNorm2d(Options(4).affine(false)), x)));
  EXPECT_FALSE(keeps_output(batch_norm(torch::nn::BatchNorm2d(Options(4).affine(true)), x)));
  torch::nn::BatchNorm2d evaluating(Options(4).affine(false));
  evaluating->eval();
  EXPECT_FALSE(keeps_output(batch_norm(evaluating, x)));
  EXPECT_FALSE(keeps_output(
      batch_norm(torch::nn::BatchNorm2d(Options(4).affine(false).track_running_stats(false)), x)));
  torch::nn::BatchNorm2d cumulative(Options(4).affine(false).momentum(c10::nullopt));
  const at::Tensor y = batch_norm(cumulative, x);
  EXPECT_FALSE(keeps_output(y));
  EXPECT_EQ(cumulative->num_batches_tracked.item<int64_t>(), 1) << "the layer counted it";
  const at::Tensor constant = x.detach();
  EXPECT_FALSE(batch_norm(torch::nn::BatchNorm2d(Options(4).affine(false)), constant).grad_fn());
  {
    const at::NoGradGuard no_grad;
    EXPECT_FALSE(batch_norm(torch::nn::BatchNorm2d(Options(4).affine(false)), x).grad_fn());
  }
}

// A grouped edge's copy (copies > 1): the layer's block of running statistics alone moves,
// as a layer of that block's channels would; the gradient is that layer's.
TEST(OutputSavingBatchNorm, ACopyUpdatesItsBlockOfTheRunningStatisticsAlone) {
  at::manual_seed(6);
  const at::Tensor x = (at::randn({4, 3, 5, 5}, at::kDouble) * 2 + 1);
  const at::Tensor dy = at::randn({4, 3, 5, 5}, at::kDouble);
  torch::nn::BatchNorm2d grouped = search_layer(9, at::kDouble);  // three copies of 3
  torch::nn::BatchNorm2d alone = search_layer(3, at::kDouble);
  const at::Tensor xg = x.clone().requires_grad_(), xa = x.clone().requires_grad_();
  const at::Tensor yg = batch_norm(grouped, xg, /*copy=*/1, /*copies=*/3);
  EXPECT_TRUE(keeps_output(yg));
  const at::Tensor ya = alone->forward(xa);
  EXPECT_TRUE(at::allclose(yg, ya, 1e-12, 1e-12));
  const at::Tensor gg = torch::autograd::grad({yg}, {xg}, {dy})[0];
  const at::Tensor ga = torch::autograd::grad({ya}, {xa}, {dy})[0];
  EXPECT_TRUE(at::allclose(gg, ga, 1e-12, 1e-12));
  EXPECT_TRUE(at::allclose(grouped->running_mean.narrow(0, 3, 3), alone->running_mean));
  EXPECT_TRUE(at::allclose(grouped->running_var.narrow(0, 3, 3), alone->running_var));
  EXPECT_TRUE(at::equal(grouped->running_mean.narrow(0, 0, 3), at::zeros({3}, at::kDouble)));
  EXPECT_TRUE(at::equal(grouped->running_var.narrow(0, 6, 3), at::ones({3}, at::kDouble)));
}

}  // namespace
}  // namespace nasx
