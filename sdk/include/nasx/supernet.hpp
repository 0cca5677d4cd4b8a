#pragma once

#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "nasx/architecture.hpp"
#include "nasx/export.hpp"

namespace nasx {

class SearchSpace;

/// A weight-sharing network over a whole search space. Architecture parameters
/// (alphas) and weights are registered parameters of the module, so `parameters()`,
/// `named_parameters()` and serialization cover both; the two groups are also
/// available separately for the bilevel optimisation.
class NASX_API Supernet : public torch::nn::Module {
 public:
  ~Supernet() override;

  /// Logits [batch, classes] with the current architecture weights (softmax of alphas).
  virtual at::Tensor forward(const at::Tensor& images) = 0;

  /// Logits with explicit architecture weights, one [edges, ops] tensor per cell type
  /// (same order as arch_parameters()).
  virtual at::Tensor forward_with_weights(const at::Tensor& images,
                                          const std::vector<at::Tensor>& weights) = 0;

  /// Logits of one architecture with the shared weights: only the chosen operation of
  /// each present edge is computed (single path, as ENAS and random search with weight
  /// sharing train and evaluate). Equal to forward_with_weights with one-hot weights.
  virtual at::Tensor forward_path(const at::Tensor& images, const Architecture& arch) = 0;

  /// Logits of each of `archs` on the same images, in order: forward_path of each, bit
  /// for bit, but a space may compute once what several of them share (the stem, and in
  /// the first cell the edges whose input and operation agree), which is what ranking
  /// many children on the shared weights spends its time on. The default calls
  /// forward_path for each in turn. Meant for evaluation: what is shared stays in memory
  /// until the call returns (in the shipped spaces up to a few dozen activations of the
  /// first cell's size), and with gradients on the children share one graph, so
  /// backpropagate the sum of their losses, not each loss on its own.
  virtual std::vector<at::Tensor> forward_paths(const at::Tensor& images,
                                                const std::vector<Architecture>& archs);

  /// The alphas, one [edges, ops] tensor per cell type (SearchSpace::cell_types()).
  virtual std::vector<at::Tensor> arch_parameters() = 0;
  std::vector<std::string> cell_types() const;

  /// Every trainable parameter that is not an architecture parameter.
  virtual std::vector<at::Tensor> weight_parameters() = 0;

  /// The architecture weights forward() uses: softmax of each alpha row.
  std::vector<at::Tensor> arch_weights();

  /// The architecture the current alphas stand for, by magnitude (argmax) derivation.
  Architecture derive_architecture();

  /// One-hot architecture weights of `arch` (rows of left-out edges all zero), on the
  /// alphas' device and dtype.
  std::vector<at::Tensor> one_hot_weights(const Architecture& arch);

  virtual const SearchSpace& space() const = 0;
};

}  // namespace nasx
