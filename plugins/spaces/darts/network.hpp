#pragma once
/// The DARTS evaluation network (the reference's NetworkCIFAR): the found cells stacked
/// into a deeper, wider network that is trained from scratch. Affine BatchNorm, drop
/// path on the non-identity operations, an auxiliary head after the cell at 2/3 depth.

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "darts/genotype.hpp"
#include "darts/ops.hpp"
#include "nasx/data.hpp"
#include "nasx/export.hpp"
#include "nasx/pytorch_reference.hpp"
#include "nasx/space.hpp"

namespace nasx::darts {

/// How the evaluation network is sized; the reference's CIFAR-10 values are the defaults.
struct EvalNetworkOptions {
  int64_t channels = 36;  ///< C of the first cells
  int64_t layers = 20;    ///< cells; reductions at layers/3 and 2*layers/3
  int64_t stem_multiplier = 3;
  bool auxiliary = true;  ///< build the auxiliary head (used only in training)
};

/// One cell with the genotype's 8 operations: node i sums its two chosen edges; the
/// output concatenates the `concat` states.
class EvalCellImpl : public torch::nn::Module {
 public:
  EvalCellImpl(const std::vector<GenotypeEdge>& edges, const std::vector<int>& concat,
               int64_t c_prev_prev, int64_t c_prev, int64_t channels, bool reduction,
               bool reduction_prev);
  /// `drop_prob` > 0 (training only) drops each non-identity operation's output per
  /// sample with that probability, rescaling the kept ones; masks come from `generator`.
  at::Tensor forward(const at::Tensor& s0, const at::Tensor& s1, double drop_prob,
                     at::Generator generator);
  /// forward(), given the two inputs already preprocessed: `p0` = preprocess(0, s0), `p1` =
  /// preprocess(1, s1).
  at::Tensor forward_preprocessed(const at::Tensor& p0, const at::Tensor& p1, double drop_prob,
                                  at::Generator generator);
  /// Input `slot` (0: s0, 1: s1) brought to the cell's channels (and, for s0 after a
  /// reduction, its resolution).
  at::Tensor preprocess(int slot, const at::Tensor& state);
  /// The layer that preprocess(slot) runs when it is a ReLU-conv-BN (else empty), for a
  /// caller that runs it together with others reading the same state.
  ReLUConvBN relu_conv_bn(int slot) const { return preprocess_[slot]; }
  int64_t out_channels() const;

 private:
  std::vector<GenotypeEdge> edges_;
  std::vector<int> concat_;
  int64_t channels_;
  ReLUConvBN preprocess_[2] = {nullptr, nullptr};
  FactorizedReduce reduce_preprocess0_{nullptr};  // s0 after a reduction cell
  std::vector<torch::nn::AnyModule> ops_;
  std::vector<bool> identity_;  // ops that drop path leaves alone
  std::vector<int> same_as_;    // an earlier edge whose output is this one's, or -1
};
TORCH_MODULE(EvalCell);

/// The reference's AuxiliaryHeadCIFAR: ReLU, 5x5 average pooling to 2x2, 1x1 conv to
/// 128 + BN + ReLU, 2x2 conv to 768 + BN + ReLU, linear. On the reference's 8x8 input
/// the pooling stride is 3; on other sizes it is chosen so the output is still 2x2
/// (7x7 on 28x28 Fashion-MNIST: stride 2), which leaves the parameter count unchanged.
class AuxiliaryHeadImpl : public torch::nn::Module {
 public:
  AuxiliaryHeadImpl(int64_t channels, int64_t classes, int64_t input_size);
  at::Tensor forward(const at::Tensor& x);

 private:
  int64_t pool_stride_;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(AuxiliaryHead);

/// The evaluation network of `genotype` for data of `shape`. Exported under the names of
/// the reference's NetworkCIFAR (stem.0, cells.3._ops.2.op.1, auxiliary_head.features.2, ...).
class EvalNetwork : public nasx::Network, public nasx::PytorchReference {
 public:
  EvalNetwork(const Genotype& genotype, const DataShape& shape, EvalNetworkOptions options = {});
  at::Tensor forward(const at::Tensor& images) override;
  std::pair<at::Tensor, at::Tensor> forward_with_auxiliary(const at::Tensor& images) override;
  void set_drop_path(double probability, at::Generator generator) override;
  std::string reference_module() const override;
  NamedTensors reference_state_dict() const override;
  std::string reference_python() const override;

 private:
  std::pair<at::Tensor, at::Tensor> run(const at::Tensor& images, bool auxiliary);
  /// The preprocessing of `state` by each reader (cell, slot) that exists, into
  /// inputs[cell][slot]; the ReLU-conv-BN ones together.
  void preprocess_for_readers(const at::Tensor& state,
                              const std::vector<std::pair<size_t, int>>& readers,
                              std::vector<std::array<at::Tensor, 2>>& inputs);

  Genotype genotype_;
  DataShape shape_;
  EvalNetworkOptions options_;
  torch::nn::Conv2d stem_conv_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  std::vector<EvalCell> cells_;
  AuxiliaryHead auxiliary_{nullptr};
  int64_t auxiliary_after_ = -1;  // the cell the auxiliary head reads
  torch::nn::Linear classifier_{nullptr};
  double drop_prob_ = 0;
  at::Generator generator_;
};

}  // namespace nasx::darts
