// Synchronized BatchNorm (nasx::batch_norm with sync_batchnorm on) on two ranks that are
// two threads of this process, against LibTorch's own BatchNorm2d on the whole batch:
// outputs, every gradient, the running statistics, and a second derivative.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn/modules/batchnorm.h>

#include "nasx/distributed.hpp"

namespace nasx {
namespace {

thread_local int t_rank = -1;

/// Two ranks as two threads: a collective waits for both, then hands both the result.
/// Like Gloo it writes raw values, invisible to autograd.
class ThreadRanks final : public Communicator {
 public:
  int rank() const override { return t_rank; }
  int world_size() const override { return 2; }

  void all_reduce_sum(std::vector<at::Tensor>& tensors) override {
    exchange(tensors, [](const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
      std::vector<at::Tensor> sum;
      for (size_t i = 0; i < a.size(); ++i) sum.push_back(a[i] + b[i]);
      return sum;
    });
  }

  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    exchange(tensors, [root](const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
      std::vector<at::Tensor> copy;
      for (const auto& t : root == 0 ? a : b) copy.push_back(t.clone());
      return copy;
    });
  }

  int collectives() const { return collectives_; }

 private:
  template <typename Combine>
  void exchange(std::vector<at::Tensor>& tensors, Combine combine) {
    const at::NoGradGuard raw;
    std::unique_lock<std::mutex> lock(mutex_);
    const uint64_t generation = generation_;
    deposited_[t_rank].clear();
    for (const auto& t : tensors) deposited_[t_rank].push_back(t.detach());
    if (++arrived_ == 2) {
      result_ = combine(deposited_[0], deposited_[1]);
      arrived_ = 0;
      ++generation_;
      ++collectives_;
      changed_.notify_all();
    } else if (!changed_.wait_for(lock, std::chrono::seconds(60),
                                  [&] { return generation_ != generation; })) {
      throw std::runtime_error("rank " + std::to_string(t_rank) + ": the other rank never came");
    }
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i].detach().copy_(result_[i]);
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  int arrived_ = 0, collectives_ = 0;
  uint64_t generation_ = 0;
  std::vector<at::Tensor> deposited_[2], result_;
};

/// Runs `work(rank)` on two threads with `ranks` installed and sync BatchNorm on.
template <typename Work>
void on_two_ranks(ThreadRanks& ranks, Work work) {
  set_communicator(&ranks);
  set_sync_batchnorm(true);
  std::string failures[2];
  auto body = [&](int rank) {
    t_rank = rank;
    try {
      work(rank);
    } catch (const std::exception& e) {
      failures[rank] = e.what();
    }
  };
  std::thread first(body, 0), second(body, 1);
  first.join();
  second.join();
  set_communicator(nullptr);
  set_sync_batchnorm(false);
  EXPECT_EQ(failures[0], "");
  EXPECT_EQ(failures[1], "");
}

torch::nn::BatchNorm2d layer(bool affine) {
  torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(3).affine(affine));
  bn->to(at::kDouble);
  if (affine) {
    const at::NoGradGuard no_grad;
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-0.5, 0.5);
  }
  return bn;
}

torch::nn::BatchNorm2d copy_of(const torch::nn::BatchNorm2d& bn) {
  return std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(bn->clone());
}

using Case = std::tuple<bool, at::MemoryFormat>;

class SynchronizedBatchNorm : public ::testing::TestWithParam<Case> {};

TEST_P(SynchronizedBatchNorm, TwoRanksComputeTheWholeBatchLayer) {
  const auto [affine, format] = GetParam();
  at::manual_seed(1);
  // Far from zero mean, so a variance formula that cancels would show.
  const at::Tensor x = (at::randn({8, 3, 5, 5}, at::kDouble) * 2 + 3).contiguous(format);
  const at::Tensor dy = at::randn({8, 3, 5, 5}, at::kDouble).contiguous(format);
  torch::nn::BatchNorm2d whole = layer(affine);
  torch::nn::BatchNorm2d half[2] = {copy_of(whole), copy_of(whole)};

  const at::Tensor xw = x.clone().requires_grad_();
  const at::Tensor yw = whole->forward(xw);
  std::vector<at::Tensor> inputs = {xw};
  if (affine) inputs.insert(inputs.end(), {whole->weight, whole->bias});
  const auto expected = torch::autograd::grad({yw}, inputs, {dy});

  at::Tensor y[2];
  std::vector<at::Tensor> grads[2];
  ThreadRanks ranks;
  on_two_ranks(ranks, [&](int r) {
    const at::Tensor xr = x.narrow(0, 4 * r, 4).clone().requires_grad_();
    y[r] = batch_norm(half[r], xr);
    std::vector<at::Tensor> own = {xr};
    if (affine) own.insert(own.end(), {half[r]->weight, half[r]->bias});
    grads[r] = torch::autograd::grad({y[r]}, own, {dy.narrow(0, 4 * r, 4)});
  });
  EXPECT_EQ(ranks.collectives(), 2) << "one all-reduce forward, one backward";

  const double tol = 1e-10;
  EXPECT_TRUE(at::allclose(at::cat({y[0], y[1]}), yw, tol, tol));
  EXPECT_TRUE(at::allclose(at::cat({grads[0][0], grads[1][0]}), expected[0], tol, tol))
      << "input gradient";
  if (affine) {
    // Each rank's own share; summed (what averaging over ranks does, times 2) = the whole.
    EXPECT_TRUE(at::allclose(grads[0][1] + grads[1][1], expected[1], tol, tol)) << "weight";
    EXPECT_TRUE(at::allclose(grads[0][2] + grads[1][2], expected[2], tol, tol)) << "bias";
  }
  for (const auto& h : half) {
    EXPECT_TRUE(at::allclose(h->running_mean, whole->running_mean, tol, tol));
    EXPECT_TRUE(at::allclose(h->running_var, whole->running_var, tol, tol)) << "unbiased";
    EXPECT_EQ(h->num_batches_tracked.item<int64_t>(), 1);
  }
}

TEST_P(SynchronizedBatchNorm, SecondDerivativesMatchTheWholeBatch) {
  const auto [affine, format] = GetParam();
  at::manual_seed(2);
  const at::Tensor x = (at::randn({8, 3, 4, 4}, at::kDouble) + 1).contiguous(format);
  const at::Tensor dy = at::randn({8, 3, 4, 4}, at::kDouble).contiguous(format);
  // d/dx (and d/dw when affine) of Σ (dL/dx)²: gradients of a gradient, as a gradient
  // penalty takes them (the one through x crosses the ranks twice).
  const auto penalty_gradient = [&](torch::nn::BatchNorm2d bn, const at::Tensor& xs,
                                    const at::Tensor& dys, auto forward) {
    const at::Tensor xr = xs.clone().requires_grad_();
    const at::Tensor gx =
        torch::autograd::grad({forward(bn, xr)}, {xr}, {dys}, true, /*create_graph=*/true)[0];
    std::vector<at::Tensor> inputs = {xr};
    if (affine) inputs.push_back(bn->weight);
    return torch::autograd::grad({gx.pow(2).sum()}, inputs);
  };
  torch::nn::BatchNorm2d whole = layer(affine);
  torch::nn::BatchNorm2d half[2] = {copy_of(whole), copy_of(whole)};
  const auto expected = penalty_gradient(
      whole, x, dy, [](torch::nn::BatchNorm2d bn, const at::Tensor& t) { return bn(t); });
  std::vector<at::Tensor> got[2];
  ThreadRanks ranks;
  on_two_ranks(ranks, [&](int r) {
    got[r] = penalty_gradient(
        half[r], x.narrow(0, 4 * r, 4), dy.narrow(0, 4 * r, 4),
        [](torch::nn::BatchNorm2d bn, const at::Tensor& t) { return batch_norm(bn, t); });
  });
  EXPECT_TRUE(at::allclose(at::cat({got[0][0], got[1][0]}), expected[0], 1e-9, 1e-9)) << "input";
  if (affine) {
    EXPECT_TRUE(at::allclose(got[0][1] + got[1][1], expected[1], 1e-9, 1e-9)) << "weight";
  }
}

INSTANTIATE_TEST_SUITE_P(AffineAndLayouts, SynchronizedBatchNorm,
                         ::testing::Combine(::testing::Bool(),
                                            ::testing::Values(at::MemoryFormat::Contiguous,
                                                              at::MemoryFormat::ChannelsLast)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "Affine" : "NoAffine") +
                                  (std::get<1>(info.param) == at::MemoryFormat::ChannelsLast
                                       ? "ChannelsLast"
                                       : "Contiguous");
                         });

}  // namespace
}  // namespace nasx
