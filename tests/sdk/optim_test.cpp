#include "nasx/optim.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

namespace nasx {
namespace {

TEST(CosineLr, FollowsPyTorchCosineAnnealing) {
  EXPECT_DOUBLE_EQ(cosine_lr(0.025, 0.001, 0, 50), 0.025);
  EXPECT_NEAR(cosine_lr(0.025, 0.001, 25, 50), 0.013, 1e-12);
  EXPECT_NEAR(cosine_lr(0.025, 0.001, 50, 50), 0.001, 1e-12);
  EXPECT_NEAR(cosine_lr(0.1, 0.0, 10, 40), 0.05 * (1 + std::cos(M_PI / 4)), 1e-12);
}

TEST(CosineLr, WarmRestartsFollowPyTorchsClosedForm) {
  // CosineAnnealingWarmRestarts(T_0 = 10, T_mult = 2) stepped per epoch: epoch e lies in
  // cycle i = floor(log2(e / T_0 + 1)), T_cur = e - T_0 (2^i - 1), T_i = T_0 2^i.
  for (int64_t epoch = 0; epoch < 200; ++epoch) {
    const auto i = static_cast<int64_t>(std::floor(std::log2(epoch / 10.0 + 1)));
    const double t_cur = static_cast<double>(epoch) - 10.0 * (std::pow(2.0, i) - 1);
    const double t_i = 10.0 * std::pow(2.0, i);
    const double expected = 5e-4 + (0.05 - 5e-4) * (1 + std::cos(M_PI * t_cur / t_i)) / 2;
    EXPECT_NEAR(cosine_restarts_lr(0.05, 5e-4, epoch, 10, 2), expected, 1e-12) << epoch;
  }
  EXPECT_DOUBLE_EQ(cosine_restarts_lr(0.05, 5e-4, 30, 10, 2), 0.05);  // 10 + 20: a restart
  // The optimizer follows it when asked, and a single cosine otherwise.
  SgdOptions options;
  options.lr = 0.05;
  options.lr_min = 5e-4;
  options.epochs = 150;
  options.restart_period = 10;
  WeightOptimizer restarts({at::zeros({1})}, options);
  restarts.set_epoch(10);
  EXPECT_DOUBLE_EQ(restarts.lr(), 0.05);
  options.restart_period = 0;
  WeightOptimizer single({at::zeros({1})}, options);
  single.set_epoch(10);
  EXPECT_DOUBLE_EQ(single.lr(), cosine_lr(0.05, 5e-4, 10, 150));
}

TEST(WeightOptimizer, StepIsSgdWithMomentumAndWeightDecay) {
  at::Tensor w = at::tensor({1.0, -2.0}, at::kDouble).requires_grad_();
  SgdOptions options;
  options.lr = 0.1;
  options.momentum = 0.9;
  options.weight_decay = 0.01;
  options.grad_clip = 0;
  WeightOptimizer optimizer({w}, options);
  const at::Tensor g1 = at::tensor({0.5, 0.25}, at::kDouble);
  const at::Tensor g2 = at::tensor({-1.0, 2.0}, at::kDouble);
  // Expected, by hand: d = g + wd w; buf = 0.9 buf + d; w -= lr buf.
  at::Tensor expected_w = w.detach().clone();
  at::Tensor buf = at::zeros_like(expected_w);
  for (const auto& g : {g1, g2}) {
    w.mutable_grad() = g.clone();
    optimizer.step();
    buf = 0.9 * buf + (g + 0.01 * expected_w);
    expected_w = expected_w - 0.1 * buf;
  }
  EXPECT_TRUE(at::allclose(w.detach(), expected_w, 1e-14, 1e-14));
  EXPECT_TRUE(at::allclose(optimizer.momentum_buffers()[0], buf, 1e-14, 1e-14));
}

TEST(WeightOptimizer, ClipsTheTotalGradientNorm) {
  at::Tensor a = at::zeros({3}, at::kDouble).requires_grad_();
  at::Tensor b = at::zeros({1}, at::kDouble).requires_grad_();
  SgdOptions options;
  options.grad_clip = 1.0;
  WeightOptimizer optimizer({a, b}, options);
  a.mutable_grad() = at::tensor({3.0, 0.0, 0.0}, at::kDouble);
  b.mutable_grad() = at::tensor({4.0}, at::kDouble);
  const double norm = optimizer.clip_gradients().item<double>();
  EXPECT_DOUBLE_EQ(norm, 5.0);
  EXPECT_NEAR(a.grad()[0].item<double>(), 3.0 / 5.0, 1e-6);
  EXPECT_NEAR(b.grad()[0].item<double>(), 4.0 / 5.0, 1e-6);
  // Below the threshold nothing changes.
  a.mutable_grad() = at::tensor({0.3, 0.0, 0.0}, at::kDouble);
  b.mutable_grad() = at::tensor({0.4}, at::kDouble);
  optimizer.clip_gradients();
  EXPECT_DOUBLE_EQ(a.grad()[0].item<double>(), 0.3);
}

TEST(ArchOptimizer, StepIsAdamWithL2WeightDecay) {
  at::Tensor alpha = at::tensor({0.2, -0.1}, at::kDouble).requires_grad_();
  AdamOptions options;  // lr 3e-4, betas (0.5, 0.999), wd 1e-3: the DARTS defaults
  ArchOptimizer optimizer({alpha}, options);
  at::Tensor p = alpha.detach().clone(), m = at::zeros_like(p), v = at::zeros_like(p);
  for (int t = 1; t <= 3; ++t) {
    const at::Tensor g = at::tensor({0.5 * t, -0.25}, at::kDouble);
    alpha.mutable_grad() = g.clone();
    optimizer.step();
    const at::Tensor gd = g + 1e-3 * p;
    m = 0.5 * m + 0.5 * gd;
    v = 0.999 * v + 0.001 * gd * gd;
    const double bc1 = 1 - std::pow(0.5, t), bc2 = 1 - std::pow(0.999, t);
    p = p - 3e-4 * (m / bc1) / ((v / bc2).sqrt() + 1e-8);
  }
  EXPECT_TRUE(at::allclose(alpha.detach(), p, 1e-12, 1e-14));
}

TEST(Optimizers, SaveLoadThenStepContinuesTheSameTrajectory) {
  auto make = [] { return at::tensor({1.0, 2.0, 3.0}, at::kDouble).requires_grad_(); };
  at::Tensor w1 = make(), a1 = make();
  WeightOptimizer sgd1({w1}, SgdOptions{});
  ArchOptimizer adam1({a1}, AdamOptions{});
  auto grad = [](int t) { return at::tensor({0.1 * t, -0.2, 0.3}, at::kDouble); };
  for (int t = 1; t <= 2; ++t) {
    w1.mutable_grad() = grad(t);
    a1.mutable_grad() = grad(t);
    sgd1.step();
    adam1.step();
  }
  torch::serialize::OutputArchive out_sgd, out_adam;
  sgd1.save(out_sgd);
  adam1.save(out_adam);
  std::stringstream sgd_bytes, adam_bytes;
  out_sgd.save_to(sgd_bytes);
  out_adam.save_to(adam_bytes);

  at::Tensor w2 = w1.detach().clone().requires_grad_(), a2 = a1.detach().clone().requires_grad_();
  WeightOptimizer sgd2({w2}, SgdOptions{});
  ArchOptimizer adam2({a2}, AdamOptions{});
  torch::serialize::InputArchive in_sgd, in_adam;
  in_sgd.load_from(sgd_bytes);
  in_adam.load_from(adam_bytes);
  sgd2.load(in_sgd);
  adam2.load(in_adam);
  EXPECT_EQ(adam2.steps_taken(), 2);
  for (int t = 3; t <= 4; ++t) {
    for (auto* w : {&w1, &w2}) w->mutable_grad() = grad(t);
    for (auto* a : {&a1, &a2}) a->mutable_grad() = grad(t);
    sgd1.step();
    sgd2.step();
    adam1.step();
    adam2.step();
  }
  EXPECT_TRUE(at::equal(w1.detach(), w2.detach()));
  EXPECT_TRUE(at::equal(a1.detach(), a2.detach()));
}

}  // namespace
}  // namespace nasx
