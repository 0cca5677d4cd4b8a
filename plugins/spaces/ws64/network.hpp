#pragma once
/// The networks of the 64-child space: a stem of two 3x3 convolutions with BatchNorm
/// (3C channels), `cells` identical cells without reduction, global average pooling and
/// a linear classifier. A cell reads the previous cell's output through ReLU-conv1x1-BN
/// (x0), computes node 1 = op(x0) and node 2 = op(x0) + op(node 1), and outputs the two
/// nodes concatenated (2C channels), as the reference code does.

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "darts/ops.hpp"
#include "nasx/data.hpp"
#include "nasx/space.hpp"
#include "nasx/supernet.hpp"
#include "ws64/child.hpp"

namespace nasx::ws64 {

/// One cell holding, on each edge, the operations `held[edge]` (indices into
/// operation_names()): all four in the supernet, the child's one in a network.
class CellImpl : public torch::nn::Module {
 public:
  CellImpl(int64_t c_in, int64_t c, const std::array<std::vector<int>, kEdges>& held, bool affine);
  /// Operation ops[e] on edge e (it must be held).
  at::Tensor forward_path(const at::Tensor& input, const std::array<int, kEdges>& ops);
  /// The parts of forward_path, for a caller that shares them between children.
  at::Tensor preprocess(const at::Tensor& input) { return preprocess_(input); }
  at::Tensor apply(int edge, int op, const at::Tensor& x);
  /// Every operation of every edge weighted by `weights` [3, 4] (the supernet's).
  at::Tensor forward_mixed(const at::Tensor& input, const at::Tensor& weights);

 private:
  darts::ReLUConvBN preprocess_{nullptr};
  std::array<std::array<torch::nn::AnyModule, kOperations>, kEdges> ops_;
};
TORCH_MODULE(Cell);

/// Stem, cells and head, run with a cell function: what the supernet and the networks share.
class BodyImpl : public torch::nn::Module {
 public:
  BodyImpl(const DataShape& shape, int64_t channels, int64_t cells,
           const std::array<std::vector<int>, kEdges>& held, bool affine, bool channels_last);

  template <typename CellFn>
  at::Tensor run(const at::Tensor& images, CellFn cell_fn) {
    at::Tensor x = stem(images);
    for (Cell& cell : cells_) x = cell_fn(cell, x);
    return head(x);
  }

  at::Tensor stem(const at::Tensor& images);
  std::vector<Cell>& cells() { return cells_; }
  /// Global average pooling and the classifier.
  at::Tensor head(const at::Tensor& x) { return classifier_(x.mean({2, 3})); }

 private:
  bool channels_last_;
  torch::nn::Conv2d stem_conv_1_{nullptr}, stem_conv_2_{nullptr};
  torch::nn::BatchNorm2d stem_bn_1_{nullptr}, stem_bn_2_{nullptr};
  std::vector<Cell> cells_;
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(Body);

/// The standalone network of one child (affine BatchNorm).
class ChildNetwork : public nasx::Network {
 public:
  ChildNetwork(const Child& child, const DataShape& shape, int64_t channels, int64_t cells);
  at::Tensor forward(const at::Tensor& images) override;

 private:
  Child child_;
  Body body_{nullptr};
};

/// The weight-sharing network of all 64 children: every edge holds the 4 operations
/// (BatchNorm without affine parameters, pooling followed by BatchNorm, as DARTS'
/// search network), one alpha of [3, 4].
class Ws64Supernet : public nasx::Supernet {
 public:
  Ws64Supernet(const SearchSpace& space, const SpaceOptions& options, const DataShape& shape);
  at::Tensor forward(const at::Tensor& images) override;
  at::Tensor forward_with_weights(const at::Tensor& images,
                                  const std::vector<at::Tensor>& weights) override;
  at::Tensor forward_path(const at::Tensor& images, const Architecture& arch) override;
  /// The stem once for all children; in the first cell the preprocessing, node 1 and the
  /// edge on x0 once per operation, node 2's edge from node 1 once per (op0, op2); then
  /// each child's remaining cells.
  std::vector<at::Tensor> forward_paths(const at::Tensor& images,
                                        const std::vector<Architecture>& archs) override;
  std::vector<at::Tensor> arch_parameters() override { return {alpha_}; }
  std::vector<at::Tensor> weight_parameters() override;
  const SearchSpace& space() const override { return space_; }

 private:
  const SearchSpace& space_;
  Body body_{nullptr};
  at::Tensor alpha_;
};

}  // namespace nasx::ws64
