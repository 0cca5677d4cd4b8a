#pragma once
/// The NAS-Bench-201 search network and space (reference: D-X-Y/AutoDL-Projects,
/// cell_searchs/search_cells.py and search_model_darts.py).

#include <map>
#include <memory>
#include <vector>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "nasx/space.hpp"
#include "nasx/supernet.hpp"
#include "nb201/arch.hpp"
#include "nb201/network.hpp"

namespace nasx::nb201 {

/// ReLU -> k x k convolution with bias -> BatchNorm without affine parameters: the
/// search network's nor_conv (the reference sets bias = not affine).
class SearchConvImpl : public torch::nn::Module {
 public:
  SearchConvImpl(int64_t channels, int64_t kernel);
  at::Tensor forward(const at::Tensor& x);
  const torch::nn::Conv2d& conv() const { return conv_; }
  const torch::nn::BatchNorm2d& bn() const { return bn_; }

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
};
TORCH_MODULE(SearchConv);

/// A searchable cell: every edge holds all 5 operations; node i = sum over j < i of
/// sum_k w[edge, k] op_k(node j); output node 3. The mixed forward runs the edges that
/// leave one node together (their convolutions concatenated, one mixture pass); the
/// modules stay one per edge and operation, as the single path and checkpoints see them.
class SearchCellImpl : public torch::nn::Module {
 public:
  explicit SearchCellImpl(int64_t channels);
  /// `weights`: [6, 5].
  at::Tensor forward(const at::Tensor& x, const at::Tensor& weights);
  /// Edge outputs several single paths through one cell on the same x share: the edges
  /// on x by (edge, op), the edges on node 1 by (edge, node 1's op, op).
  using EdgeMemo = std::map<std::vector<int>, at::Tensor>;
  /// Single path: only operation ops[e] on edge e. With `memo` (the same x on every
  /// call), the edges on x and on node 1 are computed once each.
  at::Tensor forward_path(const at::Tensor& x, const std::vector<int>& ops,
                          EdgeMemo* memo = nullptr);

 private:
  at::Tensor apply(int64_t edge, int op, const at::Tensor& x);
  /// The convolutions `convs` of every edge leaving node `source`, on its ReLU, as one
  /// convolution and one BatchNorm call: [B, edges·C, H, W], edge by edge.
  at::Tensor convolve_from(const std::vector<SearchConv>& convs, int64_t source,
                           const at::Tensor& activated);
  std::vector<SearchConv> conv_1x1_, conv_3x3_;  // one per edge
};
TORCH_MODULE(SearchCell);

/// The NB201 supernet: the benchmark's skeleton (stem, 3 stages of N cells joined by
/// residual blocks, head) with searchable cells sharing one alpha of 6 x 5.
class Nb201Supernet : public Supernet {
 public:
  Nb201Supernet(const SearchSpace& space, const SpaceOptions& options, const DataShape& shape);

  at::Tensor forward(const at::Tensor& images) override;
  at::Tensor forward_with_weights(const at::Tensor& images,
                                  const std::vector<at::Tensor>& weights) override;
  at::Tensor forward_path(const at::Tensor& images, const Architecture& arch) override;
  /// The stem once, the first cell's edges on its input and on node 1 once each; the
  /// rest child by child.
  std::vector<at::Tensor> forward_paths(const at::Tensor& images,
                                        const std::vector<Architecture>& archs) override;
  std::vector<at::Tensor> arch_parameters() override { return {alpha_}; }
  std::vector<at::Tensor> weight_parameters() override;
  const SearchSpace& space() const override { return space_; }

 private:
  at::Tensor stem(const at::Tensor& images);
  /// The cells (through `cell_fn(cell, x)`), residual blocks and head on the stem's output.
  template <typename CellFn>
  at::Tensor run(const at::Tensor& stem_out, CellFn cell_fn);

  const SearchSpace& space_;
  bool channels_last_;
  torch::nn::Conv2d stem_conv_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  std::vector<SearchCell> cells_;
  std::vector<ResidualBlock> blocks_;  // after stage 1 and stage 2
  int64_t cells_per_stage_;
  torch::nn::BatchNorm2d head_bn_{nullptr};
  torch::nn::Linear classifier_{nullptr};
  at::Tensor alpha_;
};

/// The NAS-Bench-201 cell space (C = 16 and N = 5 cells per stage by default).
class Nb201Space : public SearchSpace {
 public:
  static ParamSchema schema();
  Nb201Space();
  explicit Nb201Space(SpaceOptions options);
  void setup(const ParamValues& params) override;
  const SpaceOptions& options() const { return options_; }
  /// One cell type; every edge of the 3 nodes kept, one of the 5 operations each.
  std::vector<CellDecisions> decisions() const override;
  /// The benchmark's training: C=16, N=5, 200 epochs, batch 256, lr 0.1 Nesterov.
  TrainingProtocol training_protocol() const override;
  std::string name() const override { return "nb201"; }
  const std::vector<std::string>& operations() const override { return operation_names(); }
  std::vector<std::string> cell_types() const override { return {"cell"}; }
  int64_t edges_per_cell() const override { return kEdges; }
  std::shared_ptr<Supernet> build_supernet(const DataShape& shape) const override;
  /// The benchmark's network (affine BatchNorm, bias-free convolutions).
  std::shared_ptr<nasx::Network> build_network(const Architecture& arch, const DataShape& shape,
                                               int64_t channels, int64_t layers) const override;
  Architecture parse(std::string_view text) const override;
  std::string format(const Architecture& arch) const override;
  Json json(const Architecture& arch) const override;
  void check(const Architecture& arch) const override;
  Architecture sample(std::mt19937_64& rng) const override;
  /// One edge uniformly, a different operation on it.
  Architecture mutate(const Architecture& arch, std::mt19937_64& rng) const override;
  /// The 24 cells one operation away.
  std::vector<Architecture> neighbours(const Architecture& arch) const override;
  /// Argmax per edge over all 5 operations, `none` included; every edge kept.
  Architecture derive(const std::vector<at::Tensor>& weights) const override;

 private:
  void configure(SpaceOptions options);
  SpaceOptions options_;
};

/// The cell as an Architecture of the NB201 space, and back.
Architecture to_architecture(const Arch& arch);
Arch to_arch(const Architecture& arch);

}  // namespace nasx::nb201
