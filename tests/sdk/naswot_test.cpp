#include "nasx/naswot.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

#include "nasx/error.hpp"
#include "nasx/probe.hpp"
#include "nasx/space.hpp"
#include "nb201/network.hpp"

namespace nasx {
namespace {

/// Linear(2->2, weight I) -> ReLU [-> Linear(2->1, weight (1, 1)) -> ReLU], no biases:
/// the networks of naswot.md's worked examples.
class TinyNet final : public Network {
 public:
  explicit TinyNet(bool second_layer, int relu_calls_on_first = 1)
      : first_(register_module("first",
                               torch::nn::Linear(torch::nn::LinearOptions(2, 2).bias(false)))),
        second_(register_module("second",
                                torch::nn::Linear(torch::nn::LinearOptions(2, 1).bias(false)))),
        relu_(register_module("relu", torch::nn::ReLU())),
        second_layer_(second_layer),
        repeats_(relu_calls_on_first) {
    at::NoGradGuard no_grad;
    first_->weight.copy_(at::eye(2));
    second_->weight.fill_(1.0);
  }
  at::Tensor forward(const at::Tensor& x) override {
    at::Tensor h = first_(x);
    for (int i = 0; i < repeats_; ++i) h = relu_(h);  // one module, called repeats_ times
    return second_layer_ ? relu_(second_(h)) : h;
  }

 private:
  torch::nn::Linear first_, second_;
  torch::nn::ReLU relu_;
  bool second_layer_;
  int repeats_;
};

const at::Tensor kInputs = at::tensor({1.0f, 1.0f, 1.0f, -1.0f, -1.0f, -1.0f}).view({3, 2});

TEST(Naswot, OneReluLayerGivesTheWorkedKernelAndLog4) {
  TinyNet net(false);
  const NaswotKernel k = naswot_kernel(net, kInputs);
  // Codes 11, 10, 00.
  EXPECT_TRUE(at::equal(
      k.kernel,
      at::tensor({2.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0, 1.0, 2.0}, at::kDouble).view({3, 3})));
  EXPECT_EQ(k.relu_calls, 1);
  EXPECT_EQ(k.units, 2);
  EXPECT_NEAR(naswot_score(net, kInputs), std::log(4.0), 1e-12);
  EXPECT_NEAR(naswot_score(net, kInputs), 1.3862944, 1e-7);
}

TEST(Naswot, ASecondLayerAddsItsBitsAndGivesLog12) {
  TinyNet net(true);
  // Second pre-activations 2, 1, 0: bits 1, 1, 0 (0 counts as inactive).
  const NaswotKernel k = naswot_kernel(net, kInputs);
  EXPECT_TRUE(at::equal(
      k.kernel,
      at::tensor({3.0, 2.0, 0.0, 2.0, 3.0, 1.0, 0.0, 1.0, 3.0}, at::kDouble).view({3, 3})));
  EXPECT_NEAR(naswot_score(net, kInputs), std::log(12.0), 1e-12);
  EXPECT_NEAR(naswot_score(net, kInputs), 2.4849066, 1e-7);
}

TEST(Naswot, AReluModuleCalledTwiceCountsTwice) {
  TinyNet net(false, 2);
  const NaswotKernel k = naswot_kernel(net, kInputs);
  EXPECT_EQ(k.relu_calls, 2);
  // The second call sees relu(x) (codes 11, 10, 00 again): the kernel doubles.
  EXPECT_TRUE(at::equal(
      k.kernel,
      2 * at::tensor({2.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0, 1.0, 2.0}, at::kDouble).view({3, 3})));
  EXPECT_NEAR(naswot_score(net, kInputs), std::log(4.0 * 8.0), 1e-12);
}

TEST(Naswot, ADuplicatedInputMakesTheKernelSingular) {
  TinyNet net(true);
  const at::Tensor inputs = at::tensor({1.0f, 1.0f, 1.0f, 1.0f, -1.0f, -1.0f}).view({3, 2});
  EXPECT_EQ(naswot_score(net, inputs), -std::numeric_limits<double>::infinity());
}

TEST(Naswot, ANetworkWithoutReluIsAClearError) {
  class Linear final : public Network {
   public:
    at::Tensor forward(const at::Tensor& x) override { return x * 2; }
  } net;
  try {
    naswot_score(net, kInputs);
    FAIL() << "scored a network with no ReLU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("runs no ReLU"), std::string::npos) << e.what();
  }
}

/// A real NB201 network (C = 4, one cell per stage, 8x8 inputs), seeded.
std::shared_ptr<nb201::Network> small_nb201_network() {
  at::manual_seed(0);
  nb201::NetworkOptions options;
  options.channels = 4;
  options.cells_per_stage = 1;
  return std::make_shared<nb201::Network>(
      nb201::Arch::parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|"
                         "none~0|avg_pool_3x3~1|nor_conv_3x3~2|"),
      DataShape{1, 8, 8, 4}, options);
}

// On a real NB201 network the kernel is the agreement count (diagonal = N_A, symmetric),
// and the score is taken in training mode.
TEST(Naswot, Nb201KernelHasTheUnitCountOnItsDiagonalAndScoresInTrainingMode) {
  const auto network = small_nb201_network();
  nb201::Network& net = *network;
  net.eval();
  const at::Tensor images = at::randn({6, 1, 8, 8});
  net.train();
  const NaswotKernel k = naswot_kernel(net, images);
  EXPECT_GT(k.relu_calls, 3);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(k.kernel[i][i].item<double>(), double(k.units));
  EXPECT_TRUE(at::equal(k.kernel, k.kernel.t()));
  net.eval();
  const double score = naswot_score(net, images);
  EXPECT_FALSE(net.is_training());                             // mode restored
  EXPECT_NEAR(score, naswot_log_determinant(k.kernel), 1e-9);  // scored in training mode
}

// The same network's kernel from binary codes computed independently: every ReLU input
// collected, its signs as 0/1 codes, K = C C^T + (1 - C)(1 - C)^T by a float64 product
// (not the packed popcount), and N_A from the architecture: three convolutions per cell
// (each a ReLU on its input), two per residual block and the final ReLU.
TEST(Naswot, Nb201KernelEqualsIndependentlyComputedBinaryCodes) {
  const auto network = small_nb201_network();
  nb201::Network& net = *network;
  net.train();
  const at::Tensor images = at::randn({6, 1, 8, 8});
  std::vector<at::Tensor> codes;
  {
    at::NoGradGuard no_grad;
    ReluObserver observer([&](const at::Tensor& input) {
      codes.push_back(input.reshape({6, -1}).gt(0).to(at::kDouble));
    });
    net.forward(images);
  }
  const at::Tensor c = at::cat(codes, 1);
  const at::Tensor expected = c.mm(c.t()) + (1 - c).mm((1 - c).t());
  const NaswotKernel k = naswot_kernel(net, images);
  // Cells at C = 4 (8x8), 8 (4x4), 16 (2x2): 3 convolutions each; residual blocks
  // 4x8x8 -> 8x4x4 and 8x4x4 -> 16x2x2 (ReLUs on each block's input and middle); the
  // final ReLU on 16x2x2.
  const int64_t units = 3 * 4 * 64 + (4 * 64 + 8 * 16) + 3 * 8 * 16 + (8 * 16 + 16 * 4) +
                        3 * 16 * 4 + 16 * 4;
  EXPECT_EQ(k.relu_calls, 3 * 3 + 2 * 2 + 1);
  EXPECT_EQ(k.units, units);
  EXPECT_EQ(c.size(1), units);
  EXPECT_TRUE(at::equal(k.kernel, expected)) << k.kernel << expected;
  // Off the diagonal the codes differ somewhere (no two images alike), and agree somewhere.
  EXPECT_LT(k.kernel[0][1].item<double>(), static_cast<double>(units));
  EXPECT_GT(k.kernel[0][1].item<double>(), 0.0);
}

}  // namespace
}  // namespace nasx
