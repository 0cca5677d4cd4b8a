#include "nb201/network.hpp"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "nasx/memory_format.hpp"

namespace nasx::nb201 {
namespace {

int64_t parameters_of(const std::string& arch) {
  Network net(Arch::parse(arch), DataShape{3, 32, 32, 10});
  return count_parameters(net);
}

// The benchmark's figures (C=16, N=5, 3 input channels, 10 classes).
TEST(Nb201Network, ParameterCountsMatchTheBenchmark) {
  EXPECT_EQ(
      parameters_of("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"),
      559386);
  // The space's minimum (parameter-free cells) and maximum (all conv 3x3).
  EXPECT_EQ(
      parameters_of("|none~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|"),
      73306);
  EXPECT_EQ(parameters_of("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|"
                          "nor_conv_3x3~1|nor_conv_3x3~2|"),
            1531546);
  int64_t smallest = INT64_MAX, largest = 0;
  for (int64_t i = 0; i < kCells; i += 97) {
    const int64_t n = parameters_of(Arch::from_index(i).str());
    smallest = std::min(smallest, n);
    largest = std::max(largest, n);
  }
  EXPECT_GE(smallest, 73306);
  EXPECT_LE(largest, 1531546);
}

TEST(Nb201Network, ForwardGivesLogitsAndAllNoneCellsGiveConstantFeatures) {
  at::manual_seed(0);
  Network net(Arch::parse("|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|none~0|nor_conv_3x3~1|"
                          "avg_pool_3x3~2|"),
              DataShape{1, 28, 28, 10});
  const at::Tensor logits = net.forward(at::randn({4, 1, 28, 28}));
  EXPECT_EQ(logits.sizes(), (at::IntArrayRef{4, 10}));
  // A cell whose output node only has `none` inputs outputs zeros: after the first
  // stage every image looks the same, so all logits agree.
  Network dead(
      Arch::parse("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|none~1|none~2|"),
      DataShape{1, 28, 28, 10});
  dead.eval();
  const at::Tensor out = dead.forward(at::randn({3, 1, 28, 28}));
  EXPECT_TRUE(at::allclose(out[0], out[1]));
  EXPECT_TRUE(at::allclose(out[1], out[2]));
}

/// The cell as the benchmark writes it, edge by edge: node i = the sum over j < i of
/// op(node j), `none` as node j * 0, pooling with the padding not counted, the edges'
/// convolutions the cell's own modules.
at::Tensor cell_edge_by_edge(InferCell& cell, const Arch& arch, const at::Tensor& x) {
  std::vector<at::Tensor> nodes = {x};
  for (int target = 1, edge = 0; target <= 3; ++target) {
    at::Tensor sum;
    for (int source = 0; source < target; ++source, ++edge) {
      const at::Tensor& in = nodes[static_cast<size_t>(source)];
      at::Tensor y;
      switch (arch.ops[static_cast<size_t>(edge)]) {
        case 0:
          y = in * 0;
          break;
        case 1:
          y = in;
          break;
        case 4:
          y = at::avg_pool2d(in, {3, 3}, {1, 1}, {1, 1}, false, false);
          break;
        default:
          y = cell->named_children()["edge_" + std::to_string(edge)]
                  ->as<darts::ReLUConvBNImpl>()
                  ->forward(in);
      }
      sum = sum.defined() ? sum + y : y;
    }
    nodes.push_back(sum);
  }
  return nodes.back();
}

// The cell leaves out what is zero, pools a node once and runs a node's convolutions of
// one kernel size as one: in training mode, the outputs are the edge by edge computation's
// (bit for bit where no two convolutions share a node and a kernel), and so is every
// gradient, to rounding.
TEST(Nb201Network, CellMatchesTheEdgeByEdgeComputation) {
  const std::vector<std::pair<std::string, bool>> archs = {
      {"|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|skip_connect~2|",
       true},
      {"|avg_pool_3x3~0|+|avg_pool_3x3~0|skip_connect~1|+|avg_pool_3x3~0|avg_pool_3x3~1|"
       "none~2|",
       true},
      {"|none~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|", true},
      {"|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
       "nor_conv_1x1~2|",
       false},
  };
  for (const auto& [text, bit_exact] : archs) {
    SCOPED_TRACE(text);
    const Arch arch = Arch::parse(text);
    at::manual_seed(1);
    InferCell cell(arch, 8);
    cell->train();
    const at::Tensor input = channels_last(at::randn({4, 8, 6, 6}));
    const at::Tensor upstream = channels_last(at::randn({4, 8, 6, 6}));
    std::vector<at::Tensor> outputs, gradients;
    for (int pass = 0; pass < 2; ++pass) {
      const at::Tensor x = input.clone().requires_grad_(true);
      const at::Tensor y = pass == 0 ? cell->forward(x) : cell_edge_by_edge(cell, arch, x);
      std::vector<at::Tensor> wrt = cell->parameters();
      wrt.push_back(x);
      outputs.push_back(y.detach());
      for (const at::Tensor& g :
           torch::autograd::grad({y}, wrt, {upstream}, false, false, /*allow_unused=*/true))
        gradients.push_back(g.defined() ? g : at::zeros({0}));  // a dead node's edge
    }
    if (bit_exact)
      EXPECT_TRUE(at::equal(outputs[0], outputs[1]));
    else
      EXPECT_TRUE(at::allclose(outputs[0], outputs[1], 1e-5, 1e-6));
    // Gradients: a pooling computed once takes the sum of its readers' gradients, where
    // the edges' poolings each took one and their results were summed: another order.
    const size_t half = gradients.size() / 2;
    for (size_t i = 0; i < half; ++i) {
      SCOPED_TRACE(i);
      const at::Tensor& a = gradients[i];
      const at::Tensor& b = gradients[half + i];
      const float scale = a.numel() ? a.abs().max().item<float>() : 0.0f;
      EXPECT_LE(a.numel() ? (a - b).abs().max().item<float>() : 0.0f, 1e-6f * scale);
    }
  }
}

}  // namespace
}  // namespace nasx::nb201
