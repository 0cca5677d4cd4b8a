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

/// Whether two convolutions of one kernel size leave one node: the cell runs them as one
/// convolution, whose sums may run in another order.
bool groups_convolutions(const Arch& arch) {
  for (int source = 0; source < 3; ++source)
    for (int op : {2, 3}) {
      int count = 0;
      for (int target = source + 1; target <= 3; ++target)
        count += arch.ops[static_cast<size_t>(target * (target - 1) / 2 + source)] == op;
      if (count > 1) return true;
    }
  return false;
}

std::vector<at::Tensor> copies(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> out;
  for (const at::Tensor& t : tensors) out.push_back(t.detach().clone());
  return out;
}

/// |a - b| <= tolerance * max |a|, everywhere (a tolerance of 0: equal).
void expect_close(const at::Tensor& a, const at::Tensor& b, double tolerance) {
  if (tolerance == 0) {
    EXPECT_TRUE(at::equal(a, b)) << (a - b).abs().max().item<double>();
    return;
  }
  const double scale = a.numel() ? a.abs().max().item<double>() : 0.0;
  EXPECT_LE(a.numel() ? (a - b).abs().max().item<double>() : 0.0, tolerance * scale);
}

/// Cell `arch` at C=`channels` against the edge-by-edge computation on the same modules,
/// from the same state: training outputs, every gradient (of the parameters and the
/// input), the BatchNorms' running statistics after the step, and eval outputs.
void expect_cell_matches_edge_by_edge(const Arch& arch, int64_t channels) {
  SCOPED_TRACE(arch.str());
  // Outputs and running statistics: bit for bit unless convolutions run as one. Gradients:
  // a pooling computed once takes the sum of its readers' gradients, where the edges'
  // poolings each took one and their results were summed: another order.
  const double value_tolerance = groups_convolutions(arch) ? 1e-6 : 0.0;
  at::manual_seed(1);
  InferCell cell(arch, channels);
  {
    // BatchNorm's initial scale 1 and shift 0 would make a convolution of a zero node
    // zero, and leaving it out unseen.
    at::NoGradGuard no_grad;
    for (const auto& item : cell->named_parameters()) {
      if (item.key().find("bn.weight") != std::string::npos) item.value().uniform_(0.5, 1.5);
      if (item.key().find("bn.bias") != std::string::npos) item.value().normal_(0, 1);
    }
  }
  const std::vector<at::Tensor> initial_buffers = copies(cell->buffers());
  const at::Tensor input = channels_last(at::randn({3, channels, 5, 5}));
  const at::Tensor upstream = channels_last(at::randn({3, channels, 5, 5}));
  std::vector<at::Tensor> outputs, buffers[2], gradients[2];
  for (int pass = 0; pass < 2; ++pass) {
    {
      at::NoGradGuard no_grad;
      for (size_t i = 0; i < initial_buffers.size(); ++i)
        cell->buffers()[i].copy_(initial_buffers[i]);
    }
    cell->train();
    const at::Tensor x = input.clone().requires_grad_(true);
    const at::Tensor y = pass == 0 ? cell->forward(x) : cell_edge_by_edge(cell, arch, x);
    outputs.push_back(y.detach());
    buffers[pass] = copies(cell->buffers());
    std::vector<at::Tensor> wrt = cell->parameters();
    wrt.push_back(x);
    if (y.requires_grad())
      gradients[pass] =
          torch::autograd::grad({y}, wrt, {upstream}, false, false, /*allow_unused=*/true);
    else
      gradients[pass].resize(wrt.size());  // an output node of only zeros: nothing reaches it
  }
  expect_close(outputs[0], outputs[1], value_tolerance);
  for (size_t i = 0; i < buffers[0].size(); ++i) {
    SCOPED_TRACE("buffer " + std::to_string(i));
    expect_close(buffers[0][i], buffers[1][i], value_tolerance);
  }
  for (size_t i = 0; i < gradients[0].size(); ++i) {
    SCOPED_TRACE("gradient " + std::to_string(i));
    const at::Tensor& reference = gradients[1][i];
    ASSERT_TRUE(reference.defined());  // `none` is x * 0: every parameter reaches the output
    // What the cell leaves out (a dead node's edges) has no gradient; the reference's is 0.
    if (!gradients[0][i].defined())
      EXPECT_EQ(reference.abs().max().item<double>(), 0.0);
    else
      expect_close(gradients[0][i], reference, 1e-5);
  }
  at::NoGradGuard no_grad;
  cell->eval();
  expect_close(cell->forward(input), cell_edge_by_edge(cell, arch, input), value_tolerance);
}

// The cell leaves out what is zero, pools a node once and runs a node's convolutions of
// one kernel size as one: the same function as the benchmark's edge-by-edge cell (up to
// the sign of a zero, and NaN or infinity that `none`'s x * 0 would spread).
TEST(Nb201Network, CellMatchesTheEdgeByEdgeComputation) {
  for (const char* text : {
           // none-only node 1, its pooling read twice; a conv of node 0
           "|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|"
           "skip_connect~2|",
           // a conv of a zero node: BatchNorm's shift, running statistics updated
           "|none~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|",
           // node 2 dead (only `none` leaves it), the output zero
           "|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|",
           // convolutions of one node and kernel run as one
           "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
           "nor_conv_1x1~2|",
       })
    expect_cell_matches_edge_by_edge(Arch::parse(text), 8);
  // And a spread of the space's cells at C=4.
  for (int64_t index = 0; index < kCells; index += 61)
    expect_cell_matches_edge_by_edge(Arch::from_index(index), 4);
}

}  // namespace
}  // namespace nasx::nb201
