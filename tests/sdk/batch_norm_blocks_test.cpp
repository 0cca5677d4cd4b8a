// nasx::batch_norm_blocks: several BatchNorm layers on consecutive channel blocks in one
// call, against each layer on its own block (nasx::batch_norm) — outputs, running
// statistics, counters, and the gradients of the input and of affine parameters.

#include <tuple>

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn/modules/batchnorm.h>

#include "nasx/batch_norm_blocks.hpp"
#include "nasx/distributed.hpp"
#include "nasx/error.hpp"

namespace nasx {
namespace {

std::vector<torch::nn::BatchNorm2d> layers(const std::vector<int64_t>& channels, bool affine) {
  std::vector<torch::nn::BatchNorm2d> out;
  for (int64_t c : channels) {
    torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(c).affine(affine));
    if (affine) {
      at::NoGradGuard no_grad;
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.5, 0.5);
    }
    out.push_back(bn);
  }
  return out;
}

std::vector<torch::nn::BatchNorm2d> copies(const std::vector<torch::nn::BatchNorm2d>& from) {
  std::vector<torch::nn::BatchNorm2d> out;
  for (const auto& bn : from)
    out.push_back(std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(bn->clone()));
  return out;
}

/// Each layer on its own block, concatenated: what batch_norm_blocks must equal.
at::Tensor one_by_one(std::vector<torch::nn::BatchNorm2d>& bns, const at::Tensor& x) {
  std::vector<at::Tensor> parts;
  int64_t start = 0;
  for (auto& bn : bns) {
    parts.push_back(batch_norm(bn, x.narrow(1, start, bn->options.num_features())));
    start += bn->options.num_features();
  }
  return at::cat(parts, 1);
}

using Case = std::tuple<bool, bool, at::MemoryFormat>;  // affine, training, layout

class BatchNormBlocks : public ::testing::TestWithParam<Case> {};

TEST_P(BatchNormBlocks, IsEachLayerOnItsOwnChannels) {
  const auto [affine, training, format] = GetParam();
  at::manual_seed(5);
  auto ours = layers({2, 3, 2}, affine);
  auto reference = copies(ours);
  for (auto* set : {&ours, &reference})
    for (auto& bn : *set) {
      // Statistics to start from, so that evaluation mode reads something.
      at::NoGradGuard no_grad;
      bn->running_mean.uniform_(-1, 1);
      bn->running_var.uniform_(0.5, 2);
      bn->train(training);
    }
  for (size_t i = 0; i < ours.size(); ++i) {
    at::NoGradGuard no_grad;
    reference[i]->running_mean.copy_(ours[i]->running_mean);
    reference[i]->running_var.copy_(ours[i]->running_var);
  }
  const at::Tensor x = (at::randn({6, 7, 5, 4}, at::kDouble) * 2 + 1).contiguous(format);
  const at::Tensor dy = at::randn({6, 7, 5, 4}, at::kDouble);
  for (auto* set : {&ours, &reference})
    for (auto& bn : *set) bn->to(at::kDouble);
  const at::Tensor xo = x.clone().requires_grad_(), xr = x.clone().requires_grad_();
  const at::Tensor yo = batch_norm_blocks(ours, xo), yr = one_by_one(reference, xr);
  EXPECT_TRUE(at::allclose(yo, yr, 1e-12, 1e-12)) << (yo - yr).abs().max().item<double>();
  std::vector<at::Tensor> inputs_o = {xo}, inputs_r = {xr};
  if (affine)
    for (size_t i = 0; i < ours.size(); ++i) {
      inputs_o.push_back(ours[i]->weight);
      inputs_o.push_back(ours[i]->bias);
      inputs_r.push_back(reference[i]->weight);
      inputs_r.push_back(reference[i]->bias);
    }
  const auto go = torch::autograd::grad({yo}, inputs_o, {dy});
  const auto gr = torch::autograd::grad({yr}, inputs_r, {dy});
  for (size_t i = 0; i < go.size(); ++i)
    EXPECT_TRUE(at::allclose(go[i], gr[i], 1e-10, 1e-12))
        << "input " << i << ": " << (go[i] - gr[i]).abs().max().item<double>();
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_TRUE(at::allclose(ours[i]->running_mean, reference[i]->running_mean, 1e-14, 1e-15));
    EXPECT_TRUE(at::allclose(ours[i]->running_var, reference[i]->running_var, 1e-14, 1e-15));
    EXPECT_EQ(ours[i]->num_batches_tracked.item<int64_t>(), training ? 1 : 0) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, BatchNormBlocks,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool(),
                                            ::testing::Values(at::MemoryFormat::Contiguous,
                                                              at::MemoryFormat::ChannelsLast)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "affine" : "plain") +
                                  (std::get<1>(info.param) ? "_training" : "_evaluation") +
                                  (std::get<2>(info.param) == at::MemoryFormat::ChannelsLast
                                       ? "_channels_last"
                                       : "_contiguous");
                         });

TEST(BatchNormBlocksRoute, ASearchLayersBlocksKeepTheirOutputInOneNode) {
  auto bns = layers({3, 3}, /*affine=*/false);
  const at::Tensor x = at::randn({4, 6, 3, 3}).requires_grad_();
  const at::Tensor y = batch_norm_blocks(bns, x);
  ASSERT_TRUE(y.grad_fn());
  EXPECT_NE(y.grad_fn()->name().find("OutputSaving"), std::string::npos) << y.grad_fn()->name();
}

TEST(BatchNormBlocksRoute, LayersOfDifferentOptionsAreTakenOneByOne) {
  auto ours = layers({2, 3}, /*affine=*/false);
  ours[1]->options.eps(1e-3);
  auto reference = copies(ours);
  const at::Tensor x = at::randn({4, 5, 3, 3}) * 3;
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::allclose(batch_norm_blocks(ours, x), one_by_one(reference, x), 1e-6, 1e-6));
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_TRUE(at::allclose(ours[i]->running_mean, reference[i]->running_mean));
    EXPECT_TRUE(at::allclose(ours[i]->running_var, reference[i]->running_var));
    EXPECT_EQ(ours[i]->num_batches_tracked.item<int64_t>(), 1);
  }
}

// A cumulative average (no momentum) and layers without running statistics are the
// layers' own business: taken one by one, in training and in evaluation.
TEST(BatchNormBlocksRoute, CumulativeAveragesAndUntrackedStatisticsAreEachLayersOwn) {
  for (const bool track : {true, false})
    for (const bool training : {true, false}) {
      std::vector<torch::nn::BatchNorm2d> ours;
      for (int64_t c : {2, 3}) {
        auto options = torch::nn::BatchNorm2dOptions(c).affine(false).track_running_stats(track);
        if (track) options.momentum(c10::nullopt);
        ours.emplace_back(options);
        ours.back()->train(training);
      }
      auto reference = copies(ours);
      for (auto& bn : reference) bn->train(training);
      const at::Tensor x = at::randn({4, 5, 3, 3}) * 3 + 1;
      at::NoGradGuard no_grad;
      for (int pass = 0; pass < 2; ++pass) {
        const at::Tensor yo = batch_norm_blocks(ours, x), yr = one_by_one(reference, x);
        EXPECT_TRUE(at::allclose(yo, yr, 1e-6, 1e-6)) << track << training;
      }
      if (!track) continue;
      for (size_t i = 0; i < ours.size(); ++i) {
        EXPECT_TRUE(at::allclose(ours[i]->running_var, reference[i]->running_var));
        EXPECT_EQ(ours[i]->num_batches_tracked.item<int64_t>(), training ? 2 : 0);
      }
    }
}

TEST(BatchNormBlocksRoute, ChannelsThatDoNotAddUpAreNamed) {
  auto bns = layers({2, 3}, /*affine=*/false);
  try {
    batch_norm_blocks(bns, at::randn({4, 6, 3, 3}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("normalise 5 channels, the input has 6"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(batch_norm_blocks({}, at::randn({4, 6, 3, 3})), Error);
}

}  // namespace
}  // namespace nasx
