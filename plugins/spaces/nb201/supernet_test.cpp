// The NB-201 search cell's mixed forward runs the edges leaving one node together (their
// convolutions concatenated, one BatchNorm call, one mixture pass). Pinned against the
// cell's definition computed edge by edge from the same modules: output, the gradients
// of the input and of the architecture weights, and every layer's running statistics.

#include "nb201/supernet.hpp"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "nasx/memory_format.hpp"

namespace nasx::nb201 {
namespace {

/// Node i = Σ_{j<i} Σ_k w[e, k] · op_k(node j), each edge's modules called on their own.
at::Tensor edge_by_edge(SearchCell& cell, const at::Tensor& x, const at::Tensor& w) {
  auto modules = cell->named_children();
  std::vector<at::Tensor> nodes = {x};
  int64_t edge = 0;
  for (int node = 1; node <= 3; ++node) {
    at::Tensor sum = at::zeros_like(x);
    for (int source = 0; source < node; ++source, ++edge) {
      const at::Tensor& in = nodes[static_cast<size_t>(source)];
      const std::string prefix = "edge_" + std::to_string(edge) + "_";
      auto conv = [&](const std::string& name) {
        return modules[prefix + name]->as<SearchConvImpl>()->forward(in);
      };
      sum = sum + w[edge][1] * in + w[edge][2] * conv("nor_conv_1x1") +
            w[edge][3] * conv("nor_conv_3x3") +
            w[edge][4] * at::avg_pool2d(in, {3, 3}, {1, 1}, {1, 1}, false, false);
    }
    nodes.push_back(sum);
  }
  return nodes.back();
}

class Nb201SearchCell : public ::testing::TestWithParam<bool> {};

TEST_P(Nb201SearchCell, MixedForwardIsTheCellComputedEdgeByEdge) {
  const bool channels_last_input = GetParam();
  at::manual_seed(11);
  SearchCell ours(8);
  at::manual_seed(11);
  SearchCell theirs(8);  // the same weights
  at::Tensor x = at::randn({6, 8, 7, 7}) * 2 + 0.5;
  if (channels_last_input) x = channels_last(x);
  const at::Tensor alpha = at::randn({6, 5});
  const at::Tensor xo = x.clone().requires_grad_(), xr = x.clone().requires_grad_();
  const at::Tensor ao = alpha.clone().requires_grad_(), ar = alpha.clone().requires_grad_();
  const at::Tensor yo = ours->forward(xo, at::softmax(ao, -1));
  const at::Tensor yr = edge_by_edge(theirs, xr, at::softmax(ar, -1));
  EXPECT_TRUE(at::allclose(yo, yr, 1e-5, 1e-5)) << (yo - yr).abs().max().item<double>();
  const at::Tensor dy = at::randn(yo.sizes());
  const auto go = torch::autograd::grad({yo}, {xo, ao}, {dy});
  const auto gr = torch::autograd::grad({yr}, {xr, ar}, {dy});
  EXPECT_TRUE(at::allclose(go[0], gr[0], 1e-4, 1e-5)) << (go[0] - gr[0]).abs().max().item<double>();
  EXPECT_TRUE(at::allclose(go[1], gr[1], 1e-4, 1e-5)) << (go[1] - gr[1]).abs().max().item<double>();
  const auto buffers_o = ours->named_buffers(), buffers_r = theirs->named_buffers();
  ASSERT_EQ(buffers_o.size(), buffers_r.size());
  for (const auto& b : buffers_o) {
    const at::Tensor& other = buffers_r[b.key()];
    if (b.value().scalar_type() == at::kLong)
      EXPECT_TRUE(at::equal(b.value(), other)) << b.key();
    else
      EXPECT_TRUE(at::allclose(b.value(), other, 1e-5, 1e-6)) << b.key();
  }
}

// Without a backward pass ahead (no gradients, or evaluation mode) the concatenated
// BatchNorm is LibTorch's own kernel, running statistics copied back layer by layer.
TEST_P(Nb201SearchCell, WithoutGradientsAndInEvaluationTheSameAsEdgeByEdge) {
  const bool channels_last_input = GetParam();
  at::manual_seed(12);
  SearchCell ours(8);
  at::manual_seed(12);
  SearchCell theirs(8);
  at::Tensor x = at::randn({6, 8, 7, 7}) * 2 + 0.5;
  if (channels_last_input) x = channels_last(x);
  const at::Tensor w = at::softmax(at::randn({6, 5}), -1);
  at::NoGradGuard no_grad;
  for (const bool training : {true, false}) {
    ours->train(training);
    theirs->train(training);
    const at::Tensor yo = ours->forward(x, w), yr = edge_by_edge(theirs, x, w);
    EXPECT_TRUE(at::allclose(yo, yr, 1e-5, 1e-5))
        << (training ? "training: " : "evaluation: ") << (yo - yr).abs().max().item<double>();
  }
  const auto buffers_r = theirs->named_buffers();
  for (const auto& b : ours->named_buffers())
    EXPECT_TRUE(
        at::allclose(b.value().to(at::kDouble), buffers_r[b.key()].to(at::kDouble), 1e-5, 1e-6))
        << b.key();
}

INSTANTIATE_TEST_SUITE_P(Layouts, Nb201SearchCell, ::testing::Bool(), [](const auto& info) {
  return info.param ? "channels_last" : "contiguous";
});

}  // namespace
}  // namespace nasx::nb201
