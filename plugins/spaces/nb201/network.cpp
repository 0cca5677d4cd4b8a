#include "nb201/network.hpp"

#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "darts/avg_pool.hpp"
#include "nasx/distributed.hpp"
#include "nasx/global_average_pool.hpp"
#include "nasx/memory_format.hpp"

namespace nasx::nb201 {

namespace {
const int kNone = 0, kSkip = 1, kConv1x1 = 2, kConv3x3 = 3, kAvgPool = 4;
}  // namespace

InferCellImpl::InferCellImpl(const Arch& arch, int64_t c) : arch_(arch) {
  for (int edge = 0; edge < kEdges; ++edge) {
    const int op = arch.ops[static_cast<size_t>(edge)];
    darts::ReLUConvBN conv{nullptr};
    if (op == kConv1x1 || op == kConv3x3) {
      const int64_t k = op == kConv1x1 ? 1 : 3;
      conv = register_module("edge_" + std::to_string(edge),
                             darts::ReLUConvBN(c, c, k, 1, k / 2, true));
    }
    convs_.push_back(conv);
  }
}

at::Tensor InferCellImpl::forward(const at::Tensor& x) {
  // Each node, once summed, sends its terms to the later nodes it feeds; terms[i] holds
  // node i's in the order of their sources, the order the sum runs in. Three savings
  // against the edge-by-edge loop, each the same values:
  // - a node of only `none` inputs is exactly zero; it stays undefined, and the pooling
  //   or skip of it, zero too, is a term left out (x + 0 is x);
  // - the pooling of a node is computed once, whichever nodes it feeds;
  // - the convolutions of one node with one kernel size run as one (ReLU once, one
  //   convolution with the edges' weights concatenated: the sums of the convolution may
  //   run in another order, as in the DARTS evaluation network's preprocessing).
  std::array<std::vector<at::Tensor>, 4> terms;
  at::Tensor node = x;
  for (int source = 0; source < 3; ++source) {
    at::Tensor pooled;
    std::array<std::vector<std::shared_ptr<darts::ReLUConvBNImpl>>, 2> convs;  // 1x1, 3x3
    std::array<std::vector<int>, 2> conv_targets;
    for (int target = source + 1; target <= 3; ++target) {
      // Edge target <- source: edges run node by node, each node's from source 0 up.
      const int64_t edge = target * (target - 1) / 2 + source;
      const int op = arch_.ops[static_cast<size_t>(edge)];
      if (op == kConv1x1 || op == kConv3x3) {
        convs[op == kConv3x3].push_back(convs_[static_cast<size_t>(edge)].ptr());
        conv_targets[op == kConv3x3].push_back(target);
      } else if (node.defined() && op == kSkip) {
        terms[static_cast<size_t>(target)].push_back(node);
      } else if (node.defined() && op == kAvgPool) {
        if (!pooled.defined()) pooled = darts::avg_pool_3x3(node, 1);
        terms[static_cast<size_t>(target)].push_back(pooled);
      }
    }
    for (size_t k = 0; k < 2; ++k) {
      if (convs[k].empty()) continue;
      const std::vector<at::Tensor> outputs =
          darts::relu_conv_bn_together(convs[k], node.defined() ? node : at::zeros_like(x));
      for (size_t i = 0; i < outputs.size(); ++i)
        terms[static_cast<size_t>(conv_targets[k][i])].push_back(outputs[i]);
    }
    // The next node: its terms, summed in the order of their sources.
    node = at::Tensor();
    for (const at::Tensor& term : terms[static_cast<size_t>(source + 1)])
      node = node.defined() ? node + term : term;
  }
  return node.defined() ? node : at::zeros_like(x);
}

ResidualBlockImpl::ResidualBlockImpl(int64_t c_in, int64_t c_out)
    : a_(register_module("a", darts::ReLUConvBN(c_in, c_out, 3, 2, 1, true))),
      b_(register_module("b", darts::ReLUConvBN(c_out, c_out, 3, 1, 1, true))),
      shortcut_(register_module(
          "shortcut", torch::nn::Conv2d(torch::nn::Conv2dOptions(c_in, c_out, 1).bias(false)))) {}

at::Tensor ResidualBlockImpl::forward(const at::Tensor& x) {
  return shortcut_(at::avg_pool2d(x, {2, 2}, {2, 2})) + b_(a_(x));
}

Network::Network(const Arch& arch, const DataShape& shape, NetworkOptions options)
    : arch_(arch), shape_(shape), options_(options) {
  const int64_t c = options.channels;
  stem_conv_ = register_module(
      "stem_conv",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(shape.channels, c, 3).padding(1).bias(false)));
  stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(c));
  int64_t channels = c;
  for (int stage = 0; stage < 3; ++stage) {
    if (stage > 0) {
      body_.emplace_back(register_module("reduce_" + std::to_string(stage),
                                         ResidualBlock(channels, 2 * channels)));
      channels *= 2;
    }
    for (int64_t i = 0; i < options.cells_per_stage; ++i)
      body_.emplace_back(
          register_module("stage_" + std::to_string(stage) + "_cell_" + std::to_string(i),
                          InferCell(arch, channels)));
  }
  head_bn_ = register_module("head_bn", torch::nn::BatchNorm2d(channels));
  classifier_ = register_module("classifier", torch::nn::Linear(channels, shape.classes));
}

at::Tensor Network::forward(const at::Tensor& images) {
  // Channels-last activations: LibTorch's CPU convolutions run fastest in that layout.
  at::Tensor x = batch_norm(stem_bn_, stem_conv_(channels_last(images)));
  for (auto& module : body_) x = module.forward(x);
  return classifier_(global_average_pool(at::relu(batch_norm(head_bn_, x))));
}

std::string Network::reference_module() const {
  std::string text = "TinyNetwork(C=" + std::to_string(options_.channels) +
                     ", N=" + std::to_string(options_.cells_per_stage) +
                     ", genotype=" + arch_.str() +
                     ", num_classes=" + std::to_string(shape_.classes) +
                     ") of NAS-Bench-201 (cell_infers/tiny_network.py)";
  if (shape_.channels != 3)
    text += ", with its stem's Conv2d taking " + std::to_string(shape_.channels) +
            " input channel" + (shape_.channels == 1 ? "" : "s") + " instead of 3";
  return text;
}

std::string Network::reference_python() const {
  return "# With NAS-Bench-201's models (the stem's Conv2d edited for " +
         std::to_string(shape_.channels) +
         " input channel(s) if not 3):\n"
         "from models.cell_searchs.genotypes import Structure as CellStructure\n"
         "from models.cell_infers.tiny_network import TinyNetwork\n"
         "genotype = CellStructure.str2structure(open(\"genotype.txt\").read().strip())\n"
         "model = TinyNetwork(" +
         std::to_string(options_.channels) + ", " + std::to_string(options_.cells_per_stage) +
         ", genotype, " + std::to_string(shape_.classes) +
         ")\n"
         "model.load_state_dict(state, strict=True)\n"
         "model.eval()\n"
         "with torch.no_grad():\n"
         "    _, logits = model(example[\"images\"])  # (features, logits)\n";
}

NamedTensors Network::reference_state_dict() const {
  // TinyNetwork keeps cells and residual blocks in one list: N cells, a block, N cells,
  // a block, N cells.
  const int64_t n = options_.cells_per_stage;
  return renamed_state_dict(*this, [n](const std::string& parent, const std::string& child) {
    const std::string cls = parent.substr(parent.rfind(':') + 1);
    if (cls == "Network") {
      if (child == "stem_conv") return std::string("stem.0");
      if (child == "stem_bn") return std::string("stem.1");
      if (child == "head_bn") return std::string("lastact.0");
      int stage = 0, cell = 0;
      if (std::sscanf(child.c_str(), "stage_%d_cell_%d", &stage, &cell) == 2)
        return "cells." + std::to_string(stage * (n + 1) + cell);
      if (std::sscanf(child.c_str(), "reduce_%d", &stage) == 1)
        return "cells." + std::to_string(stage * (n + 1) - 1);
    }
    if (cls == "InferCellImpl" && child.rfind("edge_", 0) == 0) return "layers." + child.substr(5);
    if (cls == "ResidualBlockImpl") {
      if (child == "a") return std::string("conv_a");
      if (child == "b") return std::string("conv_b");
      if (child == "shortcut") return std::string("downsample.1");
    }
    if (cls == "ReLUConvBNImpl") {
      if (child == "conv") return std::string("op.1");
      if (child == "bn") return std::string("op.2");
    }
    return child;
  });
}

}  // namespace nasx::nb201
