#pragma once
/// The NAS-Bench-201 network for one cell (the benchmark's TinyNetwork): stem, three
/// stages of N cells at C, 2C, 4C joined by residual reduction blocks, and a head.

#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "darts/ops.hpp"
#include "nasx/data.hpp"
#include "nasx/export.hpp"
#include "nasx/pytorch_reference.hpp"
#include "nasx/space.hpp"
#include "nb201/arch.hpp"

namespace nasx::nb201 {

/// How the network is sized; the benchmark's values are the defaults.
struct NetworkOptions {
  int64_t channels = 16;        ///< C of the first stage
  int64_t cells_per_stage = 5;  ///< N
};

/// One cell with fixed operations: node i = sum over j < i of op_{i<-j}(node j); the
/// output is node 3. `none` edges are left out of the sums (a node with only `none`
/// inputs is zero).
class InferCellImpl : public torch::nn::Module {
 public:
  InferCellImpl(const Arch& arch, int64_t channels);
  at::Tensor forward(const at::Tensor& x);

 private:
  Arch arch_;
  std::vector<darts::ReLUConvBN> convs_;  // one per edge; null where the edge is no conv
};
TORCH_MODULE(InferCell);

/// in -> out at stride 2: ReLU-conv3x3(stride 2)-BN, ReLU-conv3x3-BN, plus a shortcut of
/// 2x2 average pooling and a 1x1 convolution; no ReLU after the sum.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(int64_t c_in, int64_t c_out);
  at::Tensor forward(const at::Tensor& x);

 private:
  darts::ReLUConvBN a_{nullptr}, b_{nullptr};
  torch::nn::Conv2d shortcut_{nullptr};
};
TORCH_MODULE(ResidualBlock);

/// The network of one NAS-Bench-201 cell for data of `shape` (affine BatchNorm,
/// bias-free convolutions, as the benchmark trains it). Exported under the names of the
/// benchmark's TinyNetwork (stem.0, cells.5.conv_a.op.1, cells.0.layers.3.op.2, lastact.0).
class Network : public nasx::Network, public nasx::PytorchReference {
 public:
  Network(const Arch& arch, const DataShape& shape, NetworkOptions options = {});
  at::Tensor forward(const at::Tensor& images) override;
  std::string reference_module() const override;
  NamedTensors reference_state_dict() const override;
  std::string reference_python() const override;

 private:
  Arch arch_;
  DataShape shape_;
  NetworkOptions options_;
  torch::nn::Conv2d stem_conv_{nullptr};
  torch::nn::BatchNorm2d stem_bn_{nullptr};
  std::vector<torch::nn::AnyModule> body_;  // cells and residual blocks in order
  torch::nn::BatchNorm2d head_bn_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};

}  // namespace nasx::nb201
