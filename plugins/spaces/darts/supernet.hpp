#pragma once
/// The DARTS search network (reference: quark0/darts, model_search.py).

#include <memory>
#include <string>
#include <vector>

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>

#include "darts/genotype.hpp"
#include "darts/ops.hpp"
#include "nasx/space.hpp"
#include "nasx/supernet.hpp"

namespace nasx::darts {

constexpr int64_t kNodes = 4;   ///< intermediate nodes per cell
constexpr int64_t kEdges = 14;  ///< 2 + 3 + 4 + 5 mixed edges per cell

/// Every mixed edge that leaves one state of a cell, computed together.
///
/// Mathematically each edge is the reference's MixedOp, sum_k softmax(alpha)_k op_k(x).
/// Computed as the reference does, a normal cell at C=8 runs ~600 small kernels; here
/// the edges leaving a state share what is the same for all of them — the ReLU, both
/// pools with their parameter-free BatchNorm, the identity — and their convolutions
/// run side by side as grouped convolutions (one kernel per layer for all edges).
/// `none` adds zeros and is not computed (its alpha still gets its gradient through
/// the softmax). Weights and their count are those of separate edges.
class EdgeGroupImpl : public torch::nn::Module {
 public:
  EdgeGroupImpl(int64_t channels, int64_t edges, int64_t stride);
  /// `weights`: [edges, 8], one row per edge in order. Returns [batch, edges, C, H', W'],
  /// edge e's output in [:, e].
  at::Tensor forward(const at::Tensor& x, const at::Tensor& weights);
  /// Operation `op` of edge `edge` alone (single path): equal to edge `edge`'s output of
  /// forward() with a one-hot row for `op`.
  at::Tensor forward_edge(const at::Tensor& x, int64_t edge, int64_t op);

 private:
  int64_t channels_, edges_, stride_;
  PoolBN max_pool_{nullptr}, avg_pool_{nullptr};
  FactorizedReduce skip_reduce_{nullptr};  // skip_connect at stride 2
  SepConv sep_3_{nullptr}, sep_5_{nullptr};
  DilConv dil_3_{nullptr}, dil_5_{nullptr};
};
TORCH_MODULE(EdgeGroup);

/// A search cell: preprocessing of s0 and s1, 4 nodes over 14 mixed edges, the
/// nodes concatenated on channels (4C).
class SearchCellImpl : public torch::nn::Module {
 public:
  SearchCellImpl(int64_t c_prev_prev, int64_t c_prev, int64_t channels, bool reduction,
                 bool reduction_prev);
  /// `weights`: [14, 8] for this cell's type.
  at::Tensor forward(const at::Tensor& s0, const at::Tensor& s1, const at::Tensor& weights);
  /// Single path: `ops[e]` is the operation of edge e, or Architecture::kNoEdge.
  at::Tensor forward_path(const at::Tensor& s0, const at::Tensor& s1, const std::vector<int>& ops);
  bool reduction() const { return reduction_; }

 private:
  bool reduction_;
  FactorizedReduce preprocess_0_reduce_{nullptr};  // when the previous cell reduced
  ReLUConvBN preprocess_0_{nullptr};
  ReLUConvBN preprocess_1_{nullptr};
  std::vector<EdgeGroup> groups_;  // one per state that feeds a node: s0, s1, nodes 0..2
  // Per state, the rows of the [14, 8] weights its edges use; built once, moved to
  // the weights' device on first use (no host-to-device copy inside a step).
  std::vector<at::Tensor> group_rows_;
};
TORCH_MODULE(SearchCell);

/// The DARTS search network: stem, `layers` cells (reductions at layers/3 and
/// 2*layers/3), global average pooling, linear classifier; two alpha matrices
/// (normal, reduce) of 14 x 8 shared by all cells of their type.
class DartsSupernet : public Supernet {
 public:
  DartsSupernet(const SearchSpace& space, const SpaceOptions& options, const DataShape& shape);

  at::Tensor forward(const at::Tensor& images) override;
  at::Tensor forward_with_weights(const at::Tensor& images,
                                  const std::vector<at::Tensor>& weights) override;
  at::Tensor forward_path(const at::Tensor& images, const Architecture& arch) override;
  std::vector<at::Tensor> arch_parameters() override;
  std::vector<at::Tensor> weight_parameters() override;
  const SearchSpace& space() const override { return space_; }

 private:
  at::Tensor stem(const at::Tensor& images);

  const SearchSpace& space_;
  bool channels_last_;
  torch::nn::Conv2d stem_conv_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  std::vector<SearchCell> cells_;
  torch::nn::Linear classifier_{nullptr};
  at::Tensor alpha_normal_, alpha_reduce_;
};

/// Magnitude derivation from architecture weights (softmax of alphas), [14, 8] each:
/// per node the 2 incoming edges with the strongest non-`none` operation, that
/// operation on each, strongest edge first.
Genotype derive_genotype(const at::Tensor& normal_weights, const at::Tensor& reduce_weights);

/// Index of the edge into node `node` (0..3) from state `input` (0 = s0, 1 = s1,
/// 2.. = earlier nodes), in the reference's order.
int64_t edge_index(int64_t node, int64_t input);

/// A genotype as an Architecture of the DARTS space and back (edges of a node in
/// input order). Throws GenotypeError for what the space cannot hold: a node taking
/// one input twice, `none` as a chosen operation, a concat other than nodes 2..5.
Architecture to_architecture(const Genotype& genotype);
Genotype to_genotype(const Architecture& arch);

/// The DARTS cell space (8 cells by default; layers >= 3).
class DartsSpace : public SearchSpace {
 public:
  static ParamSchema schema();
  DartsSpace();
  explicit DartsSpace(SpaceOptions options);
  void setup(const ParamValues& params) override;
  const SpaceOptions& options() const { return options_; }
  std::string name() const override { return "darts"; }
  const std::vector<std::string>& operations() const override;
  std::vector<std::string> cell_types() const override { return {"normal", "reduce"}; }
  int64_t edges_per_cell() const override { return kEdges; }
  /// Per node two of its 2 + i edges (from s0, s1 and the earlier nodes), each with an
  /// operation other than `none`; both cell types alike.
  std::vector<CellDecisions> decisions() const override;
  /// The reference's final training: C=36, 20 cells, 600 epochs, lr 0.025, auxiliary
  /// 0.4, drop path 0.2, cutout 16.
  TrainingProtocol training_protocol() const override;
  std::shared_ptr<Supernet> build_supernet(const DataShape& shape) const override;
  /// The evaluation network of `arch` (darts/network.hpp: EvalNetwork).
  std::shared_ptr<Network> build_network(const Architecture& arch, const DataShape& shape,
                                         int64_t channels, int64_t layers) const override;
  Architecture parse(std::string_view text) const override;
  std::string format(const Architecture& arch) const override;
  Json json(const Architecture& arch) const override;
  void check(const Architecture& arch) const override;
  /// Per node two distinct inputs and a non-`none` operation on each, uniformly.
  Architecture sample(std::mt19937_64& rng) const override;
  /// One cell type, node and edge uniformly; then with probability 1/2 a different
  /// operation, else a different input not already used by the node (Real et al.).
  Architecture mutate(const Architecture& arch, std::mt19937_64& rng) const override;
  /// Every other non-`none` operation on each present edge: 2 x 8 x 6 = 96.
  std::vector<Architecture> neighbours(const Architecture& arch) const override;
  Architecture derive(const std::vector<at::Tensor>& weights) const override;

 private:
  void configure(SpaceOptions options);
  SpaceOptions options_;
};

}  // namespace nasx::darts
