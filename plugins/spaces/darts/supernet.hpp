#pragma once
/// The DARTS search network (reference: quark0/darts, model_search.py).

#include <map>
#include <memory>
#include <string>
#include <tuple>
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
  /// `operations`: the operations of the space (indices into operation_names(),
  /// ascending; all 8 by default); only theirs are built and computed.
  EdgeGroupImpl(int64_t channels, int64_t edges, int64_t stride,
                std::vector<int64_t> operations = all_operations());
  /// `weights`: [edges, operations], one row per edge in order, one column per
  /// operation of the space. Returns each edge's output, [batch, C, H', W'].
  std::vector<at::Tensor> forward(const at::Tensor& x, const at::Tensor& weights);
  /// Column `column` of edge `edge` alone (single path): equal to edge `edge`'s output
  /// of forward() with a one-hot row for that column.
  at::Tensor forward_edge(const at::Tensor& x, int64_t edge, int64_t column);

  /// 0, 1, ..., 7: every DARTS operation.
  static std::vector<int64_t> all_operations();

 private:
  int64_t channels_, edges_, stride_;
  std::vector<int64_t> operations_;  // column -> index into operation_names()
  std::vector<int64_t> column_;      // index into operation_names() -> column, or -1
  at::Tensor term_columns_;          // the computed operations' columns, in forward's order
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
                 bool reduction_prev,
                 const std::vector<int64_t>& operations = EdgeGroupImpl::all_operations());
  /// `weights`: [14, operations] for this cell's type.
  at::Tensor forward(const at::Tensor& s0, const at::Tensor& s1, const at::Tensor& weights);
  /// What several single paths through one cell on the same s0 and s1 share: the
  /// preprocessed inputs and the edges on them, each kept from its first use.
  struct InputMemo {
    std::vector<at::Tensor> states;  ///< preprocessed s0, s1 (empty until first use)
    std::map<std::tuple<int64_t, int64_t, int>, at::Tensor> edges;  ///< (input, node, op)
  };
  /// Single path: `ops[e]` is the operation column of edge e, or Architecture::kNoEdge.
  /// With `memo` (the same s0 and s1 on every call), the work on the inputs is shared.
  at::Tensor forward_path(const at::Tensor& s0, const at::Tensor& s1, const std::vector<int>& ops,
                          InputMemo* memo = nullptr);
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
/// (normal, reduce) of 14 x |operations| shared by all cells of their type.
class DartsSupernet : public Supernet {
 public:
  /// `operations`: the space's operations (indices into operation_names(), ascending).
  DartsSupernet(const SearchSpace& space, const SpaceOptions& options, const DataShape& shape,
                const std::vector<int64_t>& operations = EdgeGroupImpl::all_operations());

  at::Tensor forward(const at::Tensor& images) override;
  at::Tensor forward_with_weights(const at::Tensor& images,
                                  const std::vector<at::Tensor>& weights) override;
  at::Tensor forward_path(const at::Tensor& images, const Architecture& arch) override;
  /// The stem once, and in the first cell the preprocessing and the edges on its inputs
  /// once per (input, node, operation); the rest child by child.
  std::vector<at::Tensor> forward_paths(const at::Tensor& images,
                                        const std::vector<Architecture>& archs) override;
  std::vector<at::Tensor> arch_parameters() override;
  std::vector<at::Tensor> weight_parameters() override;
  const SearchSpace& space() const override { return space_; }

 private:
  at::Tensor stem(const at::Tensor& images);
  /// The cells and the head of one path on the stem's output; the first cell shares its
  /// work on the inputs through `first_cell` when given.
  at::Tensor path_from_stem(const at::Tensor& stem_out, const Architecture& arch,
                            SearchCellImpl::InputMemo* first_cell);

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

/// The [space] options of the DARTS space: the shared ones and its operations.
struct DartsSpaceOptions : SpaceOptions {
  /// Comma-separated names of the operations the space keeps, a subset of the eight
  /// (empty: all). DARTS-PT searches without `none`; RobustDARTS' S2 is
  /// "skip_connect, sep_conv_3x3".
  std::string operations;
};

/// The DARTS cell space (8 cells by default; layers >= 3), with all eight operations
/// or the subset [space] operations names. Architectures index the subset (alpha
/// columns, in operation_names() order); the free functions above speak all eight.
class DartsSpace : public SearchSpace {
 public:
  static ParamSchema schema();
  DartsSpace();
  explicit DartsSpace(SpaceOptions options);
  explicit DartsSpace(DartsSpaceOptions options);
  void setup(const ParamValues& params) override;
  const SpaceOptions& options() const { return options_; }
  std::string name() const override { return "darts"; }
  /// The space's operations (all eight, or the configured subset, in canonical order).
  const std::vector<std::string>& operations() const override { return names_; }
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
  /// Every other non-`none` operation on each present edge: 2 x 8 x 6 = 96 with all
  /// eight operations.
  std::vector<Architecture> neighbours(const Architecture& arch) const override;
  Architecture derive(const std::vector<at::Tensor>& weights) const override;

  /// `arch` with operation_names() indices instead of columns, and back (GenotypeError
  /// for an operation the space does not have).
  Architecture to_all_operations(const Architecture& arch) const;
  Architecture from_all_operations(const Architecture& arch) const;

 private:
  void configure(DartsSpaceOptions options);
  /// A chosen (non-`none`) column other than `current`, uniformly.
  int other_choice(std::mt19937_64& rng, int current) const;
  DartsSpaceOptions options_;
  std::vector<int64_t> operations_;  // column -> index into operation_names()
  std::vector<std::string> names_;   // column -> name
  std::vector<int> choices_;         // the columns a kept edge may take (all but `none`)
};

}  // namespace nasx::darts
