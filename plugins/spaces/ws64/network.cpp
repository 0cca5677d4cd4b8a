#include "ws64/network.hpp"

#include <ATen/ATen.h>

#include "nasx/distributed.hpp"
#include "nasx/memory_format.hpp"

namespace nasx::ws64 {

namespace {

const int kMaxPool = 0;

std::array<int, kEdges> ops_of(const Architecture& arch) {
  std::array<int, kEdges> ops{};
  std::copy(arch.cells.at(0).begin(), arch.cells.at(0).end(), ops.begin());
  return ops;
}

}  // namespace

CellImpl::CellImpl(int64_t c_in, int64_t c, const std::array<std::vector<int>, kEdges>& held,
                   bool affine)
    : preprocess_(register_module("preprocess", darts::ReLUConvBN(c_in, c, 1, 1, 0, affine))) {
  for (int edge = 0; edge < kEdges; ++edge)
    for (int op : held[static_cast<size_t>(edge)]) {
      const std::string& name = operation_names()[static_cast<size_t>(op)];
      // The search network follows pooling with a BatchNorm (as DARTS' MixedOp), so
      // that its scale matches the convolutions' under mixed weights.
      torch::nn::AnyModule module =
          (op == kMaxPool && !affine)
              ? torch::nn::AnyModule(darts::PoolBN(darts::PoolBNImpl::Kind::Max, c, 1, true, false))
              : darts::make_operation(name, c, 1, affine);
      register_module("edge_" + std::to_string(edge) + "_" + name, module.ptr());
      ops_[static_cast<size_t>(edge)][static_cast<size_t>(op)] = std::move(module);
    }
}

at::Tensor CellImpl::apply(int edge, int op, const at::Tensor& x) {
  torch::nn::AnyModule& module = ops_[static_cast<size_t>(edge)][static_cast<size_t>(op)];
  TORCH_CHECK(!module.is_empty(), "ws64 cell: edge ", edge, " does not hold operation ", op);
  return module.forward(x);
}

at::Tensor CellImpl::forward_path(const at::Tensor& input, const std::array<int, kEdges>& ops) {
  const at::Tensor x0 = preprocess_(input);
  const at::Tensor node1 = apply(0, ops[0], x0);
  const at::Tensor node2 = apply(1, ops[1], x0) + apply(2, ops[2], node1);
  return at::cat({node1, node2}, 1);
}

at::Tensor CellImpl::forward_mixed(const at::Tensor& input, const at::Tensor& weights) {
  const at::Tensor x0 = preprocess_(input);
  auto mixed = [&](int edge, const at::Tensor& x) {
    at::Tensor sum;
    for (int op = 0; op < kOperations; ++op) {
      at::Tensor y = apply(edge, op, x) * weights[edge][op];
      sum = sum.defined() ? sum + y : y;
    }
    return sum;
  };
  const at::Tensor node1 = mixed(0, x0);
  const at::Tensor node2 = mixed(1, x0) + mixed(2, node1);
  return at::cat({node1, node2}, 1);
}

BodyImpl::BodyImpl(const DataShape& shape, int64_t c, int64_t cells,
                   const std::array<std::vector<int>, kEdges>& held, bool affine,
                   bool channels_last)
    : channels_last_(channels_last) {
  const int64_t stem = 3 * c;
  using torch::nn::Conv2dOptions;
  stem_conv_1_ = register_module(
      "stem_conv_1",
      torch::nn::Conv2d(Conv2dOptions(shape.channels, stem, 3).padding(1).bias(false)));
  stem_bn_1_ = register_module("stem_bn_1", torch::nn::BatchNorm2d(stem));
  stem_conv_2_ = register_module(
      "stem_conv_2", torch::nn::Conv2d(Conv2dOptions(stem, stem, 3).padding(1).bias(false)));
  stem_bn_2_ = register_module("stem_bn_2", torch::nn::BatchNorm2d(stem));
  int64_t c_in = stem;
  for (int64_t i = 0; i < cells; ++i) {
    cells_.push_back(register_module("cell_" + std::to_string(i), Cell(c_in, c, held, affine)));
    c_in = 2 * c;
  }
  classifier_ = register_module("classifier", torch::nn::Linear(c_in, shape.classes));
}

at::Tensor BodyImpl::stem(const at::Tensor& images) {
  const at::Tensor in = channels_last_ ? channels_last(images) : images;
  const at::Tensor x = at::relu(batch_norm(stem_bn_1_, stem_conv_1_(in)));
  return batch_norm(stem_bn_2_, stem_conv_2_(x));
}

ChildNetwork::ChildNetwork(const Child& child, const DataShape& shape, int64_t channels,
                           int64_t cells)
    : child_(child) {
  std::array<std::vector<int>, kEdges> held;
  for (int edge = 0; edge < kEdges; ++edge)
    held[static_cast<size_t>(edge)] = {child.ops[static_cast<size_t>(edge)]};
  body_ = register_module("body", Body(shape, channels, cells, held, /*affine=*/true,
                                       /*channels_last=*/true));
}

at::Tensor ChildNetwork::forward(const at::Tensor& images) {
  return body_->run(
      images, [&](Cell& cell, const at::Tensor& x) { return cell->forward_path(x, child_.ops); });
}

Ws64Supernet::Ws64Supernet(const SearchSpace& space, const SpaceOptions& options,
                           const DataShape& shape)
    : space_(space) {
  std::array<std::vector<int>, kEdges> held;
  for (auto& ops : held) ops = {0, 1, 2, 3};
  body_ = register_module("body", Body(shape, options.channels, options.layers, held,
                                       /*affine=*/false, options.memory_format == "channels_last"));
  alpha_ = register_parameter("alpha", 1e-3 * at::randn({kEdges, kOperations}));
}

at::Tensor Ws64Supernet::forward(const at::Tensor& images) {
  return forward_with_weights(images, arch_weights());
}

at::Tensor Ws64Supernet::forward_with_weights(const at::Tensor& images,
                                              const std::vector<at::Tensor>& weights) {
  TORCH_CHECK(weights.size() == 1, "ws64 supernet: expected 1 weight matrix, got ", weights.size());
  return body_->run(
      images, [&](Cell& cell, const at::Tensor& x) { return cell->forward_mixed(x, weights[0]); });
}

at::Tensor Ws64Supernet::forward_path(const at::Tensor& images, const Architecture& arch) {
  space_.check(arch);
  const std::array<int, kEdges> ops = ops_of(arch);
  return body_->run(images,
                    [&](Cell& cell, const at::Tensor& x) { return cell->forward_path(x, ops); });
}

std::vector<at::Tensor> Ws64Supernet::forward_paths(const at::Tensor& images,
                                                    const std::vector<Architecture>& archs) {
  for (const Architecture& arch : archs) space_.check(arch);
  std::vector<Cell>& cells = body_->cells();
  if (archs.empty()) return {};
  if (cells.empty()) return Supernet::forward_paths(images, archs);
  // Every child's first cell reads the same stem output: its preprocessing, the edges on
  // x0 (by operation) and node 1's edge (by the two operations it follows) are computed
  // on first use and kept; the sums are forward_path's, in its order, so the same bits.
  Cell& first = cells.front();
  const at::Tensor x0 = first->preprocess(body_->stem(images));
  std::array<at::Tensor, kOperations> node1, edge1;                    // by ops[0]; by ops[1]
  std::array<std::array<at::Tensor, kOperations>, kOperations> edge2;  // by ops[0], ops[2]
  auto once = [](at::Tensor& slot, const auto& compute) -> const at::Tensor& {
    if (!slot.defined()) slot = compute();
    return slot;
  };
  std::vector<at::Tensor> logits;
  logits.reserve(archs.size());
  for (const Architecture& arch : archs) {
    const std::array<int, kEdges> ops = ops_of(arch);
    const at::Tensor& n1 = once(node1[ops[0]], [&] { return first->apply(0, ops[0], x0); });
    const at::Tensor& a = once(edge1[ops[1]], [&] { return first->apply(1, ops[1], x0); });
    const at::Tensor& b = once(edge2[ops[0]][ops[2]], [&] { return first->apply(2, ops[2], n1); });
    at::Tensor x = at::cat({n1, a + b}, 1);
    for (size_t i = 1; i < cells.size(); ++i) x = cells[i]->forward_path(x, ops);
    logits.push_back(body_->head(x));
  }
  return logits;
}

std::vector<at::Tensor> Ws64Supernet::weight_parameters() {
  std::vector<at::Tensor> weights;
  for (const auto& item : named_parameters(/*recurse=*/true))
    if (item.key() != "alpha") weights.push_back(item.value());
  return weights;
}

}  // namespace nasx::ws64
