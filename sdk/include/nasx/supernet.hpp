#pragma once

#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "nasx/export.hpp"
#include "nasx/genotype.hpp"

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

  /// The alphas, one [edges, ops] tensor per cell type ("normal", "reduce").
  virtual std::vector<at::Tensor> arch_parameters() = 0;
  virtual std::vector<std::string> cell_types() const = 0;

  /// Every trainable parameter that is not an architecture parameter.
  virtual std::vector<at::Tensor> weight_parameters() = 0;

  /// The architecture weights forward() uses: softmax of each alpha row.
  std::vector<at::Tensor> arch_weights();

  /// The genotype the current alphas stand for, by magnitude (argmax) derivation.
  virtual Genotype derive_genotype() = 0;

  virtual const SearchSpace& space() const = 0;
};

}  // namespace nasx
