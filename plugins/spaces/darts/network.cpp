#include "darts/network.hpp"

#include <array>
#include <map>
#include <string>

#include <ATen/ATen.h>

#include "darts/drop_path.hpp"
#include "darts/ops.hpp"
#include "nasx/distributed.hpp"
#include "nasx/error.hpp"
#include "nasx/global_average_pool.hpp"
#include "nasx/memory_format.hpp"

namespace nasx::darts {

EvalCellImpl::EvalCellImpl(const std::vector<GenotypeEdge>& edges, const std::vector<int>& concat,
                           int64_t c_prev_prev, int64_t c_prev, int64_t channels, bool reduction,
                           bool reduction_prev)
    : edges_(edges), concat_(concat), channels_(channels) {
  if (reduction_prev)
    reduce_preprocess0_ =
        register_module("preprocess0", FactorizedReduce(c_prev_prev, channels, true));
  else
    preprocess_[0] =
        register_module("preprocess0", ReLUConvBN(c_prev_prev, channels, 1, 1, 0, true));
  preprocess_[1] = register_module("preprocess1", ReLUConvBN(c_prev, channels, 1, 1, 0, true));
  for (size_t i = 0; i < edges_.size(); ++i) {
    const int64_t stride = reduction && edges_[i].input < 2 ? 2 : 1;
    ops_.push_back(make_operation(edges_[i].op, channels, stride, /*affine=*/true));
    register_module("op" + std::to_string(i), ops_.back().ptr());
    identity_.push_back(edges_[i].op == "skip_connect" && stride == 1);
    // A pooling of a state that an earlier edge pools the same way has the same output:
    // DARTS_V2's reduction cell pools s0 twice and s1 thrice. Only when the pool holds no
    // state (no BatchNorm, whose running statistics each edge would update); the shared
    // output is never modified in place (drop path makes a new tensor).
    same_as_.push_back(-1);
    const bool pooling = edges_[i].op == "max_pool_3x3" || edges_[i].op == "avg_pool_3x3";
    const bool stateless = ops_[i].ptr()->parameters().empty() && ops_[i].ptr()->buffers().empty();
    for (size_t j = 0; j < i && pooling && stateless; ++j)
      if (edges_[j].op == edges_[i].op && edges_[j].input == edges_[i].input) {
        same_as_.back() = static_cast<int>(j);
        break;
      }
  }
}

int64_t EvalCellImpl::out_channels() const {
  return static_cast<int64_t>(concat_.size()) * channels_;
}

at::Tensor EvalCellImpl::preprocess(int slot, const at::Tensor& state) {
  return preprocess_[slot] ? preprocess_[slot]->forward(state)
                           : reduce_preprocess0_->forward(state);
}

at::Tensor EvalCellImpl::forward(const at::Tensor& s0, const at::Tensor& s1, double drop_prob,
                                 at::Generator generator) {
  return forward_preprocessed(preprocess(0, s0), preprocess(1, s1), drop_prob,
                              std::move(generator));
}

at::Tensor EvalCellImpl::forward_preprocessed(const at::Tensor& p0, const at::Tensor& p1,
                                              double drop_prob, at::Generator generator) {
  std::vector<at::Tensor> states{p0, p1}, outputs_of_edges(edges_.size());
  const bool drop = is_training() && drop_prob > 0;
  for (size_t node = 0; 2 * node + 1 < edges_.size(); ++node) {
    std::array<at::Tensor, 2> h, scale;
    for (size_t e = 0; e < 2; ++e) {
      const size_t k = 2 * node + e;
      h[e] = same_as_[k] >= 0 ? outputs_of_edges[static_cast<size_t>(same_as_[k])]
                              : ops_[k].forward(states.at(static_cast<size_t>(edges_[k].input)));
      outputs_of_edges[k] = h[e];
      if (drop && !identity_[k]) scale[e] = drop_path_scale(h[e].size(0), drop_prob, generator);
    }
    states.push_back(drop_path_sum(h[0], scale[0], h[1], scale[1]));
  }
  std::vector<at::Tensor> outputs;
  for (int index : concat_) outputs.push_back(states.at(static_cast<size_t>(index)));
  return at::cat(outputs, 1);
}

AuxiliaryHeadImpl::AuxiliaryHeadImpl(int64_t channels, int64_t classes, int64_t input_size)
    : pool_stride_(input_size >= 6 ? input_size - 5 : 1),
      conv1_(register_module(
          "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 128, 1).bias(false)))),
      conv2_(register_module("conv2",
                             torch::nn::Conv2d(torch::nn::Conv2dOptions(128, 768, 2).bias(false)))),
      bn1_(register_module("bn1", torch::nn::BatchNorm2d(128))),
      bn2_(register_module("bn2", torch::nn::BatchNorm2d(768))),
      classifier_(register_module("classifier", torch::nn::Linear(768, classes))) {
  if (input_size < 2)
    throw ConfigError(
        "the auxiliary head needs at least 2x2 features after the second reduction (" +
        std::to_string(input_size) + "x" + std::to_string(input_size) +
        " here); set train.auxiliary_weight = 0");
}

at::Tensor AuxiliaryHeadImpl::forward(const at::Tensor& x) {
  at::Tensor y = at::relu(x);
  // 5x5 windows to a 2x2 map as the reference's (8x8, stride 3); smaller maps pool to 2x2.
  y = y.size(2) >= 6 ? at::avg_pool2d(y, 5, pool_stride_, 0, false, false)
                     : at::adaptive_avg_pool2d(y, {2, 2});
  y = at::relu(batch_norm(bn1_, conv1_(y)));
  y = at::relu(batch_norm(bn2_, conv2_(y)));
  return classifier_(y.flatten(1));
}

EvalNetwork::EvalNetwork(const Genotype& genotype, const DataShape& shape,
                         EvalNetworkOptions options)
    : genotype_(genotype), shape_(shape), options_(options) {
  if (options_.channels < 1 || options_.layers < 3)
    throw ConfigError("the DARTS evaluation network needs channels >= 1 and layers >= 3 (got " +
                      std::to_string(options_.channels) + " and " +
                      std::to_string(options_.layers) + ")");
  int64_t c_curr = options_.stem_multiplier * options_.channels;
  stem_conv_ = register_module(
      "stem_conv", torch::nn::Conv2d(
                       torch::nn::Conv2dOptions(shape.channels, c_curr, 3).padding(1).bias(false)));
  stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(c_curr));
  int64_t c_prev_prev = c_curr, c_prev = c_curr;
  c_curr = options_.channels;
  bool reduction_prev = false;
  int64_t size = shape.height;
  const int64_t layers = options_.layers;
  for (int64_t i = 0; i < layers; ++i) {
    const bool reduction = i == layers / 3 || i == 2 * layers / 3;
    if (reduction) {
      c_curr *= 2;
      size = (size + 1) / 2;
    }
    const auto& edges = reduction ? genotype.reduce : genotype.normal;
    const auto& concat = reduction ? genotype.reduce_concat : genotype.normal_concat;
    cells_.push_back(register_module(
        "cell" + std::to_string(i),
        EvalCell(edges, concat, c_prev_prev, c_prev, c_curr, reduction, reduction_prev)));
    reduction_prev = reduction;
    c_prev_prev = c_prev;
    c_prev = cells_.back()->out_channels();
    if (i == 2 * layers / 3 && options_.auxiliary) {
      auxiliary_after_ = i;
      // Registered under kAuxiliaryPrefix so parameter counts can leave it out.
      auxiliary_ = register_module("auxiliary", AuxiliaryHead(c_prev, shape.classes, size));
    }
  }
  classifier_ = register_module("classifier", torch::nn::Linear(c_prev, shape.classes));
}

void EvalNetwork::preprocess_for_readers(const at::Tensor& state,
                                         const std::vector<std::pair<size_t, int>>& readers,
                                         std::vector<std::array<at::Tensor, 2>>& inputs) {
  std::vector<std::shared_ptr<ReLUConvBNImpl>> together;
  std::vector<at::Tensor*> outputs;
  for (const auto& [cell, slot] : readers) {
    if (cell >= cells_.size()) continue;
    if (const ReLUConvBN layer = cells_[cell]->relu_conv_bn(slot)) {
      together.push_back(layer.ptr());
      outputs.push_back(&inputs[cell][static_cast<size_t>(slot)]);
    } else {
      inputs[cell][static_cast<size_t>(slot)] = cells_[cell]->preprocess(slot, state);
    }
  }
  const std::vector<at::Tensor> results = relu_conv_bn_together(together, state);
  for (size_t i = 0; i < results.size(); ++i) *outputs[i] = results[i];
}

std::pair<at::Tensor, at::Tensor> EvalNetwork::run(const at::Tensor& images, bool auxiliary) {
  const at::Tensor x = channels_last(images);
  at::Tensor state = batch_norm(stem_bn_, stem_conv_(x)), aux;
  // Each state is read by the next cell (as s1) and the one after (as s0); the stem's by
  // both inputs of the first cell and s0 of the second. Its preprocessing for all of them
  // runs when it is made.
  std::vector<std::array<at::Tensor, 2>> inputs(cells_.size());
  preprocess_for_readers(state, {{0, 0}, {0, 1}, {1, 0}}, inputs);
  for (size_t i = 0; i < cells_.size(); ++i) {
    state = cells_[i]->forward_preprocessed(inputs[i][0], inputs[i][1], drop_prob_, generator_);
    inputs[i] = {};
    preprocess_for_readers(state, {{i + 1, 1}, {i + 2, 0}}, inputs);
    if (static_cast<int64_t>(i) == auxiliary_after_ && auxiliary && is_training())
      aux = auxiliary_(state);
  }
  return {classifier_(global_average_pool(state)), aux};
}

std::pair<at::Tensor, at::Tensor> EvalNetwork::forward_with_auxiliary(const at::Tensor& images) {
  return run(images, true);
}

at::Tensor EvalNetwork::forward(const at::Tensor& images) { return run(images, false).first; }

void EvalNetwork::set_drop_path(double probability, at::Generator generator) {
  drop_prob_ = probability;
  generator_ = std::move(generator);
}

namespace {

/// The reference's name of each nasx child module whose name differs (cnn/model.py and
/// cnn/operations.py: nn.Sequential indices count the ReLUs, which hold no tensors).
std::string reference_child(const std::string& parent, const std::string& child) {
  static const std::map<std::string, std::map<std::string, std::string>> renames = {
      {"EvalNetwork",
       {{"stem_conv", "stem.0"}, {"stem_bn", "stem.1"}, {"auxiliary", "auxiliary_head"}}},
      {"ReLUConvBNImpl", {{"conv", "op.1"}, {"bn", "op.2"}}},
      {"SepConvImpl",
       {{"depthwise_1", "op.1"},
        {"pointwise_1", "op.2"},
        {"bn_1", "op.3"},
        {"depthwise_2", "op.5"},
        {"pointwise_2", "op.6"},
        {"bn_2", "op.7"}}},
      {"DilConvImpl", {{"depthwise", "op.1"}, {"pointwise", "op.2"}, {"bn", "op.3"}}},
      {"AuxiliaryHeadImpl",
       {{"conv1", "features.2"},
        {"bn1", "features.3"},
        {"conv2", "features.5"},
        {"bn2", "features.6"}}},
  };
  const std::string cls = parent.substr(parent.rfind(':') + 1);
  if (cls == "EvalNetwork" && child.rfind("cell", 0) == 0) return "cells." + child.substr(4);
  if (cls == "EvalCellImpl" && child.rfind("op", 0) == 0) return "_ops." + child.substr(2);
  const auto table = renames.find(cls);
  if (table == renames.end()) return child;
  const auto name = table->second.find(child);
  return name == table->second.end() ? child : name->second;
}

}  // namespace

std::string EvalNetwork::reference_module() const {
  std::string text = "NetworkCIFAR(C=" + std::to_string(options_.channels) +
                     ", num_classes=" + std::to_string(shape_.classes) +
                     ", layers=" + std::to_string(options_.layers) +
                     ", auxiliary=" + (options_.auxiliary ? "True" : "False") +
                     ", genotype=" + genotype_.str() +
                     ") of the DARTS reference implementation (cnn/model.py)";
  if (shape_.channels != 3)
    text += ", with its stem's first Conv2d taking " + std::to_string(shape_.channels) +
            " input channel" + (shape_.channels == 1 ? "" : "s") + " instead of 3";
  if (options_.stem_multiplier != 3)
    text += ", stem_multiplier " + std::to_string(options_.stem_multiplier);
  return text;
}

std::string EvalNetwork::reference_python() const {
  return "# In the DARTS reference's cnn/ folder (the stem's Conv2d edited for " +
         std::to_string(shape_.channels) +
         " input channel(s) if not 3):\n"
         "from genotypes import Genotype\n"
         "from model import NetworkCIFAR\n"
         "genotype = eval(open(\"genotype.txt\").read(), {\"Genotype\": Genotype, \"range\": "
         "range})\n"
         "model = NetworkCIFAR(" +
         std::to_string(options_.channels) + ", " + std::to_string(shape_.classes) + ", " +
         std::to_string(options_.layers) + ", " + (options_.auxiliary ? "True" : "False") +
         ", genotype)\n"
         "model.load_state_dict(state, strict=True)\n"
         "model.eval()\n"
         "model.drop_path_prob = 0.0  # its forward reads it\n"
         "with torch.no_grad():\n"
         "    logits, _ = model(example[\"images\"])  # (logits, None) in eval mode\n";
}

NamedTensors EvalNetwork::reference_state_dict() const {
  return renamed_state_dict(*this, reference_child);
}

}  // namespace nasx::darts
