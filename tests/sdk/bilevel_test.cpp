#include "nasx/bilevel.hpp"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "nasx/optim.hpp"
#include "tiny_supernet.hpp"

namespace nasx {
namespace {

using Tensors = std::vector<at::Tensor>;
using testing::make_tiny_supernet;
using testing::relative_error;

at::Tensor flat(const Tensors& tensors) {
  Tensors parts;
  for (const auto& t : tensors) parts.push_back(t.reshape({-1}));
  return at::cat(parts);
}

/// ∇α [ (∇w L_train(w, α)) · v ] by double backward: the exact mixed Hessian-vector product.
Tensors exact_hvp(Supernet& net, const Batch& train, const Tensors& v) {
  const Tensors weights = net.weight_parameters();
  const at::Tensor loss = supernet_loss(net, train);
  const Tensors grads = torch::autograd::grad({loss}, weights, {}, true, true, true);
  at::Tensor dot = at::zeros({}, loss.options());
  for (size_t i = 0; i < grads.size(); ++i)
    if (grads[i].defined()) dot = dot + (grads[i] * v[i]).sum();
  return torch::autograd::grad({dot}, net.arch_parameters());
}

/// The architecture parameters as one vector, and a way to set entry k.
void add_to_alpha(Supernet& net, int64_t k, double delta) {
  at::NoGradGuard no_grad;
  for (auto& alpha : net.arch_parameters()) {
    if (k < alpha.numel()) {
      alpha.view({-1})[k] += delta;
      return;
    }
    k -= alpha.numel();
  }
}

double loss_value(Supernet& net, const Batch& batch) {
  at::NoGradGuard no_grad;
  return supernet_loss(net, batch).item<double>();
}

TEST(FiniteDifferenceHvp, MatchesTheExactHessianVectorProduct) {
  auto tiny = make_tiny_supernet(11);
  Tensors v;
  for (const auto& w : tiny.net->weight_parameters()) v.push_back(at::randn_like(w));
  const Tensors exact = exact_hvp(*tiny.net, tiny.train, v);
  // A small step: ReLU and max pooling make the gradient piecewise smooth, and a
  // central difference that straddles a kink is off by (jump / 2R). In float64 a
  // step this small crosses none and still leaves round-off far below tolerance.
  const Tensors approx = finite_difference_hvp(*tiny.net, tiny.train, v, 1e-6);
  const double error = relative_error(flat(approx), flat(exact));
  EXPECT_LT(error, 1e-4) << "finite-difference HVP is off by " << error;
  // Dividing by 2 and then multiplying by R (a bug copied into several
  // codebases) would be off by a factor 1/R^2, far outside this tolerance.
}

TEST(FiniteDifferenceHvp, RestoresTheWeightsExactly) {
  auto tiny = make_tiny_supernet(12);
  Tensors before;
  for (const auto& w : tiny.net->weight_parameters()) before.push_back(w.detach().clone());
  Tensors v;
  for (const auto& w : tiny.net->weight_parameters()) v.push_back(at::randn_like(w));
  finite_difference_hvp(*tiny.net, tiny.train, v, 0.01);
  const Tensors after = tiny.net->weight_parameters();
  for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(at::equal(after[i], before[i])) << i;
}

TEST(FirstOrderArchGradient, MatchesCentralDifferencesOfTheValidationLoss) {
  auto tiny = make_tiny_supernet(13);
  Supernet& net = *tiny.net;
  first_order_arch_gradient(net, tiny.search);
  Tensors grads;
  for (const auto& alpha : net.arch_parameters()) grads.push_back(alpha.grad().clone());
  const at::Tensor analytic = flat(grads);
  at::Tensor numeric = at::zeros_like(analytic);
  const double eps = 1e-6;
  for (int64_t k = 0; k < analytic.numel(); ++k) {
    add_to_alpha(net, k, eps);
    const double plus = loss_value(net, tiny.search);
    add_to_alpha(net, k, -2 * eps);
    const double minus = loss_value(net, tiny.search);
    add_to_alpha(net, k, eps);
    numeric[k] = (plus - minus) / (2 * eps);
  }
  EXPECT_LT(relative_error(analytic, numeric), 1e-5);
  // `none` columns have a gradient too (through the softmax), though the op is skipped.
  EXPECT_GT(grads[0].select(1, 0).abs().sum().item<double>(), 0.0);
}

TEST(SecondOrderArchGradient, MatchesCentralDifferencesOfTheUnrolledObjective) {
  auto tiny = make_tiny_supernet(14);
  Supernet& net = *tiny.net;
  SgdOptions sgd;
  sgd.lr = 0.05;
  sgd.weight_decay = 3e-3;
  WeightOptimizer optimizer(net.weight_parameters(), sgd);
  weight_step(net, optimizer, tiny.train);  // non-zero momentum buffers
  const double xi = optimizer.lr();

  second_order_arch_gradient(net, tiny.train, tiny.search, optimizer, 1e-6);
  Tensors grads;
  for (const auto& alpha : net.arch_parameters()) grads.push_back(alpha.grad().clone());
  const at::Tensor analytic = flat(grads);

  // U(α) = L_val(w − ξ(μ m + ∇w L_train(w, α) + λ w), α), written out directly.
  const Tensors weights = net.weight_parameters();
  auto unrolled_objective = [&]() {
    Tensors saved;
    for (const auto& w : weights) saved.push_back(w.detach().clone());
    const Tensors g =
        torch::autograd::grad({supernet_loss(net, tiny.train)}, weights, {}, false, false, true);
    {
      at::NoGradGuard no_grad;
      for (size_t i = 0; i < weights.size(); ++i) {
        at::Tensor gi = g[i].defined() ? g[i] : at::zeros_like(saved[i]);
        weights[i].copy_(saved[i] - xi * (sgd.momentum * optimizer.momentum_buffers()[i] + gi +
                                          sgd.weight_decay * saved[i]));
      }
    }
    const double value = loss_value(net, tiny.search);
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < weights.size(); ++i) weights[i].copy_(saved[i]);
    return value;
  };
  const double eps = 1e-6;
  std::vector<double> numeric, picked;
  for (int64_t k = 0; k < analytic.numel(); k += 7) {
    add_to_alpha(net, k, eps);
    const double plus = unrolled_objective();
    add_to_alpha(net, k, -2 * eps);
    const double minus = unrolled_objective();
    add_to_alpha(net, k, eps);
    numeric.push_back((plus - minus) / (2 * eps));
    picked.push_back(analytic[k].item<double>());
  }
  const at::Tensor expected = at::tensor(numeric, at::kDouble);
  const at::Tensor actual = at::tensor(picked, at::kDouble);
  EXPECT_LT(relative_error(actual, expected), 1e-3);

  // And the implicit term is not negligible here, so the test can tell first from second order.
  first_order_arch_gradient(net, tiny.search);
  Tensors first;
  for (const auto& alpha : net.arch_parameters()) first.push_back(alpha.grad().clone());
  EXPECT_GT(relative_error(flat(first), analytic), 1e-2);
}

TEST(SecondOrderArchGradient, LeavesWeightsAndMomentumUntouched) {
  auto tiny = make_tiny_supernet(15);
  WeightOptimizer optimizer(tiny.net->weight_parameters(), SgdOptions{});
  weight_step(*tiny.net, optimizer, tiny.train);
  Tensors before, momentum_before;
  for (const auto& w : tiny.net->weight_parameters()) before.push_back(w.detach().clone());
  for (const auto& m : optimizer.momentum_buffers()) momentum_before.push_back(m.clone());
  second_order_arch_gradient(*tiny.net, tiny.train, tiny.search, optimizer);
  const Tensors after = tiny.net->weight_parameters();
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(at::equal(after[i], before[i])) << i;
    EXPECT_TRUE(at::equal(optimizer.momentum_buffers()[i], momentum_before[i])) << i;
  }
}

}  // namespace
}  // namespace nasx

namespace nasx {
namespace {

TEST(MixedLevelArchGradient, IsTheTrainPlusLambdaValGradientByCentralDifferences) {
  auto tiny = testing::make_tiny_supernet(16);
  Supernet& net = *tiny.net;
  const double lambda = 0.7;
  Tensors before;
  for (const auto& w : net.weight_parameters()) before.push_back(w.detach().clone());
  mixed_level_arch_gradient(net, tiny.train, tiny.search, lambda);
  Tensors grads;
  for (const auto& alpha : net.arch_parameters()) grads.push_back(alpha.grad().clone());
  const at::Tensor analytic = flat(grads);
  // Smaller than elsewhere: with two losses, a 1e-6 step straddles a ReLU or
  // max-pool kink for one entry of this net (seen: 1e-4 relative error).
  const double eps = 1e-7;
  at::Tensor numeric = at::zeros_like(analytic);
  auto objective = [&] {
    return loss_value(net, tiny.train) + lambda * loss_value(net, tiny.search);
  };
  for (int64_t k = 0; k < analytic.numel(); k += 3) {
    add_to_alpha(net, k, eps);
    const double plus = objective();
    add_to_alpha(net, k, -2 * eps);
    const double minus = objective();
    add_to_alpha(net, k, eps);
    numeric[k] = (plus - minus) / (2 * eps);
  }
  const at::Tensor picked = at::arange(0, analytic.numel(), 3, at::kLong);
  EXPECT_LT(
      testing::relative_error(analytic.index_select(0, picked), numeric.index_select(0, picked)),
      1e-5);
  // The α step leaves the weights alone, and calling it twice does not accumulate.
  const Tensors after = net.weight_parameters();
  for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(at::equal(after[i], before[i]));
  mixed_level_arch_gradient(net, tiny.train, tiny.search, lambda);
  Tensors again;
  for (const auto& alpha : net.arch_parameters()) again.push_back(alpha.grad().clone());
  EXPECT_TRUE(at::allclose(flat(again), analytic, 1e-12, 1e-12));
}

TEST(MixedLevelArchGradient, LambdaZeroIsTheSingleLevelTrainGradient) {
  auto tiny = testing::make_tiny_supernet(17);
  mixed_level_arch_gradient(*tiny.net, tiny.train, tiny.search, 0.0);
  Tensors mixed;
  for (const auto& alpha : tiny.net->arch_parameters()) mixed.push_back(alpha.grad().clone());
  first_order_arch_gradient(*tiny.net, tiny.train);  // ∇α L on the train batch
  Tensors train;
  for (const auto& alpha : tiny.net->arch_parameters()) train.push_back(alpha.grad().clone());
  EXPECT_TRUE(at::allclose(flat(mixed), flat(train), 1e-12, 1e-12));
}

}  // namespace
}  // namespace nasx
