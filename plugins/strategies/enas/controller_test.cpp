// The ENAS controller: the REINFORCE gradient of a fixed sequence against central
// differences, the loss's form, valid and reproducible samples in both spaces, and a
// controller that learns a synthetic reward.

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "enas/controller.hpp"
#include "nasx/space.hpp"
#include "support/spaces.hpp"

namespace nasx::enas {
namespace {

std::unique_ptr<SearchSpace> space_named(const std::string& name) {
  SpaceOptions options;
  return testing::make_space(name, options);
}

class ControllerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ControllerTest, LogProbabilityGradientMatchesCentralDifferences) {
  const auto space = space_named(GetParam());
  at::manual_seed(0);
  Controller controller(*space, default_controller_options(*space));
  controller->to(at::kDouble);
  std::mt19937_64 rng(1);
  std::vector<int64_t> decisions;
  {
    at::NoGradGuard no_grad;
    decisions = controller->sample(rng).decisions;
  }
  const auto params = controller->parameters();
  const ControllerSample sample = controller->replay(decisions);
  const auto grads = torch::autograd::grad({sample.log_prob}, params);
  // REINFORCE: d/dθ −(r − b) log π = −(r − b) d log π / dθ.
  const ControllerSample again = controller->replay(decisions);
  const auto loss_grads = torch::autograd::grad({reinforce_loss(again, 0.8, 0.3)}, params);
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(at::allclose(loss_grads[i], -(0.8 - 0.3) * grads[i], 1e-12, 1e-14));

  const double eps = 1e-6;
  int checked = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    at::Tensor flat = params[i].detach().view({-1});
    for (int64_t k = 0; k < flat.numel(); k += std::max<int64_t>(1, flat.numel() / 5)) {
      const double saved = flat[k].item<double>();
      double plus = 0, minus = 0;
      {
        at::NoGradGuard no_grad;
        flat[k] = saved + eps;
        plus = controller->replay(decisions).log_prob.item<double>();
        flat[k] = saved - eps;
        minus = controller->replay(decisions).log_prob.item<double>();
        flat[k] = saved;
      }
      const double numeric = (plus - minus) / (2 * eps);
      EXPECT_NEAR(grads[i].view({-1})[k].item<double>(), numeric, 1e-7 + 1e-5 * std::abs(numeric))
          << "parameter " << i << " entry " << k;
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
}

TEST_P(ControllerTest, SamplesAreValidAndTheSameSeedGivesTheSameSamples) {
  const auto space = space_named(GetParam());
  at::manual_seed(0);
  Controller controller(*space, default_controller_options(*space));
  std::mt19937_64 a(7), b(7);
  at::NoGradGuard no_grad;
  for (int i = 0; i < 50; ++i) {
    const ControllerSample x = controller->sample(a), y = controller->sample(b);
    EXPECT_NO_THROW(space->check(x.arch));
    EXPECT_EQ(x.arch, y.arch);
    EXPECT_EQ(static_cast<int64_t>(x.decisions.size()), controller->decisions_per_architecture());
    EXPECT_EQ(controller->replay(x.decisions).arch, x.arch);
  }
}

INSTANTIATE_TEST_SUITE_P(Spaces, ControllerTest, ::testing::Values("nb201", "darts"));

TEST(Controller, MicroControllerStartsFavouringSeparableConvolutionsInTheNormalCell) {
  // The reference's operation biases on the DARTS space: learned 10 (separable) / 0,
  // bounded by 0.44 tanh, then a fixed +0.25 / -0.25 in the normal cell only. With the
  // LSTM's small initial outputs the logits are about 0.44 + 0.25 for the 2 separable
  // convolutions and -0.25 for the 5 other operations in the normal cell, 0.44 and 0 in
  // the reduction cell; uniform choice would give 2/7 = 0.29.
  const auto space = space_named("darts");
  const std::vector<std::string>& names = space->operations();
  const auto expected_share = [](double separable, double other) {
    return 2 * std::exp(separable) / (2 * std::exp(separable) + 5 * std::exp(other));
  };
  const double tanh_10 = 0.44 * std::tanh(10.0);
  at::manual_seed(0);
  Controller controller(*space, default_controller_options(*space));
  std::mt19937_64 rng(3);
  at::NoGradGuard no_grad;
  double separable[2] = {0, 0}, edges[2] = {0, 0};
  for (int i = 0; i < 1500; ++i) {
    const Architecture arch = controller->sample(rng).arch;
    for (size_t c = 0; c < 2; ++c)
      for (int op : arch.cells[c]) {
        if (op == Architecture::kNoEdge) continue;
        edges[c] += 1;
        separable[c] += names[static_cast<size_t>(op)].rfind("sep_conv", 0) == 0;
      }
  }
  EXPECT_NEAR(separable[0] / edges[0], expected_share(tanh_10 + 0.25, -0.25), 0.03);
  EXPECT_NEAR(separable[1] / edges[1], expected_share(tanh_10, 0.0), 0.03);
  // NB201 (AutoDL's port) has no such biases.
  EXPECT_TRUE(default_controller_options(*space_named("nb201")).op_bias.empty());
}

TEST(Reinforce, ControllerLearnsWhichOperationPays) {
  const auto space = space_named("nb201");
  at::manual_seed(0);
  Controller controller(*space, default_controller_options(*space));
  ReinforceOptions options;
  options.lr = 0.02;
  options.entropy_weight = 0;
  options.samples_per_update = 10;
  Reinforce reinforce(controller, options);
  std::mt19937_64 rng(3);
  const int pays = 3;  // nor_conv_3x3 on edge 2 earns 1, anything else 0
  for (int i = 0; i < 3000; ++i) {
    const ControllerSample sample = controller->sample(rng);
    reinforce.add(sample, sample.arch.cells[0][2] == pays ? 1.0 : 0.0);
  }
  EXPECT_EQ(reinforce.updates(), 300);
  int hits = 0;
  at::NoGradGuard no_grad;
  for (int i = 0; i < 1000; ++i) hits += controller->sample(rng).arch.cells[0][2] == pays;
  EXPECT_GT(hits, 900);
}

}  // namespace
}  // namespace nasx::enas
