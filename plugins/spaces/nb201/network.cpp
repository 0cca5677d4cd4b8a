#include "nb201/network.hpp"

#include <cstdio>
#include <string>

#include <ATen/ATen.h>

#include "darts/avg_pool.hpp"
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
  std::vector<at::Tensor> nodes = {x};
  int edge = 0;
  for (int node = 1; node <= 3; ++node) {
    at::Tensor sum;
    for (int source = 0; source < node; ++source, ++edge) {
      const int op = arch_.ops[static_cast<size_t>(edge)];
      at::Tensor y;
      if (op == kSkip) y = nodes[static_cast<size_t>(source)];
      if (op == kAvgPool) y = darts::avg_pool_3x3(nodes[static_cast<size_t>(source)], 1);
      if (op == kConv1x1 || op == kConv3x3)
        y = convs_[static_cast<size_t>(edge)](nodes[static_cast<size_t>(source)]);
      if (op == kNone) continue;
      sum = sum.defined() ? sum + y : y;
    }
    nodes.push_back(sum.defined() ? sum : at::zeros_like(x));
  }
  return nodes.back();
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
  at::Tensor x = stem_bn_(stem_conv_(channels_last(images)));
  for (auto& module : body_) x = module.forward(x);
  return classifier_(at::relu(head_bn_(x)).mean({2, 3}));
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
