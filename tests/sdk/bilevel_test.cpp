#include "nasx/bilevel.hpp"

#include <functional>

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "nasx/optim.hpp"
#include "support/tiny_supernet.hpp"

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

/// The architecture parameters' current .grad, as one vector.
at::Tensor arch_gradient(Supernet& net) {
  Tensors grads;
  for (const auto& alpha : net.arch_parameters()) grads.push_back(alpha.grad().clone());
  return flat(grads);
}

/// Entries 0, stride, 2*stride, ... of a vector.
at::Tensor every(const at::Tensor& vector, int64_t stride) {
  return vector.index_select(0, at::arange(0, vector.numel(), stride, at::kLong));
}

/// d objective / d alpha_k by central differences, for k = 0, stride, 2*stride, ...
/// (the objective reads the supernet's current alphas).
at::Tensor central_differences(Supernet& net, const std::function<double()>& objective, double eps,
                               int64_t stride) {
  int64_t count = 0;
  for (const auto& alpha : net.arch_parameters()) count += alpha.numel();
  std::vector<double> slopes;
  for (int64_t k = 0; k < count; k += stride) {
    add_to_alpha(net, k, eps);
    const double plus = objective();
    add_to_alpha(net, k, -2 * eps);
    const double minus = objective();
    add_to_alpha(net, k, eps);
    slopes.push_back((plus - minus) / (2 * eps));
  }
  return at::tensor(slopes, at::kDouble);
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
  const at::Tensor analytic = arch_gradient(net);
  const at::Tensor numeric = central_differences(
      net, [&] { return loss_value(net, tiny.search); }, 1e-6, 1);
  EXPECT_LT(relative_error(analytic, numeric), 1e-5);
  // `none` columns have a gradient too (through the softmax), though the op is skipped.
  const at::Tensor normal = analytic.narrow(0, 0, 14 * 8).view({14, 8});
  EXPECT_GT(normal.select(1, 0).abs().sum().item<double>(), 0.0);
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
  const at::Tensor analytic = arch_gradient(net);

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
  const at::Tensor numeric = central_differences(net, unrolled_objective, 1e-6, 7);
  EXPECT_LT(relative_error(every(analytic, 7), numeric), 1e-3);

  // And the implicit term is not negligible here, so the test can tell first from second order.
  first_order_arch_gradient(net, tiny.search);
  EXPECT_GT(relative_error(arch_gradient(net), analytic), 1e-2);
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

TEST(MixedLevelArchGradient, IsTheTrainPlusLambdaValGradientByCentralDifferences) {
  auto tiny = make_tiny_supernet(16);
  Supernet& net = *tiny.net;
  const double lambda = 0.7;
  Tensors before;
  for (const auto& w : net.weight_parameters()) before.push_back(w.detach().clone());
  mixed_level_arch_gradient(net, tiny.train, tiny.search, lambda);
  const at::Tensor analytic = arch_gradient(net);
  // A smaller step than elsewhere: with two losses, a 1e-6 step straddles a ReLU or
  // max-pool kink for one entry of this net (seen: 1e-4 relative error).
  const at::Tensor numeric = central_differences(
      net, [&] { return loss_value(net, tiny.train) + lambda * loss_value(net, tiny.search); },
      1e-7, 3);
  EXPECT_LT(relative_error(every(analytic, 3), numeric), 1e-5);
  // The α step leaves the weights alone, and calling it twice does not accumulate.
  const Tensors after = net.weight_parameters();
  for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(at::equal(after[i], before[i]));
  mixed_level_arch_gradient(net, tiny.train, tiny.search, lambda);
  EXPECT_TRUE(at::allclose(arch_gradient(net), analytic, 1e-12, 1e-12));
}

TEST(MixedLevelArchGradient, LambdaZeroIsTheSingleLevelTrainGradient) {
  auto tiny = make_tiny_supernet(17);
  mixed_level_arch_gradient(*tiny.net, tiny.train, tiny.search, 0.0);
  const at::Tensor mixed = arch_gradient(*tiny.net);
  first_order_arch_gradient(*tiny.net, tiny.train);  // ∇α L on the train batch
  EXPECT_TRUE(at::allclose(mixed, arch_gradient(*tiny.net), 1e-12, 1e-12));
}

// NA-DARTS: the neighbourhood-aware validation loss and its gradient.

/// L_val at the weights of one member (-1: p itself), in a fresh graph.
at::Tensor member_loss(Supernet& net, const Batch& batch, const std::vector<NeighbourMove>& moves,
                       int64_t member) {
  std::vector<at::Tensor> weights = net.arch_weights();
  if (member >= 0) weights = neighbour_weights(weights, moves[static_cast<size_t>(member)]);
  const at::Tensor logits = net.forward_with_weights(batch.images, weights);
  return at::nll_loss(at::log_softmax(logits, 1), batch.labels);
}

at::Tensor member_gradient(Supernet& net, const Batch& batch,
                           const std::vector<NeighbourMove>& moves, int64_t member) {
  const Tensors alphas = net.arch_parameters();
  Tensors grads = torch::autograd::grad({member_loss(net, batch, moves, member)}, alphas);
  Tensors flat;
  for (const auto& g : grads) flat.push_back(g.reshape({-1}));
  return at::cat(flat);
}

const std::vector<NeighbourMove> kMoves = {{0, 3, 4}, {1, 7, 3}, {0, 12, 1}};

TEST(NeighbourWeights, MoveTheStrongestWeightOfOneEdgeOntoTheChosenOperation) {
  auto tiny = make_tiny_supernet(21);
  const auto p = tiny.net->arch_weights();
  for (const auto& move : kMoves) {
    const auto q = neighbour_weights(p, move);
    for (size_t c = 0; c < p.size(); ++c)
      for (int64_t e = 0; e < p[c].size(0); ++e) {
        const bool moved = static_cast<int64_t>(c) == move.cell && e == move.edge;
        EXPECT_EQ(at::equal(q[c][e], p[c][e]), !moved) << c << "," << e;
        if (!moved) continue;
        EXPECT_NEAR(q[c][e].sum().item<double>(), 1.0, 1e-12);
        EXPECT_EQ(q[c][e].argmax().item<int64_t>(), move.op);
        const int64_t best = p[c][e].argmax().item<int64_t>();
        EXPECT_NEAR(q[c][e][move.op].item<double>(),
                    (p[c][e][move.op] + p[c][e][best]).item<double>(), 1e-12);
        EXPECT_NEAR(q[c][e][best].item<double>(), 0.0, 1e-12);
      }
  }
}

TEST(NeighbourhoodArchGradient, MeanIsTheMeanOfTheMembersAndMatchesCentralDifferences) {
  auto tiny = make_tiny_supernet(22);
  Supernet& net = *tiny.net;
  const at::Tensor loss =
      neighbourhood_arch_gradient(net, tiny.search, kMoves, true, NeighbourAggregate::Mean);
  const at::Tensor analytic = arch_gradient(net);
  double mean_loss = 0;
  at::Tensor mean_grad;
  for (int64_t m = -1; m < 3; ++m) {
    mean_loss += member_loss(net, tiny.search, kMoves, m).item<double>() / 4;
    const at::Tensor g = member_gradient(net, tiny.search, kMoves, m) / 4;
    mean_grad = mean_grad.defined() ? mean_grad + g : g;
  }
  EXPECT_NEAR(loss.item<double>(), mean_loss, 1e-12);
  EXPECT_LT(relative_error(analytic, mean_grad), 1e-10);
  const at::Tensor numeric = central_differences(
      net,
      [&] {
        at::NoGradGuard no_grad;
        double sum = 0;
        for (int64_t m = -1; m < 3; ++m)
          sum += member_loss(net, tiny.search, kMoves, m).item<double>();
        return sum / 4;
      },
      1e-7, 3);
  EXPECT_LT(relative_error(every(analytic, 3), numeric), 1e-5);
}

TEST(NeighbourhoodArchGradient, SelfAloneIsDartsFirstOrder) {
  auto tiny = make_tiny_supernet(23);
  const at::Tensor loss =
      neighbourhood_arch_gradient(*tiny.net, tiny.search, {}, true, NeighbourAggregate::Mean);
  const at::Tensor na = arch_gradient(*tiny.net);
  const ForwardResult first = first_order_arch_gradient(*tiny.net, tiny.search);
  EXPECT_NEAR(loss.item<double>(), first.loss.item<double>(), 1e-12);
  EXPECT_TRUE(at::allclose(na, arch_gradient(*tiny.net), 1e-12, 1e-14));
}

TEST(NeighbourhoodArchGradient, WorstIsTheGradientOfTheWorstMemberAlone) {
  auto tiny = make_tiny_supernet(24);
  Supernet& net = *tiny.net;
  const at::Tensor loss =
      neighbourhood_arch_gradient(net, tiny.search, kMoves, false, NeighbourAggregate::Worst);
  const at::Tensor analytic = arch_gradient(net);
  int64_t worst = 0;
  std::vector<double> losses;
  for (int64_t m = 0; m < 3; ++m)
    losses.push_back(member_loss(net, tiny.search, kMoves, m).item<double>());
  for (int64_t m = 1; m < 3; ++m)
    if (losses[static_cast<size_t>(m)] > losses[static_cast<size_t>(worst)]) worst = m;
  EXPECT_NEAR(loss.item<double>(), losses[static_cast<size_t>(worst)], 1e-12);
  EXPECT_LT(relative_error(analytic, member_gradient(net, tiny.search, kMoves, worst)), 1e-10);
}

}  // namespace
}  // namespace nasx
