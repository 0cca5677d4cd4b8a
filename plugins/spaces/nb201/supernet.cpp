#include "nb201/supernet.hpp"

#include <array>

#include <ATen/ATen.h>

#include "darts/avg_pool.hpp"
#include "darts/mixture.hpp"
#include "nasx/batch_norm_blocks.hpp"
#include "nasx/distributed.hpp"
#include "nasx/error.hpp"
#include "nasx/memory_format.hpp"

namespace nasx::nb201 {

namespace {

const int kNone = 0, kSkip = 1, kConv1x1 = 2, kConv3x3 = 3, kAvgPool = 4;
/// The edges leaving node 0, 1 and 2, in edge order (edge e: node i <- node j, i = 1..3).
const std::array<std::vector<int64_t>, 3> kEdgesFrom = {{{0, 1, 3}, {2, 4}, {5}}};
const std::array<int, kEdges> kEdgeTarget = {1, 2, 2, 3, 3, 3};

}  // namespace

SearchConvImpl::SearchConvImpl(int64_t c, int64_t kernel)
    : conv_(register_module(
          "conv", torch::nn::Conv2d(
                      torch::nn::Conv2dOptions(c, c, kernel).padding(kernel / 2).bias(true)))),
      bn_(register_module(
          "bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(c).affine(false)))) {}

at::Tensor SearchConvImpl::forward(const at::Tensor& x) {
  return batch_norm(bn_, conv_(at::relu(x)));
}

SearchCellImpl::SearchCellImpl(int64_t c) {
  for (int edge = 0; edge < kEdges; ++edge) {
    conv_1x1_.push_back(
        register_module("edge_" + std::to_string(edge) + "_nor_conv_1x1", SearchConv(c, 1)));
    conv_3x3_.push_back(
        register_module("edge_" + std::to_string(edge) + "_nor_conv_3x3", SearchConv(c, 3)));
  }
}

at::Tensor SearchCellImpl::apply(int64_t edge, int op, const at::Tensor& x) {
  switch (op) {
    case kNone:
      return at::zeros_like(x);
    case kSkip:
      return x;
    case kConv1x1:
      return conv_1x1_[static_cast<size_t>(edge)](x);
    case kConv3x3:
      return conv_3x3_[static_cast<size_t>(edge)](x);
    case kAvgPool:
      return darts::avg_pool_3x3(x, 1);
    default:
      TORCH_CHECK(false, "NB201 edge: no operation ", op);
  }
}

at::Tensor SearchCellImpl::convolve_from(const std::vector<SearchConv>& convs, int64_t source,
                                         const at::Tensor& activated) {
  const std::vector<int64_t>& edges = kEdgesFrom[static_cast<size_t>(source)];
  std::vector<at::Tensor> weights, biases;
  std::vector<torch::nn::BatchNorm2d> norms;
  for (int64_t e : edges) {
    const SearchConv& op = convs[static_cast<size_t>(e)];
    weights.push_back(op->conv()->weight);
    biases.push_back(op->conv()->bias);
    norms.push_back(op->bn());
  }
  // The edges read the same input: one convolution with their kernels (and biases: a
  // search convolution has one) side by side; stride 1, "same" padding, as each edge's.
  const int64_t kernel = weights.front().size(2);
  const at::Tensor y = at::conv2d(activated, at::cat(weights), at::cat(biases), 1, kernel / 2);
  return batch_norm_blocks(norms, y);
}

at::Tensor SearchCellImpl::forward(const at::Tensor& x, const at::Tensor& weights) {
  // Source by source, each node complete before its edges leave it: the ReLU (both
  // convolutions start with it), the pool and the identity once per source, the
  // convolutions of all its edges as one, then the edges' mixtures in one pass (`none`,
  // w·0, left out: its alpha still gets a gradient through the softmax). The targets
  // sum their edges in source order, as forward_path does.
  std::array<at::Tensor, 4> nodes = {x};
  const int64_t channels = x.size(1);
  for (int64_t source = 0; source < 3; ++source) {
    const at::Tensor& in = nodes[static_cast<size_t>(source)];
    const std::vector<int64_t>& edges = kEdgesFrom[static_cast<size_t>(source)];
    const at::Tensor activated = at::relu(in);
    const std::vector<at::Tensor> terms = {in, convolve_from(conv_1x1_, source, activated),
                                           convolve_from(conv_3x3_, source, activated),
                                           darts::avg_pool_3x3(in, 1)};
    // The edges' rows over the terms' operations (skip .. avg_pool, columns 1..4), taken
    // on the weights' device: no index tensor to copy there.
    std::vector<at::Tensor> rows;
    for (int64_t e : edges) rows.push_back(weights[e].narrow(0, kSkip, kAvgPool - kSkip + 1));
    const std::vector<at::Tensor> outputs = darts::weighted_mixture(
        at::stack(rows), terms, static_cast<int64_t>(edges.size()), channels);
    for (size_t i = 0; i < edges.size(); ++i) {
      at::Tensor& target = nodes[static_cast<size_t>(kEdgeTarget[static_cast<size_t>(edges[i])])];
      target = target.defined() ? target + outputs[i] : outputs[i];
    }
  }
  return nodes[3];
}

at::Tensor SearchCellImpl::forward_path(const at::Tensor& x, const std::vector<int>& ops,
                                        EdgeMemo* memo) {
  std::vector<at::Tensor> nodes = {x};
  int64_t edge = 0;
  for (int node = 1; node <= 3; ++node) {
    at::Tensor sum;
    for (int source = 0; source < node; ++source, ++edge) {
      const int op = ops[static_cast<size_t>(edge)];
      if (op == kNone) continue;
      auto compute = [&] { return apply(edge, op, nodes[static_cast<size_t>(source)]); };
      at::Tensor y;
      if (memo && source < 2) {
        // Node 1 is edge 0's operation on x: it names node 1 in the key.
        std::vector<int> key = {static_cast<int>(edge), op};
        if (source == 1) key.push_back(ops[0]);
        at::Tensor& kept = (*memo)[key];
        if (!kept.defined()) kept = compute();
        y = kept;
      } else {
        y = compute();
      }
      sum = sum.defined() ? sum + y : y;
    }
    nodes.push_back(sum.defined() ? sum : at::zeros_like(x));
  }
  return nodes.back();
}

Nb201Supernet::Nb201Supernet(const SearchSpace& space, const SpaceOptions& options,
                             const DataShape& shape)
    : space_(space),
      channels_last_(options.memory_format == "channels_last"),
      cells_per_stage_(options.layers) {
  const int64_t c = options.channels;
  stem_conv_ = register_module(
      "stem_conv",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(shape.channels, c, 3).padding(1).bias(false)));
  stem_bn_ = register_module("stem_bn", torch::nn::BatchNorm2d(c));
  int64_t channels = c;
  for (int stage = 0; stage < 3; ++stage) {
    if (stage > 0) {
      blocks_.push_back(register_module("reduce_" + std::to_string(stage),
                                        ResidualBlock(channels, 2 * channels)));
      channels *= 2;
    }
    for (int64_t i = 0; i < cells_per_stage_; ++i)
      cells_.push_back(register_module(
          "stage_" + std::to_string(stage) + "_cell_" + std::to_string(i), SearchCell(channels)));
  }
  head_bn_ = register_module("head_bn", torch::nn::BatchNorm2d(channels));
  classifier_ = register_module("classifier", torch::nn::Linear(channels, shape.classes));
  alpha_ = register_parameter("alpha", 1e-3 * at::randn({kEdges, kOperations}));
}

at::Tensor Nb201Supernet::stem(const at::Tensor& images) {
  const at::Tensor in = channels_last_ ? channels_last(images) : images;
  return batch_norm(stem_bn_, stem_conv_(in));
}

template <typename CellFn>
at::Tensor Nb201Supernet::run(const at::Tensor& stem_out, CellFn cell_fn) {
  at::Tensor x = stem_out;
  for (size_t i = 0; i < cells_.size(); ++i) {
    const auto stage_start = static_cast<size_t>(cells_per_stage_);
    if (i > 0 && i % stage_start == 0) x = blocks_[i / stage_start - 1](x);
    x = cell_fn(cells_[i], x);
  }
  return classifier_(at::relu(batch_norm(head_bn_, x)).mean({2, 3}));
}

at::Tensor Nb201Supernet::forward(const at::Tensor& images) {
  return forward_with_weights(images, arch_weights());
}

at::Tensor Nb201Supernet::forward_with_weights(const at::Tensor& images,
                                               const std::vector<at::Tensor>& weights) {
  TORCH_CHECK(weights.size() == 1, "NB201 supernet: expected 1 weight matrix, got ",
              weights.size());
  return run(stem(images),
             [&](SearchCell& cell, const at::Tensor& x) { return cell(x, weights[0]); });
}

at::Tensor Nb201Supernet::forward_path(const at::Tensor& images, const Architecture& arch) {
  space_.check(arch);
  return run(stem(images), [&](SearchCell& cell, const at::Tensor& x) {
    return cell->forward_path(x, arch.cells[0]);
  });
}

std::vector<at::Tensor> Nb201Supernet::forward_paths(const at::Tensor& images,
                                                     const std::vector<Architecture>& archs) {
  for (const Architecture& arch : archs) space_.check(arch);
  const at::Tensor stem_out = archs.empty() ? at::Tensor() : stem(images);
  SearchCellImpl::EdgeMemo first_cell;
  std::vector<at::Tensor> logits;
  logits.reserve(archs.size());
  for (const Architecture& arch : archs)
    logits.push_back(run(stem_out, [&](SearchCell& cell, const at::Tensor& x) {
      const bool first = cell.get() == cells_.front().get();
      return cell->forward_path(x, arch.cells[0], first ? &first_cell : nullptr);
    }));
  return logits;
}

std::vector<at::Tensor> Nb201Supernet::weight_parameters() {
  std::vector<at::Tensor> weights;
  for (const auto& item : named_parameters(/*recurse=*/true))
    if (item.key() != "alpha") weights.push_back(item.value());
  return weights;
}

Architecture to_architecture(const Arch& arch) {
  return Architecture{{std::vector<int>(arch.ops.begin(), arch.ops.end())}};
}

Arch to_arch(const Architecture& arch) {
  Arch cell;
  std::copy(arch.cells.at(0).begin(), arch.cells.at(0).end(), cell.ops.begin());
  return cell;
}

namespace {

const OptionsBinding<SpaceOptions>& binding() {
  static const auto b = [] {
    OptionsBinding<SpaceOptions> b;
    bind_space_options(b);
    return b;
  }();
  return b;
}

}  // namespace

ParamSchema Nb201Space::schema() { return binding().schema(); }

Nb201Space::Nb201Space() : Nb201Space(SpaceOptions{}) {}

Nb201Space::Nb201Space(SpaceOptions options) { configure(std::move(options)); }

void Nb201Space::setup(const ParamValues& params) { configure(binding().read(params)); }

void Nb201Space::configure(SpaceOptions options) {
  if (options.layers == 0) options.layers = 5;
  options_ = std::move(options);
}

std::vector<CellDecisions> Nb201Space::decisions() const {
  CellDecisions cell;
  cell.inputs = 1;
  cell.node_edges = {{0}, {1, 2}, {3, 4, 5}};      // edge_nodes(): 1<-0, 2<-0, 2<-1, 3<-0, ...
  cell.inputs_per_node = 0;                        // every edge kept; `none` is an operation
  cell.output = CellDecisions::Output::last_node;  // node 3 is the cell's output
  for (int64_t op = 0; op < static_cast<int64_t>(operation_names().size()); ++op)
    cell.operations.push_back(op);
  return {cell};
}

TrainingProtocol Nb201Space::training_protocol() const {
  // The benchmark's; the keys not set here are TrainOptions' defaults, which are its
  // (lr 0.1 cosine to 0, momentum 0.9 Nesterov, wd 5e-4).
  TrainingProtocol protocol;
  protocol.channels = 16;
  protocol.layers = 5;
  protocol.options.epochs = 200;
  protocol.options.batch_size = 256;
  protocol.options.grad_clip = 0.0;
  protocol.options.crop_padding = 4;
  protocol.options.flip = true;
  return protocol;
}

std::shared_ptr<Supernet> Nb201Space::build_supernet(const DataShape& shape) const {
  return std::make_shared<Nb201Supernet>(*this, options(), shape);
}

std::shared_ptr<nasx::Network> Nb201Space::build_network(const Architecture& arch,
                                                         const DataShape& shape, int64_t channels,
                                                         int64_t layers) const {
  check(arch);
  NetworkOptions sized;
  sized.channels = channels > 0 ? channels : options().channels;
  sized.cells_per_stage = layers > 0 ? layers : options().layers;
  return std::make_shared<Network>(to_arch(arch), shape, sized);
}

Architecture Nb201Space::parse(std::string_view text) const {
  return to_architecture(Arch::parse(text));
}

std::string Nb201Space::format(const Architecture& arch) const {
  check(arch);
  return to_arch(arch).str();
}

Json Nb201Space::json(const Architecture& arch) const {
  check(arch);
  Json cell = Json::array();
  for (int edge = 0; edge < kEdges; ++edge) {
    const int op = arch.cells[0][static_cast<size_t>(edge)];
    cell.push_back(
        Json::array({operation_names()[static_cast<size_t>(op)], edge_nodes(edge).second}));
  }
  return {{"cell", cell}};
}

void Nb201Space::check(const Architecture& arch) const {
  if (arch.cells.size() != 1 || arch.cells[0].size() != kEdges)
    throw GenotypeError("an NB201 architecture is one cell of 6 edges");
  for (int op : arch.cells[0])
    if (op < 0 || op >= kOperations)
      throw GenotypeError("NB201: every edge needs an operation 0..4, got " + std::to_string(op));
}

Architecture Nb201Space::sample(std::mt19937_64& rng) const {
  return to_architecture(Arch::sample(rng));
}

Architecture Nb201Space::mutate(const Architecture& arch, std::mt19937_64& rng) const {
  check(arch);
  return to_architecture(to_arch(arch).mutate(rng));
}

std::vector<Architecture> Nb201Space::neighbours(const Architecture& arch) const {
  check(arch);
  std::vector<Architecture> out;
  for (const Arch& cell : to_arch(arch).neighbours()) out.push_back(to_architecture(cell));
  return out;
}

Architecture Nb201Space::derive(const std::vector<at::Tensor>& weights) const {
  if (weights.size() != 1)
    throw GenotypeError("NB201 derivation: expected 1 weight matrix, got " +
                        std::to_string(weights.size()));
  const at::Tensor best = weights[0].detach().argmax(1).to(at::kCPU, at::kLong).contiguous();
  Architecture arch{{std::vector<int>(kEdges)}};
  for (int edge = 0; edge < kEdges; ++edge)
    arch.cells[0][static_cast<size_t>(edge)] = static_cast<int>(best[edge].item<int64_t>());
  return arch;
}

}  // namespace nasx::nb201
