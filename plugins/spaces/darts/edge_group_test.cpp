#include <gtest/gtest.h>

#include <ATen/ATen.h>
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

INSTANTIATE_TEST_SUITE_P(StridesAndFormats, EdgeGroupTest,
                         ::testing::Combine(::testing::Values(1, 2),
                                            ::testing::Values("contiguous", "channels_last")),
                         [](const auto& info) {
                           return "stride" + std::to_string(std::get<0>(info.param)) + "_" +
                                  std::get<1>(info.param);
                         });

}  // namespace
}  // namespace nasx::darts
