#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn/modules/container/any.h>

#include "darts/supernet.hpp"

namespace nasx::darts {
namespace {

/// Copies edge `edge`'s slice of every parameter of `group` (E edges side by side)
/// into `single` (one edge): grouped convolutions keep edge e in rows [e*n, (e+1)*n).
void copy_edge(EdgeGroup& group, EdgeGroup& single, int64_t edge, int64_t edges) {
  at::NoGradGuard no_grad;
  auto from = group->named_parameters();
  for (auto& item : single->named_parameters()) {
    const at::Tensor& source = from[item.key()];
    const int64_t rows = item.value().size(0);
    ASSERT_EQ(source.size(0), rows * edges) << item.key();
    item.value().copy_(source.narrow(0, edge * rows, rows));
  }
}

class EdgeGroupTest : public ::testing::TestWithParam<std::tuple<int64_t, std::string>> {};

// The edges computed together give exactly what each edge computed alone gives
// (an edge alone is the reference's MixedOp with plain, ungrouped operations).
TEST_P(EdgeGroupTest, EqualsEachEdgeComputedAlone) {
  const auto [stride, format] = GetParam();
  const int64_t channels = 4, edges = 3;
  at::manual_seed(5);
  EdgeGroup group(channels, edges, stride);
  at::Tensor x = at::randn({6, channels, 8, 8}, at::kDouble);
  if (format == "channels_last") x = x.contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor weights = at::softmax(at::randn({edges, 8}, at::kDouble), -1);
  group->to(at::kDouble);
  const std::vector<at::Tensor> together = group(x, weights);
  ASSERT_EQ(together.size(), static_cast<size_t>(edges));
  for (const at::Tensor& edge : together)
    ASSERT_EQ(edge.sizes(), (at::IntArrayRef{6, channels, 8 / stride, 8 / stride}));
  for (int64_t e = 0; e < edges; ++e) {
    EdgeGroup single(channels, 1, stride);
    single->to(at::kDouble);
    copy_edge(group, single, e, edges);
    const at::Tensor alone = single(x, weights.narrow(0, e, 1))[0];
    EXPECT_TRUE(at::allclose(together[e], alone, 1e-10, 1e-10)) << "edge " << e;
  }
}

// One edge alone is the reference's MixedOp: sum_k w_k op_k(x) over the standalone
// operations (pools followed by a BatchNorm without affine parameters, `none` zero).
TEST_P(EdgeGroupTest, OneEdgeIsTheWeightedSumOfTheStandaloneOperations) {
  const auto [stride, format] = GetParam();
  const int64_t channels = 4;
  at::manual_seed(9);
  EdgeGroup group(channels, 1, stride);
  group->to(at::kDouble);
  at::Tensor x = at::randn({6, channels, 8, 8}, at::kDouble);
  if (format == "channels_last") x = x.contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor w = at::softmax(at::randn({1, 8}, at::kDouble), -1);
  const at::Tensor grouped = group(x, w)[0];

  auto params = group->named_parameters();
  at::Tensor expected = at::zeros_like(grouped);
  const auto& names = operation_names();
  for (size_t k = 1; k < names.size(); ++k) {
    torch::nn::AnyModule op = make_operation(names[k], channels, stride, /*affine=*/false);
    op.ptr()->to(at::kDouble);
    {
      at::NoGradGuard no_grad;
      for (auto& item : op.ptr()->named_parameters())
        item.value().copy_(params[names[k] + "." + item.key()]);
    }
    at::Tensor y = op.forward(x);
    if (names[k] == "max_pool_3x3" || names[k] == "avg_pool_3x3")
      y = at::batch_norm(y, {}, {}, {}, {}, /*training=*/true, 0.1, 1e-5, false);
    expected = expected + w[0][static_cast<int64_t>(k)] * y;
  }
  EXPECT_TRUE(at::allclose(grouped, expected, 1e-10, 1e-10));
}

// A channels-last float group, as the supernet runs on CPU, takes the fused mixture
// (plugins/spaces/darts/mixture.cpp; each edge's output is then a channels-last tensor of
// its own) and agrees with the same group in double precision, which takes the chain of
// tensor operations: outputs and the gradients of the input and the weights. At stride 2
// the skip connection's FactorizedReduce output is not channels-last and is copied in.
INSTANTIATE_TEST_SUITE_P(StridesAndFormats, EdgeGroupTest,
                         ::testing::Combine(::testing::Values(1, 2),
                                            ::testing::Values("contiguous", "channels_last")),
                         [](const auto& info) {
                           return "stride" + std::to_string(std::get<0>(info.param)) + "_" +
                                  std::get<1>(info.param);
                         });

TEST(EdgeGroupFloat, ChannelsLastMatchesDoublePrecision) {
  const char* fused = std::getenv("NASX_FUSED_MIXTURE");
  if (fused != nullptr && std::string(fused) == "0") GTEST_SKIP() << "NASX_FUSED_MIXTURE=0";
  for (const int64_t stride : {1, 2}) {
    SCOPED_TRACE("stride " + std::to_string(stride));
    const int64_t channels = 8, edges = 3;
    at::manual_seed(9);
    EdgeGroup group(channels, edges, stride);
    EdgeGroup exact(channels, edges, stride);
    exact->to(at::kDouble);
    copy_edge(group, exact, 0, 1);  // all parameters, unchanged
    const at::Tensor x0 = at::randn({4, channels, 8, 8}).contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor w0 = at::softmax(at::randn({edges, 8}), -1);
    const at::Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_();
    const at::Tensor xd = x0.to(at::kDouble).requires_grad_(),
                     wd = w0.to(at::kDouble).requires_grad_();
    const std::vector<at::Tensor> got = group(x, w), want = exact(xd, wd);
    at::Tensor loss = at::zeros({}), loss_d = at::zeros({}, at::kDouble);
    for (int64_t e = 0; e < edges; ++e) {
      EXPECT_TRUE(got[e].is_contiguous(at::MemoryFormat::ChannelsLast)) << "edge " << e;
      EXPECT_TRUE(at::allclose(got[e].to(at::kDouble), want[e], 1e-4, 1e-4)) << "edge " << e;
      loss = loss + (got[e] * got[e]).sum() * static_cast<double>(e + 1);
      loss_d = loss_d + (want[e] * want[e]).sum() * static_cast<double>(e + 1);
    }
    const auto g = torch::autograd::grad({loss}, {x, w});
    const auto gd = torch::autograd::grad({loss_d}, {xd, wd});
    for (size_t i = 0; i < g.size(); ++i) {
      const double scale = gd[i].abs().max().item<double>();
      EXPECT_LT((g[i].to(at::kDouble) - gd[i]).abs().max().item<double>(), 1e-4 * scale)
          << (i == 0 ? "input" : "weights");
    }
  }
}

}  // namespace
}  // namespace nasx::darts
